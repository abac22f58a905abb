// Package userhooks runs the user's own commands around a rebuild: before it
// (a failing one vetoes the run before anything changes), as health checks
// after an activation (a failing one fails the post-checks), after a
// success, and after a failure. Hooks come from the config file (argv
// arrays, never a shell string) and from executable files in
// $XDG_CONFIG_HOME/rebuild-smart/hooks.d/{pre,health,post,failure}/. Each receives
// the run's details as REBUILD_SMART_* environment variables and has a time
// limit. Every hook goes through runner.Runner, so --verbose logs it and
// --dry-run prints it instead of running it.
//
// The package only runs hooks and reports what each did; the caller decides
// what a result means (a pre failure is a veto, exit 9; a post or failure
// hook that fails is a warning that never changes the run's outcome).
package userhooks

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

	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Kind is when a hook runs.
type Kind string

// The three hook points. The values name the hooks.d sub-directories.
const (
	Pre     Kind = "pre"     // before anything changes; non-zero exit vetoes the rebuild
	Post    Kind = "post"    // after a successful rebuild (switched, booted, built, nothing to switch)
	Failure Kind = "failure" // after a failed rebuild; never after a veto
	// Health hooks are post-checks: run after an activation (switch,
	// test), a non-zero exit fails the checks (and with
	// --rollback-on-failure puts the previous generation back).
	Health Kind = "health"
)

// Kinds lists the hook points in the order a run meets them.
var Kinds = []Kind{Pre, Health, Post, Failure}

// configKey maps a hook point to its config key in the rebuildSmart section.
var configKey = map[Kind]string{
	Pre:     "hooks.preRebuild",
	Post:    "hooks.postRebuild",
	Failure: "hooks.onFailure",
	Health:  "hooks.healthCheck",
}

// DefaultTimeout bounds each hook when hooks.timeout is not set: long enough
// for a snapshot or a backup, short enough that a hung hook cannot stall an
// unattended run forever.
const DefaultTimeout = 5 * time.Minute

// Hook is one command to run.
type Hook struct {
	// Name is what messages call the hook: "hooks.preRebuild[0]" for a
	// config entry, the file name ("10-snapshot") for a hooks.d file.
	Name string
	Argv []string
}

// Config is the hooks part of the configuration.
type Config struct {
	Commands map[Kind][][]string
	Timeout  time.Duration
}

// FromConfig reads hooks.preRebuild, hooks.postRebuild, hooks.onFailure and
// hooks.timeout from section of f. An empty argv or a bad timeout is a usage
// error naming the key.
func FromConfig(f *config.File, section string) (Config, error) {
	c := Config{Commands: map[Kind][][]string{}, Timeout: DefaultTimeout}
	for _, k := range Kinds {
		var cmds [][]string
		if _, err := f.Decode(section, configKey[k], &cmds); err != nil {
			return c, err
		}
		for i, argv := range cmds {
			if len(argv) == 0 || argv[0] == "" {
				return c, exitcode.UsageError(fmt.Errorf("config %s.%s[%d]: empty command", section, configKey[k], i))
			}
		}
		c.Commands[k] = cmds
	}
	var timeout string
	if ok, err := f.Decode(section, "hooks.timeout", &timeout); err != nil {
		return c, err
	} else if ok {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return c, exitcode.UsageError(fmt.Errorf("config %s.hooks.timeout: %q is not a positive duration (e.g. \"2m\")", section, timeout))
		}
		c.Timeout = d
	}
	return c, nil
}

// Dir returns the hooks.d directory: $XDG_CONFIG_HOME/rebuild-smart/hooks.d,
// else $HOME/.config/rebuild-smart/hooks.d. "" when neither is set.
func Dir(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "rebuild-smart", "hooks.d")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "rebuild-smart", "hooks.d")
	}
	return ""
}

// Skipped is a file in hooks.d that is not run, and why.
type Skipped struct {
	Path   string
	Reason string
}

