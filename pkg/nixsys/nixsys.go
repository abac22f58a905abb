// Package nixsys is the system side of a NixOS rebuild as the suite sees it:
// the system profile and its generations, the current and booted system, and
// activation through a toplevel's bin/switch-to-configuration. Everything is
// read relative to a root (env NIXDOTS_SYSTEM_ROOT, default "/") so tests and
// the fakes under internal/fakes work on a temporary tree laid out exactly
// like a real machine:
//
//	<root>/nix/var/nix/profiles/system -> system-<N>-link -> /nix/store/...-nixos-system-<host>
//	<root>/run/current-system          -> the active toplevel
//	<root>/run/booted-system           -> the toplevel the machine booted
//	<toplevel>/bin/switch-to-configuration switch|boot|test|dry-activate
//
// Reads are plain file-system calls. Changes (setting the profile, running
// switch-to-configuration) go through a runner.Runner marked Mutates, so
// --dry-run prints them, and through sudo when the process is not root.
package nixsys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// RootEnv names the environment variable holding the system root.
const RootEnv = "NIXDOTS_SYSTEM_ROOT"

// SudoEnv forces ("always") or forbids ("never") sudo for system changes;
// empty means: sudo exactly when the process is not root. Tests running as
// root set "always" to exercise the sudo path through the fake sudo.
const SudoEnv = "NIXDOTS_SUDO"

// Actions switch-to-configuration accepts.
const (
	ActionSwitch      = "switch"
	ActionBoot        = "boot"
	ActionTest        = "test"
	ActionDryActivate = "dry-activate"
)

// ExitUnitsFailed is switch-to-configuration's exit code for "the new
// configuration is active, but some units failed to start".
const ExitUnitsFailed = 4

// ErrNoGeneration is wrapped by errors about a generation whose profile link
// does not exist (never built, or garbage-collected).
var ErrNoGeneration = errors.New("no such generation")

// System is one machine's system side.
type System struct {
	// Root is prepended to every system path ("/" on a real machine).
	Root string
	// Runner runs the changing commands (nix-env, switch-to-configuration).
	Runner runner.Runner
	// Sudo prefixes changing commands with sudo.
	Sudo bool
	// Stdin is the terminal sudo may ask a password on (nil: none). The
	// changing commands are marked Interactive, so sudo can read it.
	Stdin io.Reader
}

// New returns the System for an environment: root from NIXDOTS_SYSTEM_ROOT
// (default "/"), sudo from NIXDOTS_SUDO or the effective uid.
func New(getenv func(string) string, r runner.Runner) *System {
	root := getenv(RootEnv)
	if root == "" {
		root = "/"
	}
	sudo := os.Geteuid() != 0
	switch getenv(SudoEnv) {
	case "always", "1", "true":
		sudo = true
	case "never", "0", "false":
		sudo = false
	}
	return &System{Root: root, Runner: r, Sudo: sudo}
}

// Path returns p (an absolute system path such as /run/current-system)
// under the root.
func (s *System) Path(p string) string { return filepath.Join(s.Root, p) }

// ProfilePath is the system profile link.
func (s *System) ProfilePath() string { return s.Path("/nix/var/nix/profiles/system") }

// CurrentSystemPath is the link to the active configuration.
func (s *System) CurrentSystemPath() string { return s.Path("/run/current-system") }

// BootedSystemPath is the link to the configuration the machine booted.
func (s *System) BootedSystemPath() string { return s.Path("/run/booted-system") }

// Generation is one system profile generation.
type Generation struct {
	Number   int       `json:"generation"`
	Link     string    `json:"link"`     // <root>/nix/var/nix/profiles/system-<N>-link
	Toplevel string    `json:"toplevel"` // what the link points at (a store path)
	Time     time.Time `json:"time"`     // when the link was made
	Current  bool      `json:"current"`  // the profile points at it (what boots next)
}

