// Package unattended holds the decisions rebuild-smart --unattended makes
// when a systemd timer starts it and nobody watches: how long to wait first
// (a randomized delay, so a fleet does not hit its git remote and binary
// cache in the same second), whether to activate with boot instead of
// switch, and whether a person's manual rebuild is running right now.
//
// What is detected, kept simple on purpose:
//   - the config asks for boot (unattended.boot);
//   - NixOS switch inhibitors (system.switch.inhibitors): the toplevel's
//     switch-inhibitors file is a JSON object; when a key present in both the
//     running and the new system has a different value, switch-to-configuration
//     refuses to switch, so boot is used instead (as comin does);
//   - a manual nixos-rebuild, nh os or switch-to-configuration process (read
//     from /proc): the unattended run steps aside rather than racing it. A
//     person's rebuild-smart is already excluded by the shared rebuild lock.
//
// systemd-inhibit locks are not consulted: they block shutdown and sleep,
// not activation.
package unattended

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// Delay returns a random wait in [0, max) from rnd, which returns a
// non-negative number below its argument (math/rand's Int63n). Injected so
// tests are deterministic. max <= 0 means no delay.
func Delay(max time.Duration, rnd func(n int64) int64) time.Duration {
	if max <= 0 || rnd == nil {
		return 0
	}
	d := time.Duration(rnd(int64(max)))
	if d < 0 || d >= max {
		return 0 // a misbehaving source never makes the wait longer than max
	}
	return d
}

// Sleep waits d or until ctx ends (SIGTERM from systemd stopping the unit),
// whichever comes first; it returns ctx's error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Change is one switch inhibitor whose value differs between the running
// system and the new one.
type Change struct {
	Name, Old, New string
}

func (c Change) String() string { return fmt.Sprintf("%s (%s -> %s)", c.Name, c.Old, c.New) }

// InhibitorsFile is the file in a NixOS toplevel listing its switch
// inhibitors.
const InhibitorsFile = "switch-inhibitors"

// ReadInhibitors reads toplevel/switch-inhibitors. A system without the file
// (older NixOS, or no inhibitors) returns nil and no error; a file that is
// not a JSON object of strings is an error naming it.
func ReadInhibitors(toplevel string) (map[string]string, error) {
	if toplevel == "" {
		return nil, nil
	}
	p := filepath.Join(toplevel, InhibitorsFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of strings: %w", p, err)
	}
	return m, nil
}