// Discover lists the hooks of kind k: the config entries first, in their
// order, then the files of dir/<k>/ in byte order of their names (use
// numeric prefixes: 10-snapshot, 50-notify). Files whose name starts with a
// dot or ends with "~" (editor leftovers) are ignored silently; other files
// that are not executable regular files are returned in skipped so the caller
// can warn about them. A missing directory is not an error.
func Discover(c Config, dir string, k Kind) (hooks []Hook, skipped []Skipped, err error) {
	for i, argv := range c.Commands[k] {
		hooks = append(hooks, Hook{Name: fmt.Sprintf("%s[%d]", configKey[k], i), Argv: argv})
	}
	if dir == "" {
		return hooks, nil, nil
	}
	sub := filepath.Join(dir, string(k))
	entries, err := os.ReadDir(sub)
	if errors.Is(err, fs.ErrNotExist) {
		return hooks, nil, nil
	}
	if err != nil {
		return hooks, nil, fmt.Errorf("hooks directory %s: %w", sub, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names) // ReadDir sorts already; keep the order explicit
	for _, name := range names {
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		p := filepath.Join(sub, name)
		st, err := os.Stat(p) // follows symlinks: a link to a script is fine
		switch {
		case err != nil:
			skipped = append(skipped, Skipped{p, err.Error()})
		case !st.Mode().IsRegular():
			skipped = append(skipped, Skipped{p, "not a regular file"})
		case st.Mode().Perm()&0o111 == 0:
			skipped = append(skipped, Skipped{p, "not executable (chmod +x to enable it)"})
		default:
			hooks = append(hooks, Hook{Name: name, Argv: []string{p}})
		}
	}
	return hooks, skipped, nil
}

// Details are the facts of the run that hooks receive. Empty fields are
// still exported (as empty variables) so scripts using `set -u` work.
type Details struct {
	Host           string        // nixosConfigurations attribute built
	Flake          string        // flake directory
	Action         string        // switch, boot, test, build
	CommitBefore   string        // nix-config commit before the run
	CommitAfter    string        // commit built (after upstream sync / auto-commit)
	Generation     string        // system profile generation created ("" before the build)
	Toplevel       string        // store path of the new system ("" before the build)
	PreviousSystem string        // /run/current-system before the run
	Outcome        string        // pending (pre hooks), or the run's outcome word
	FailedPhase    string        // phase that failed (failure hooks)
	Duration       time.Duration // run time so far
	LogFile        string        // captured build output, when kept
	TargetHost     string        // --target-host, "" for this machine
	BuildHost      string        // --build-host, "" for the target itself
	Unattended     bool          // started by the timer (--unattended)
	StateDir       string        // the suite's state directory
}

// Env renders d as the REBUILD_SMART_* variables a hook of kind k receives.
// The names are documented in docs/fleet.md; never rename them.
func (d Details) Env(k Kind) []string {
	outcome := d.Outcome
	if k == Pre && outcome == "" {
		outcome = "pending"
	}
	unattended := "0"
	if d.Unattended {
		unattended = "1"
	}
	return []string{
		"REBUILD_SMART_HOOK=" + string(k),
		"REBUILD_SMART_HOST=" + d.Host,
		"REBUILD_SMART_FLAKE=" + d.Flake,
		"REBUILD_SMART_ACTION=" + d.Action,
		"REBUILD_SMART_COMMIT_BEFORE=" + d.CommitBefore,
		"REBUILD_SMART_COMMIT_AFTER=" + d.CommitAfter,
		"REBUILD_SMART_GENERATION=" + d.Generation,
		"REBUILD_SMART_TOPLEVEL=" + d.Toplevel,
		"REBUILD_SMART_PREVIOUS_SYSTEM=" + d.PreviousSystem,
		"REBUILD_SMART_OUTCOME=" + outcome,
		"REBUILD_SMART_FAILED_PHASE=" + d.FailedPhase,
		"REBUILD_SMART_DURATION=" + strconv.FormatInt(int64(d.Duration.Round(time.Second)/time.Second), 10),
		"REBUILD_SMART_DURATION_MS=" + strconv.FormatInt(d.Duration.Milliseconds(), 10),
		"REBUILD_SMART_LOG_FILE=" + d.LogFile,
		"REBUILD_SMART_TARGET_HOST=" + d.TargetHost,
		"REBUILD_SMART_BUILD_HOST=" + d.BuildHost,
		"REBUILD_SMART_UNATTENDED=" + unattended,
		"REBUILD_SMART_STATE_DIR=" + d.StateDir,
	}
}

// Result is what one hook did.
type Result struct {
	Hook     Hook
	Err      error // nil: exit 0
	ExitCode int   // -1: could not start, or killed by its timeout
	TimedOut bool
	Duration time.Duration
	Stderr   string // last lines, for the one-line message
}

// OK reports whether the hook exited 0.
func (r Result) OK() bool { return r.Err == nil }

// Describe is a one-line account of a failed hook, e.g.
// "10-check: exit 1: battery below 30%" or "hooks.postRebuild[0]: timed out after 5s".
func (r Result) Describe(timeout time.Duration) string {
	switch {
	case r.Err == nil:
		return r.Hook.Name + ": ok"
	case r.TimedOut:
		return fmt.Sprintf("%s: timed out after %s", r.Hook.Name, timeout)
	case runner.IsNotFound(r.Err):
		return fmt.Sprintf("%s: %s not found", r.Hook.Name, r.Hook.Argv[0])
	case r.ExitCode < 0:
		return fmt.Sprintf("%s: %v", r.Hook.Name, r.Err)
	case r.Stderr != "":
		return fmt.Sprintf("%s: exit %d: %s", r.Hook.Name, r.ExitCode, r.Stderr)
	default:
		return fmt.Sprintf("%s: exit %d", r.Hook.Name, r.ExitCode)
	}
}

// Report is the outcome of running the hooks of one kind.
type Report struct {
	Kind    Kind
	Timeout time.Duration
	Results []Result // in run order; a veto stops the pre hooks, so later ones are absent
	Skipped []Skipped
}

// Failed returns the hooks that did not exit 0.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.OK() {
			out = append(out, res)
		}
	}
	return out
}

