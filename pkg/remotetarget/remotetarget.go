// Package remotetarget maps rebuild-smart's --target-host and --build-host
// onto the switch command, the way each tool understands them:
//
//	nh os switch <flake> -H <host> --target-host H --build-host B
//	nixos-rebuild switch --flake <flake>#<host> --target-host H --build-host B --use-remote-sudo
//
// and says what the phases that only make sense on this machine do for a
// remote target. Everything here is a pure function of its arguments, so it
// is tested with tables; the switch command itself is built by rebuild-smart.
package remotetarget

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Target is where the new system is activated and where it is built. The
// zero value is this machine for both.
type Target struct {
	TargetHost string // [user@]host activated over ssh; "" = this machine
	BuildHost  string // [user@]host that builds; "" = this machine (both tools build locally by default)
}

// Remote reports whether the activation happens on another machine.
func (t Target) Remote() bool { return t.TargetHost != "" }

// String names the target for messages: "this machine" or the host.
func (t Target) String() string {
	if !t.Remote() {
		return "this machine"
	}
	return t.TargetHost
}

// host is [user@]name where name is a DNS name, an IPv4 address or a
// bracketed IPv6 address. No spaces, no leading dash (it would be read as an
// ssh option), no shell metacharacters (they reach ssh's remote shell).
var hostRe = regexp.MustCompile(`^([A-Za-z0-9._][A-Za-z0-9._-]*@)?([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$`)

// Validate checks both hosts; a bad one is a usage error naming the flag.
func (t Target) Validate() error {
	for _, f := range []struct{ flag, v string }{{"--target-host", t.TargetHost}, {"--build-host", t.BuildHost}} {
		if f.v != "" && !hostRe.MatchString(f.v) {
			return exitcode.UsageError(fmt.Errorf("%s %q is not a host: want [user@]host, e.g. root@vm or alice@10.0.0.5", f.flag, f.v))
		}
	}
	return nil
}

// User returns the ssh user of a [user@]host ("" when not given: ssh's
// default, the local user or ~/.ssh/config's).
func User(host string) string {
	if u, _, ok := strings.Cut(host, "@"); ok {
		return u
	}
	return ""
}

// Sudo flags of nixos-rebuild for elevating on the target host.
const (
	// SudoLegacy is understood by the classic nixos-rebuild and, as a
	// deprecated alias, by nixos-rebuild-ng: the safe default.
	SudoLegacy = "--use-remote-sudo"
	// SudoNG is nixos-rebuild-ng's name (NixOS 25.05 and later).
	SudoNG = "--sudo"
)

// Options tune Apply.
type Options struct {
	// SudoFlag elevates on the target for nixos-rebuild; "" = SudoLegacy.
	SudoFlag string
}

// activates reports whether an nh / nixos-rebuild mode touches the target.
func activates(mode string) bool {
	switch mode {
	case "switch", "boot", "test", "dry-activate":
		return true
	}
	return false
}