// Generations lists the profile's generations, oldest first. A machine
// without a profile yields an empty list and no error.
func (s *System) Generations() ([]Generation, error) {
	dir := filepath.Dir(s.ProfilePath())
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profiles %s: %w", dir, err)
	}
	cur, _ := s.profileNumber()
	var out []Generation
	for _, e := range entries {
		n, ok := ParseLinkName(e.Name())
		if !ok {
			continue
		}
		g, err := s.generationAt(n)
		if err != nil {
			continue // vanished between ReadDir and Lstat (a concurrent gc)
		}
		g.Current = n == cur
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// ParseLinkName parses "system-<N>-link" into N.
func ParseLinkName(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "system-")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "-link")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// LinkName is the profile link name of generation n.
func LinkName(n int) string { return fmt.Sprintf("system-%d-link", n) }

func (s *System) generationAt(n int) (Generation, error) {
	link := filepath.Join(filepath.Dir(s.ProfilePath()), LinkName(n))
	st, err := os.Lstat(link)
	if errors.Is(err, fs.ErrNotExist) {
		return Generation{}, fmt.Errorf("generation %d: %w (%s is missing; garbage-collected?)", n, ErrNoGeneration, link)
	}
	if err != nil {
		return Generation{}, fmt.Errorf("generation %d: %w", n, err)
	}
	target, err := os.Readlink(link)
	if err != nil {
		return Generation{}, fmt.Errorf("generation %d: %w", n, err)
	}
	return Generation{Number: n, Link: link, Toplevel: target, Time: st.ModTime()}, nil
}

// Generation returns generation n, or an error wrapping ErrNoGeneration.
func (s *System) Generation(n int) (Generation, error) {
	g, err := s.generationAt(n)
	if err != nil {
		return g, err
	}
	cur, _ := s.profileNumber()
	g.Current = n == cur
	return g, nil
}

// profileNumber is the generation the profile link points at.
func (s *System) profileNumber() (int, error) {
	target, err := os.Readlink(s.ProfilePath())
	if err != nil {
		return 0, err
	}
	n, ok := ParseLinkName(filepath.Base(target))
	if !ok {
		return 0, fmt.Errorf("system profile %s points at %s, not a system-<N>-link", s.ProfilePath(), target)
	}
	return n, nil
}

// CurrentGeneration is the generation the system profile points at (the one
// that boots next). No profile: an error wrapping fs.ErrNotExist.
func (s *System) CurrentGeneration() (Generation, error) {
	n, err := s.profileNumber()
	if err != nil {
		return Generation{}, fmt.Errorf("system profile: %w", err)
	}
	return s.Generation(n)
}

// CurrentSystem is the toplevel /run/current-system points at, resolved to
// its store path. "" and an error wrapping fs.ErrNotExist when missing.
func (s *System) CurrentSystem() (string, error) { return resolve(s.CurrentSystemPath()) }

// BootedSystem is the toplevel /run/booted-system points at.
func (s *System) BootedSystem() (string, error) { return resolve(s.BootedSystemPath()) }