// Veto returns a *VetoError when a pre hook failed, else nil. Only pre hooks
// veto; a failing post or failure hook is reported, never an error.
func (r Report) Veto() error {
	if r.Kind != Pre {
		return nil
	}
	for _, res := range r.Results {
		if !res.OK() {
			return &VetoError{Result: res, Timeout: r.Timeout}
		}
	}
	return nil
}

// VetoError is a pre hook refusing the rebuild. Its exit code is
// exitcode.Vetoed (9).
type VetoError struct {
	Result  Result
	Timeout time.Duration
}

func (e *VetoError) Error() string {
	return fmt.Sprintf("pre-rebuild hook %s vetoed the rebuild; nothing was changed", e.Result.Describe(e.Timeout))
}

// ExitCode implements exitcode.Coder.
func (e *VetoError) ExitCode() int { return exitcode.Vetoed }

func (e *VetoError) Unwrap() error { return e.Result.Err }

// Options tune a Run.
type Options struct {
	Timeout time.Duration // per hook; 0 means DefaultTimeout
	Dir     string        // working directory of the hooks ("" = the caller's)
	// Stream, when set, receives the hooks' stdout and stderr as they run,
	// so a person sees what their hook prints.
	Stream io.Writer
}

// Run runs hooks in order through r with d's environment. Pre hooks stop at
// the first failure (the rebuild is vetoed; later pre hooks would only
// prepare a run that will not happen). Post and failure hooks all run,
// whatever the others did. Hooks are marked Mutates: under --dry-run they
// are printed, not run, and count as having succeeded.
func Run(ctx context.Context, r runner.Runner, k Kind, hooks []Hook, d Details, o Options) Report {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rep := Report{Kind: k, Timeout: timeout}
	env := d.Env(k)
	for _, h := range hooks {
		if ctx.Err() != nil {
			break // interrupted: the caller reports that, not each hook
		}
		start := time.Now()
		res, err := r.Run(ctx, runner.Cmd{
			Name:    h.Argv[0],
			Args:    h.Argv[1:],
			Dir:     o.Dir,
			Env:     env,
			Timeout: timeout,
			Mutates: true,
			Stream:  o.Stream,
		})
		out := Result{Hook: h, Err: err, ExitCode: res.ExitCode, Duration: time.Since(start)}
		var ee *runner.ExitError
		if errors.As(err, &ee) {
			out.ExitCode, out.TimedOut, out.Stderr = ee.Code, ee.TimedOut, ee.Stderr
		}
		rep.Results = append(rep.Results, out)
		if k == Pre && err != nil {
			break
		}
	}
	return rep
}
