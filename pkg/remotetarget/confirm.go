package remotetarget

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// Confirmed activation of a remote target (deploy-rs's "magic rollback").
//
// nh or nixos-rebuild first builds, copies and installs the new system as
// the target's boot default (their `boot`: profile and boot entry, nothing
// activated, the network untouched). Then the activation runs on the
// target inside a transient systemd unit (systemd-run), so it does not
// depend on the ssh session that started it: the unit activates the new
// system (switch-to-configuration test) and then waits for a confirmation
// file. The deploying machine confirms over a *new* ssh connection — proof
// that the new configuration still lets it in. No confirmation within the
// timeout (the network cut itself off, sshd did not come back, the
// deploying machine died): the unit puts back the profile generation and
// the boot entry that were there before and activates the system that ran
// before, by itself. A failed activation is rolled back at once.
//
// Every command is one shell script run over ssh. Paths are prefixed with
// $NIXDOTS_SYSTEM_ROOT, which is unset (empty) on a real target and names
// the target's simulated root in the tests, as everywhere in the suite.

// UnitPrefix names the transient units (nixdots-confirm-<id>.service) and
// their state directories (/run/nixdots/confirm-<id>).
const UnitPrefix = "nixdots-confirm-"

// States the unit writes to /run/nixdots/confirm-<id>/state.
const (
	StateActivating     = "activating"
	StateActivated      = "activated" // waiting for the confirmation
	StateConfirmed      = "confirmed"
	StateRollingBack    = "rolling-back"
	StateRolledBack     = "rolled-back"
	StateRollbackFailed = "rollback-failed"
)

// Final reports whether the unit has finished (nothing will change any
// more on the target).
func Final(state string) bool {
	return state == StateConfirmed || state == StateRolledBack || state == StateRollbackFailed
}

// confirmScript is the transient unit's program. Arguments: id, the new
// toplevel, the system that ran, the profile generation before, the
// timeout in seconds. It runs as root on the target.
const confirmScript = `id=$1 new=$2 prev=$3 prevgen=$4 timeout=$5
r=${NIXDOTS_SYSTEM_ROOT:-}
d=$r/run/nixdots/confirm-$id
profile=$r/nix/var/nix/profiles/system
export PATH="$PATH:/run/current-system/sw/bin"
mkdir -p "$d" || exit 1
say() { echo "$1" > "$d/state.tmp" && mv -f "$d/state.tmp" "$d/state"; }
rollback() {
  say rolling-back
  ok=0
  if [ "$prevgen" -gt 0 ]; then
    nix-env --profile "$profile" --switch-generation "$prevgen" || ok=1
    "$profile-$prevgen-link/bin/switch-to-configuration" boot || ok=1
  fi
  "$prev/bin/switch-to-configuration" test; rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || ok=1
  if [ "$ok" -eq 0 ]; then say rolled-back; else say rollback-failed; fi
  exit 1
}
say activating
"$new/bin/switch-to-configuration" test; rc=$?
echo "$rc" > "$d/activation-rc"
[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || rollback
say activated
i=0
while [ "$i" -lt "$timeout" ]; do
  if [ -e "$d/confirm" ]; then say confirmed; exit 0; fi
  sleep 1; i=$((i+1))
done
if [ -e "$d/confirm" ]; then say confirmed; exit 0; fi
rollback
`