// resolve follows a link chain to its final target without requiring the
// target to exist (a garbage-collected store path is still worth naming).
func resolve(link string) (string, error) {
	p := link
	for i := 0; i < 40; i++ {
		target, err := os.Readlink(p)
		if err != nil {
			if i > 0 && errors.Is(err, fs.ErrNotExist) || i > 0 && isNotLink(err) {
				return p, nil
			}
			return "", fmt.Errorf("%s: %w", link, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", link)
}

func isNotLink(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && errors.Is(pe.Err, errNotLink())
}

// GenerationOf returns the generation whose link points at toplevel, newest
// first; ok is false when none does.
func (s *System) GenerationOf(toplevel string) (Generation, bool) {
	gens, err := s.Generations()
	if err != nil {
		return Generation{}, false
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].Toplevel == toplevel {
			return gens[i], true
		}
	}
	return Generation{}, false
}

func (s *System) cmd(name string, args ...string) runner.Cmd {
	if s.Sudo {
		return runner.Cmd{Name: "sudo", Args: append([]string{name}, args...), Mutates: true, Interactive: true, Stdin: s.Stdin}
	}
	return runner.Cmd{Name: name, Args: args, Mutates: true}
}

// SetProfileToCmd makes toplevel a new generation of the system profile
// (or keeps the profile when it already points there), the way
// nixos-rebuild does before switch-to-configuration.
func (s *System) SetProfileToCmd(toplevel string) runner.Cmd {
	return s.cmd("nix-env", "--profile", s.ProfilePath(), "--set", toplevel)
}

// ActivateToplevel activates the built system toplevel with action, the way
// nixos-rebuild does it internally: for switch and boot the profile gets a
// generation first, then the toplevel's switch-to-configuration runs. A
// toplevel that is already the profile's current generation gets no new one.
func (s *System) ActivateToplevel(ctx context.Context, toplevel, action string) (runner.Result, error) {
	if action == ActionSwitch || action == ActionBoot {
		if s.Root != "/" {
			// A test root starts as empty as a fresh disk; a machine's "/"
			// always has its profiles directory (nix-env does not make it).
			_ = os.MkdirAll(filepath.Dir(s.ProfilePath()), 0o755)
		}
		if g, err := s.CurrentGeneration(); err != nil || g.Toplevel != toplevel {
			if res, err := s.Runner.Run(ctx, s.SetProfileToCmd(toplevel)); err != nil {
				return res, fmt.Errorf("setting the system profile: %w", err)
			}
		}
	}
	return s.Switch(ctx, toplevel, action)
}

// SetProfileCmd is the command that points the system profile at
// generation n (nix-env --switch-generation, the way nixos-rebuild
// --rollback does it), for plans and dry-run output.
func (s *System) SetProfileCmd(n int) runner.Cmd {
	return s.cmd("nix-env", "--profile", s.ProfilePath(), "--switch-generation", strconv.Itoa(n))
}

// SetProfile points the system profile at generation n. The generation must
// exist; nothing is changed otherwise.
func (s *System) SetProfile(ctx context.Context, n int) error {
	if _, err := s.Generation(n); err != nil {
		return err
	}
	_, err := s.Runner.Run(ctx, s.SetProfileCmd(n))
	return err
}

// SwitchCmd is the command that activates toplevel with action.
func (s *System) SwitchCmd(toplevel, action string) runner.Cmd {
	c := s.cmd(filepath.Join(toplevel, "bin", "switch-to-configuration"), action)
	// Real switch-to-configuration reads no root; the fake one needs it.
	c.Env = []string{RootEnv + "=" + s.Root}
	return c
}

// Switch runs toplevel's switch-to-configuration with action (switch, boot,
// test, dry-activate). Exit code 4 is returned as *UnitsFailedError: the
// configuration is active, some units failed.
func (s *System) Switch(ctx context.Context, toplevel, action string) (runner.Result, error) {
	switch action {
	case ActionSwitch, ActionBoot, ActionTest, ActionDryActivate:
	default:
		return runner.Result{}, fmt.Errorf("switch-to-configuration: unknown action %q", action)
	}
	res, err := s.Runner.Run(ctx, s.SwitchCmd(toplevel, action))
	if IsUnitsFailed(err) {
		return res, &UnitsFailedError{Err: err}
	}
	return res, err
}

// Activate sets the profile to generation n and runs its
// switch-to-configuration with action: the whole of "go back to generation
// n" for rebuild-rollback and --rollback-on-failure.
func (s *System) Activate(ctx context.Context, n int, action string) (runner.Result, error) {
	g, err := s.Generation(n)
	if err != nil {
		return runner.Result{}, err
	}
	if action != ActionTest && action != ActionDryActivate {
		if err := s.SetProfile(ctx, n); err != nil {
			return runner.Result{}, err
		}
	}
	return s.Switch(ctx, g.Toplevel, action)
}

// UnitsFailedError means the switch happened but some units failed.
type UnitsFailedError struct{ Err error }

func (e *UnitsFailedError) Error() string {
	return "switched, but some systemd units failed: " + e.Err.Error()
}
func (e *UnitsFailedError) Unwrap() error { return e.Err }

// IsUnitsFailed reports whether err is switch-to-configuration's (or a
// wrapper's: nixos-rebuild passes it through) exit code 4.
func IsUnitsFailed(err error) bool {
	var u *UnitsFailedError
	if errors.As(err, &u) {
		return true
	}
	var ee *runner.ExitError
	return errors.As(err, &ee) && ee.Code == ExitUnitsFailed
}