// Apply turns a switch command built for this machine into one for t.
// It recognises the commands rebuild-smart builds:
//
//	nh os <mode> <flake> -H <host> ...
//	nixos-rebuild <mode> --flake <flake>#<host> ...
//	sudo nixos-rebuild <mode> ...
//
// For nh it appends --target-host and --build-host (nh copies the closure and
// elevates on the target itself). For nixos-rebuild it drops the local sudo
// (nothing is activated here; the nix daemon builds without root), appends
// --target-host and --build-host, and the remote sudo flag unless the target
// user is root. In build mode nothing is activated, so only --build-host is
// passed. The host attribute must already be explicit in c (-H / #host):
// for a remote target this machine's hostname is the wrong default.
// A command Apply does not recognise, or a local target, is returned as is.
func Apply(c runner.Cmd, t Target, o Options) runner.Cmd {
	if !t.Remote() && t.BuildHost == "" {
		return c
	}
	out := c
	out.Args = append([]string(nil), c.Args...)
	switch {
	case c.Name == "nh" && len(c.Args) >= 2 && c.Args[0] == "os":
		mode := c.Args[1]
		if t.Remote() && activates(mode) {
			out.Args = append(out.Args, "--target-host", t.TargetHost)
		}
		if t.BuildHost != "" {
			out.Args = append(out.Args, "--build-host", t.BuildHost)
		}
	case c.Name == "nixos-rebuild" || (c.Name == "sudo" && len(c.Args) > 0 && c.Args[0] == "nixos-rebuild"):
		if c.Name == "sudo" && t.Remote() {
			out.Name, out.Args = "nixos-rebuild", out.Args[1:]
		}
		mode := ""
		if out.Name == "nixos-rebuild" && len(out.Args) > 0 {
			mode = out.Args[0]
		} else if len(out.Args) > 1 {
			mode = out.Args[1]
		}
		if t.Remote() && activates(mode) {
			out.Args = append(out.Args, "--target-host", t.TargetHost)
		}
		if t.BuildHost != "" {
			out.Args = append(out.Args, "--build-host", t.BuildHost)
		}
		if t.Remote() && activates(mode) && User(t.TargetHost) != "root" {
			flag := o.SudoFlag
			if flag == "" {
				flag = SudoLegacy
			}
			out.Args = append(out.Args, flag)
		}
	}
	return out
}

// SudoFlagFor picks nixos-rebuild's remote-sudo flag from the text of
// `nixos-rebuild --help` (nixos-rebuild-ng prints its options; the classic
// script opens its man page instead, so its help text does not list --sudo).
func SudoFlagFor(helpText string) string {
	for _, f := range strings.Fields(helpText) {
		f = strings.Trim(f, "[],")
		if f == SudoNG || strings.HasPrefix(f, SudoNG+"=") {
			return SudoNG
		}
	}
	return SudoLegacy
}

// CurrentSystemCmd reads the target's running system over ssh, for the
// "nothing to switch" check: comparing with this machine's
// /run/current-system would be wrong for a remote target. BatchMode makes a
// missing key fail at once instead of prompting.
func CurrentSystemCmd(t Target) runner.Cmd {
	return Remote(t, `readlink -f "${NIXDOTS_SYSTEM_ROOT:-}/run/current-system"`)
}

// Phase names as rebuild-smart prints them.
const (
	PhasePrepare    = "Prepare"
	PhaseUpstream   = "Upstream sync"
	PhaseDotfiles   = "Dotfiles sync"
	PhaseSecrets    = "Secrets input"
	PhaseUpdate     = "Flake update"
	PhaseRebuild    = "Rebuild"
	PhasePostChecks = "Post-checks"
	PhaseCommit     = "Commit & push"
)

// PhasePlan says whether phase runs when the target is t, and the line to
// show for it. Phases that work on the flake repository run as usual (the
// repository is here); phases that look at this machine are skipped with the
// reason and what to do instead.
func PhasePlan(phase string, t Target) (run bool, note string) {
	if !t.Remote() {
		return true, ""
	}
	switch phase {
	case PhaseDotfiles:
		return false, fmt.Sprintf("skipped for remote target %s: dotfiles belong to each machine's users; %s syncs its own (chezmoi-sync timer, or `ssh %s chezmoi-sync`)", t.TargetHost, t.TargetHost, t.TargetHost)
	case PhasePostChecks:
		return false, fmt.Sprintf("skipped for remote target %s: the checks look at this machine; check the target with `ssh %s systemctl --failed`", t.TargetHost, t.TargetHost)
	case PhaseRebuild:
		return true, "activating on " + t.TargetHost + buildNote(t)
	case PhaseCommit:
		return true, "commit and push as usual; the history record names the target host"
	default:
		return true, ""
	}
}

func buildNote(t Target) string {
	if t.BuildHost == "" {
		return ""
	}
	return ", building on " + t.BuildHost
}