// CompareInhibitors returns the inhibitors present in both systems whose
// values differ, sorted by name. An inhibitor added or removed by the new
// system does not block the switch (nixpkgs compares only common keys).
func CompareInhibitors(current, next map[string]string) []Change {
	var out []Change
	for k, old := range current {
		if nv, ok := next[k]; ok && nv != old {
			out = append(out, Change{Name: k, Old: old, New: nv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Choice is what ChooseAction decides from.
type Choice struct {
	Requested  string   // switch, boot, test, build (from the flags)
	Unattended bool     // --unattended
	ConfigBoot bool     // unattended.boot
	Inhibited  []Change // CompareInhibitors(running, new)
}

// ErrInhibited means a test activation is impossible: switch inhibitors
// changed and test, unlike switch, has no boot fallback.
var ErrInhibited = errors.New("switch inhibitors changed")

// ChooseAction returns the action to use and, when it differs from the one
// requested, the reason to print. Build is never changed. Switch becomes
// boot when unattended.boot applies or inhibitors changed (switch would be
// refused anyway); test with changed inhibitors is an error.
func ChooseAction(c Choice) (action, reason string, err error) {
	switch c.Requested {
	case "build", "boot", "dry-activate":
		return c.Requested, "", nil
	}
	if len(c.Inhibited) > 0 {
		names := make([]string, len(c.Inhibited))
		for i, ch := range c.Inhibited {
			names[i] = ch.String()
		}
		list := strings.Join(names, ", ")
		if c.Requested == "test" {
			return "", "", fmt.Errorf("%w: %s; `test` cannot activate this system live: use boot and reboot", ErrInhibited, list)
		}
		return "boot", "switch inhibitors changed (" + list + "): activating at the next boot instead of switching", nil
	}
	if c.Requested == "switch" && c.Unattended && c.ConfigBoot {
		return "boot", "unattended.boot is set: activating at the next boot", nil
	}
	return c.Requested, "", nil
}

// Process is a running rebuild found in /proc.
type Process struct {
	PID  int
	Argv []string
}

func (p Process) String() string { return fmt.Sprintf("pid %d: %s", p.PID, strings.Join(p.Argv, " ")) }

// rebuilding reports whether argv is a rebuild in progress. Wrappers run
// the real program through an interpreter or sudo, so every argument is
// checked for the program name, and the one after it for a mode that
// changes the system.
func rebuilding(argv []string) bool {
	for i, a := range argv {
		base := filepath.Base(a)
		// NixOS wraps programs as .<name>-wrapped.
		base = strings.TrimSuffix(strings.TrimPrefix(base, "."), "-wrapped")
		next := ""
		if i+1 < len(argv) {
			next = argv[i+1]
		}
		switch base {
		case "nixos-rebuild", "nixos-rebuild-ng":
			return activating(next)
		case "nh":
			return next == "os" && i+2 < len(argv) && activating(argv[i+2])
		case "switch-to-configuration":
			return activating(next)
		}
	}
	return false
}

func activating(mode string) bool {
	switch mode {
	case "switch", "boot", "test":
		return true
	}
	return false
}

// RunningRebuilds lists processes under procDir (normally /proc) whose
// command line is a nixos-rebuild, nh os or switch-to-configuration
// activation, except self (and its ancestors' own pid is never a rebuild).
// Unreadable entries (processes that just ended, other users' under
// hidepid) are skipped: this is a courtesy check, not a lock.
func RunningRebuilds(procDir string, self int) []Process {
	return RunningRebuildsOf(procDir, self, "")
}

// RunningRebuildsOf is RunningRebuilds for the machine whose system root is
// root (NIXDOTS_SYSTEM_ROOT): "" or "/" is this machine, every process
// counts; a test root (the suite's fakes) counts only the processes started
// for it, whose environment names that root, so parallel tests each see
// their own machine in the real /proc.
func RunningRebuildsOf(procDir string, self int, root string) []Process {
	var needle []byte
	if root != "" && filepath.Clean(root) != "/" {
		needle = []byte("\x00" + RootEnv + "=" + root + "\x00")
	}
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if !rebuilding(argv) {
			continue
		}
		if needle != nil {
			env, err := os.ReadFile(filepath.Join(procDir, e.Name(), "environ"))
			if err != nil || !bytes.Contains(append([]byte{0}, env...), needle) {
				continue
			}
		}
		{
			out = append(out, Process{PID: pid, Argv: argv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// UsesInhibitors reports whether the running system declares switch
// inhibitors at all. Only then is it worth realising the new toplevel before
// activating (an evaluated store path has no switch-inhibitors file until it
// is built) to compare the two with CompareInhibitors.
func UsesInhibitors(currentSystem string) bool {
	if currentSystem == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(currentSystem, InhibitorsFile))
	return err == nil
}

// ManualRebuildError is the unattended run stepping aside because a person
// is rebuilding by hand. Its exit code is 3, like a held lock: the next
// timer run tries again.
type ManualRebuildError struct{ Procs []Process }

func (e *ManualRebuildError) Error() string {
	names := make([]string, len(e.Procs))
	for i, p := range e.Procs {
		names[i] = p.String()
	}
	// The caller says what it does about it (rebuild-smart: the unattended
	// run steps aside and the next timer run tries again).
	return "a manual rebuild is running (" + strings.Join(names, "; ") + ")"
}

// ExitCode implements exitcode.Coder: 3, as for a held lock.
func (e *ManualRebuildError) ExitCode() int { return exitcode.Locked }

// RootEnv is the variable naming a test system root (nixsys.RootEnv).
const RootEnv = "NIXDOTS_SYSTEM_ROOT"

// CheckManual returns a *ManualRebuildError when RunningRebuilds finds one.
func CheckManual(procDir string, self int) error { return CheckManualOf(procDir, self, "") }

// CheckManualOf is CheckManual for the machine with system root root (see
// RunningRebuildsOf).
func CheckManualOf(procDir string, self int, root string) error {
	if ps := RunningRebuildsOf(procDir, self, root); len(ps) > 0 {
		return &ManualRebuildError{Procs: ps}
	}
	return nil
}