// NewConfirmID returns a fresh unit id: time and randomness, so two
// deployments to one target never share a unit or a confirmation file.
func NewConfirmID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Seconds is a timeout in whole seconds, rounded up (the unit counts
// seconds), at least 1.
func Seconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// quote makes s one word for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Remote runs script (with args as $1...) as root on t's target over ssh:
// `ssh -o BatchMode=yes -o ConnectTimeout=10 -- host "[sudo] sh -c '...' sh args"`.
// BatchMode makes a missing key fail at once instead of prompting; a
// non-root ssh user goes through sudo, which must not ask (no terminal).
func Remote(t Target, script string, args ...string) runner.Cmd {
	return remoteCommand(t, append([]string{"sh", "-c", script, "sh"}, args...))
}

// remoteCommand runs argv as root on the target: ssh passes one string to
// the remote login shell, so every word is quoted for it.
func remoteCommand(t Target, argv []string) runner.Cmd {
	words := make([]string, 0, len(argv)+1)
	if User(t.TargetHost) != "root" {
		words = append(words, "sudo")
	}
	for _, a := range argv {
		words = append(words, quote(a))
	}
	return runner.Cmd{
		Name: "ssh",
		Args: []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", t.TargetHost, strings.Join(words, " ")},
	}
}

// TargetState is the target's system as ReadStateCmd reports it.
type TargetState struct {
	ProfileGen    int    // generation the system profile points at (0: none)
	ProfileSystem string // the toplevel that generation holds (boots next)
	Running       string // /run/current-system, resolved
}

// ReadStateCmd reads the target's profile generation, the system it holds
// and the running system.
func ReadStateCmd(t Target) runner.Cmd {
	return Remote(t, `r=${NIXDOTS_SYSTEM_ROOT:-}
readlink "$r/nix/var/nix/profiles/system" || echo none
readlink -f "$r/nix/var/nix/profiles/system" || echo none
readlink -f "$r/run/current-system" || echo none`)
}

// ParseState reads ReadStateCmd's three lines.
func ParseState(out string) (TargetState, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		return TargetState{}, fmt.Errorf("unexpected answer %q", out)
	}
	var s TargetState
	if l := strings.TrimSpace(lines[0]); l != "none" {
		name := l[strings.LastIndexByte(l, '/')+1:]
		num, ok := strings.CutPrefix(name, "system-")
		num, ok2 := strings.CutSuffix(num, "-link")
		n, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || n <= 0 {
			return TargetState{}, fmt.Errorf("the system profile points at %q, not a system-<N>-link", l)
		}
		s.ProfileGen = n
	}
	if l := strings.TrimSpace(lines[1]); l != "none" && s.ProfileGen > 0 {
		s.ProfileSystem = l
	}
	if l := strings.TrimSpace(lines[2]); l != "none" {
		s.Running = l
	}
	return s, nil
}

// ArmCmd starts the transient unit that activates newTop and rolls back
// to prev (running) and prevGen (profile) unless confirmed within timeout.
// systemd-run returns once the unit has started; the unit outlives the ssh
// connection.
func ArmCmd(t Target, id, newTop, prev string, prevGen int, timeout time.Duration) runner.Cmd {
	return remoteCommand(t, []string{"systemd-run", "--unit=" + UnitPrefix + id, "--collect", "--quiet",
		"--description=nixdots: activate " + newTop + ", roll back unless confirmed",
		"--", "/bin/sh", "-c", confirmScript, "nixdots-confirm",
		id, newTop, prev, strconv.Itoa(prevGen), strconv.Itoa(Seconds(timeout))})
}

// PollCmd reads the unit's state and, when the deployer may still confirm
// and the new system is active, confirms it in the same connection: that
// this connection was made at all is what the confirmation proves, so the
// deployer asks for it only over a connection made after an earlier poll
// saw the new system active (one made before could predate a network
// the new system cut). It
// prints "<state> <activation exit code>" (the code is "-" before the
// activation ended).
func PollCmd(t Target, id string, confirm bool) runner.Cmd {
	c := "0"
	if confirm {
		c = "1"
	}
	return Remote(t, `d=${NIXDOTS_SYSTEM_ROOT:-}/run/nixdots/confirm-$1
s=$(cat "$d/state" 2>/dev/null || echo unknown)
rc=$(cat "$d/activation-rc" 2>/dev/null || echo -)
if [ "$2" = 1 ] && [ "$s" = activated ]; then touch "$d/confirm"; fi
echo "$s $rc"`, id, c)
}

// ParsePoll reads PollCmd's "<state> <rc>" line; rc is -1 when unknown.
func ParsePoll(out string) (state string, rc int) {
	f := strings.Fields(out)
	if len(f) == 0 {
		return "unknown", -1
	}
	rc = -1
	if len(f) > 1 {
		if n, err := strconv.Atoi(f[1]); err == nil {
			rc = n
		}
	}
	return f[0], rc
}
