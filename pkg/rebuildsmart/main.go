// Package rebuildsmart implements rebuild-smart: the whole NixOS rebuild in
// one command. The work is a list of phases (phases.go) run by a small
// engine (pipeline.go) that times them, runs phases 2 and 3 in parallel and
// gives later features (hooks, notifications) one place to attach.
package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runhooks"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "rebuild-smart",
	Description: "Rebuild NixOS from a flake in one command: upstream sync, dotfiles, secrets, optional update, switch, checks, commit. " +
		"rebuild-smart brings the flake repository up to date with its upstream (git or jj) while chezmoi-sync syncs " +
		"the dotfiles, updates the secrets input, updates other inputs when asked, builds and activates with nh " +
		"(else nixos-rebuild through sudo), checks secrets and failed units, then commits and pushes flake.lock. " +
		"Each phase prints one line; a failure says what was kept and what to do next. Every build is recorded, " +
		"so rebuild-rollback can go back to it.",
	Section: "rebuildSmart",
	Examples: []cli.Example{
		{Command: "rebuild-smart", Explain: "Sync, build and switch the flake in the current directory (or $NH_OS_FLAKE) for this host."},
		{Command: "rebuild-smart --dry-run", Explain: "Print the plan: the commands that would change something; only read-only queries run."},
		{Command: "rebuild-smart -u --stale 7d", Explain: "Update the inputs not updated for a week, then rebuild."},
		{Command: "rebuild-smart --boot --offline", Explain: "Make the new system the boot default without touching the network."},
		{Command: "rebuild-smart --host web1 --target-host root@web1", Explain: "Build here, activate on another machine over ssh."},
		{Command: "rebuild-smart --unattended --json", Explain: "For a timer: no prompts, step aside for a manual rebuild, one JSON record on stdout."},
	},
	ExitCodes: []exitcode.Use{
		{Code: exitcode.OK, Meaning: "rebuilt, or nothing to switch"},
		{Code: exitcode.Failure},
		{Code: exitcode.Usage},
		{Code: exitcode.Locked, Meaning: "another rebuild-smart or rebuild-rollback holds the rebuild lock, or --unattended stepped aside for a manual rebuild"},
		{Code: exitcode.UnitsFailed, Meaning: "switched, but some systemd units failed (systemctl --failed)"},
		{Code: exitcode.Vetoed, Meaning: "a pre-rebuild hook refused the run; nothing was changed"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.Interrupted},
	},
}

// Duration is a time.Duration that also accepts days and weeks ("7d", "2w").
type Duration time.Duration

// UnmarshalText lets kong parse a Duration from the command line, env or config.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// ParseDuration is time.ParseDuration plus the d (24h) and w (7d) units.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			// NaN fails every comparison; the bound keeps the product from
			// overflowing into a negative duration.
			if err != nil || !(n >= 0) || n*float64(u.unit) >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid duration %q (examples: 12h, 7d, 2w)", s)
			}
			return time.Duration(n * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (examples: 12h, 7d, 2w)", s)
	}
	return d, nil
}

// Command is the kong model of rebuild-smart.
type Command struct {
	cli.Globals
	cli.DryRunFlag
	cli.ReadStateFlag

	Flake string `name:"flake" group:"repo" short:"f" placeholder:"DIR" env:"REBUILD_SMART_FLAKE,NH_OS_FLAKE,NH_FLAKE" config:"flake" help:"Flake repository (DIR or DIR#HOST; default: the current directory)."`
	Host  string `name:"host" group:"repo" short:"H" placeholder:"NAME" env:"REBUILD_SMART_HOST" config:"host" help:"nixosConfigurations attribute to build (default: the host name)."`

	SkipUpstream bool `name:"skip-upstream" group:"phases" help:"Do not fetch and rebase the flake repository."`
	SkipDotfiles bool `name:"skip-dotfiles" group:"phases" help:"Do not run chezmoi-sync."`
	SkipSecrets  bool `name:"skip-secrets" group:"phases" help:"Do not update the secrets input."`
	SkipUpdate   bool `name:"skip-update" group:"update" help:"Never update flake inputs (overrides --update and updateBeforeRebuild)."`
	Update       bool `name:"update" group:"update" short:"u" env:"REBUILD_SMART_UPDATE_BEFORE_REBUILD" config:"updateBeforeRebuild" help:"Update flake inputs before building (all, or --update-input, or --stale)."`

	UpdateInput []string `name:"update-input" group:"update" placeholder:"NAME" help:"Update only this input (repeatable; implies --update)."`
	Stale       Duration `name:"stale" group:"update" placeholder:"DURATION" help:"Update only inputs last modified longer ago than DURATION, e.g. 7d (implies --update)."`
	StaleAfter  Duration `name:"stale-after" group:"update" placeholder:"DURATION" env:"REBUILD_SMART_STALE_AFTER" config:"staleAfter" help:"Default for --stale when updating (config staleAfter)."`

	SecretsInput   string   `name:"secrets-input" group:"secrets" placeholder:"NAME" default:"nix-secrets" env:"REBUILD_SMART_SECRETS_INPUT" config:"secretsInput" help:"Flake input updated on every online rebuild."`
	SecretsTimeout Duration `name:"secrets-timeout" group:"secrets" placeholder:"DURATION" default:"60s" help:"Time limit for the secrets update." env:"REBUILD_SMART_SECRETS_TIMEOUT" config:"secretsTimeout"`
	SecretsPath    string   `name:"secrets-path" group:"secrets" placeholder:"PATH" default:"/run/secrets" help:"Where sops-nix puts decrypted secrets (checked after the switch)." env:"REBUILD_SMART_SECRETS_PATH" config:"secretsPath"`

	Offline      bool `name:"offline" group:"phases" env:"REBUILD_SMART_OFFLINE_MODE" config:"offlineMode" help:"Skip every network phase."`
	SyncDotfiles bool `name:"sync-dotfiles" group:"phases" negatable:"" default:"true" env:"REBUILD_SMART_SYNC_DOTFILES" config:"syncDotfiles" help:"Run chezmoi-sync in parallel with the upstream sync."`
	AutoCommit   bool `name:"auto-commit" group:"commit" negatable:"" default:"true" env:"REBUILD_SMART_AUTO_COMMIT" config:"autoCommit" help:"Commit what the run changed (flake.lock, new files) after a good switch."`
	AutoPush     bool `name:"auto-push" group:"commit" negatable:"" default:"true" env:"REBUILD_SMART_AUTO_PUSH" config:"autoPush" help:"Push after committing (offline: next time)."`
	Tag          bool `name:"tag" group:"commit" negatable:"" help:"Tag the built commit rebuild/<host>/<generation>." env:"REBUILD_SMART_TAG" config:"tag"`

	Boot  bool `name:"boot" group:"activate" xor:"mode" help:"Make the new generation the boot default without activating it."`
	Test  bool `name:"test" group:"activate" xor:"mode" help:"Activate without making it the boot default."`
	Build bool `name:"build" group:"activate" xor:"mode" help:"Only build; activate nothing."`

	Ask               bool `name:"ask" group:"activate" help:"Ask before activating."`
	ForceSwitch       bool `name:"force-switch" group:"activate" help:"Activate even when the new system equals /run/current-system."`
	RollbackOnFailure bool `name:"rollback-on-failure" group:"activate" negatable:"" help:"When the switch fails after changing the system, go back to the previous generation." env:"REBUILD_SMART_ROLLBACK_ON_FAILURE" config:"rollbackOnFailure"`

	// Fleet and unattended use (docs/fleet.md).
	Unattended      bool     `name:"unattended" group:"fleet" help:"Run for a timer: no prompts, boot instead of switch when unattended.boot is set or switch inhibitors changed, step aside for a running manual rebuild."`
	RandomizedDelay Duration `name:"randomized-delay" group:"fleet" placeholder:"DURATION" env:"REBUILD_SMART_RANDOMIZED_DELAY" config:"unattended.randomizedDelay" help:"With --unattended, first sleep a random time below DURATION."`
	TargetHost      string   `name:"target-host" group:"fleet" placeholder:"[USER@]HOST" help:"Activate the new system on this machine over ssh (needs --host)."`
	BuildHost       string   `name:"build-host" group:"fleet" placeholder:"[USER@]HOST" help:"Build the new system on this machine over ssh."`
	MetricsFile     string   `name:"metrics-file" group:"monitor" placeholder:"PATH" env:"REBUILD_SMART_METRICS_FILE" config:"metricsFile" help:"Write Prometheus metrics (node_exporter textfile format) to PATH after every run."`

	// Hooks, when set (by a test or a later feature), is called around
	// every phase and at the end.
	Hooks Hooks `kong:"-"`
	// Phases replaces Pipeline() when set (benchmarks, tests).
	Phases []Stage `kong:"-"`
}

// Main runs rebuild-smart with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Mode is the action: switch (default), boot, test or build.
func (c *Command) Mode() string {
	switch {
	case c.Boot:
		return nixsys.ActionBoot
	case c.Test:
		return nixsys.ActionTest
	case c.Build:
		return "build"
	}
	return nixsys.ActionSwitch
}

// Run is the state one rebuild shares between its phases. Phases 2 and 3
// run at the same time: they write disjoint fields (Upstream; Dotfiles) and
// go through Warn for the shared list.
type Run struct {
	Cmd    *Command
	App    *cli.App
	IO     *ui.Streams
	Start  time.Time
	Mode   string
	Host   string
	Flake  flake.Ref
	Repo   vcs.Repo
	Sys    *nixsys.System
	Nix    *flake.Nix
	NixVer flake.Version
	HasNH  bool

	// Fleet side (fleet.go): where the system goes, the user hooks,
	// notifications and metrics.
	Target          remotetarget.Target
	Fleet           *runhooks.Rebuild
	HostFromDefault bool   // Host is this machine's name (no --host, no #host)
	TargetPrev      string // the target's running system, read over ssh
	ActionReason    string // why Mode differs from the requested action

	RemoteURL     string // the flake repository's remote ("" when none)
	Online        bool
	OfflineReason string

	CommitBefore   string
	PrevSystem     string // /run/current-system before the run
	PrevGeneration int    // generation of the running system before the run
	PrevProfile    int    // generation the profile pointed at before the run
	LockBefore     *flake.Lock
	LockBeforeData []byte

	Upstream  *vcs.SyncResult
	Dotfiles  *syncstate.Record
	Changelog []flake.Change
	// PlannedLockUpdate: a dry run planned an update of flake.lock.
	PlannedLockUpdate bool
	Added             []string // files made visible with git add --intent-to-add

	Toplevel     string // the evaluated (and built) system
	Generation   int
	BuiltCommit  string
	BuildOutcome string // "" (no attempt), history.Outcome*, or "nothing-to-switch"
	SwitchCmd    string
	FailedUnits  []string
	RollbackHint string
	RolledBack   bool

	Committed   string
	Pushed      bool
	CommitAfter string

	cleanup  []func() // run when the command returns
	mu       sync.Mutex
	Warnings []string
	NextStep string
}

// Warn records a warning for the summary and prints it.
func (r *Run) Warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.Warnings = append(r.Warnings, msg)
	r.mu.Unlock()
	r.IO.Warnf("%s", msg)
}

// Pipeline is rebuild-smart's phases, in order; phases in one stage run in
// parallel.
func Pipeline() []Stage {
	return []Stage{
		{prepare{}},
		{upstream{}, dotfiles{}},
		{secrets{}},
		{update{}},
		{rebuild{}},
		{postChecks{}},
		{commitPush{}},
	}
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	r := &Run{Cmd: c, App: app, IO: app.IO, Start: app.Now(), Mode: c.Mode()}
	r.Sys = nixsys.New(app.Getenv, app.Runner)
	defer func() {
		for _, f := range r.cleanup {
			f()
		}
	}()
	if err := r.setupFleet(); err != nil {
		return r.refuse(err)
	}
	if err := r.beforeLock(ctx); err != nil {
		return r.refuse(err)
	}
	if !app.DryRun {
		lock, err := r.lock(ctx)
		if err != nil {
			return r.refuse(err)
		}
		defer lock.Release()
	} else if busy, holder, err := app.Busy(state.RebuildLock); err == nil && busy {
		r.Warn("another run holds the rebuild lock (%s); this plan may be out of date", holder)
	}
	r.IO.Println(r.IO.Bold("rebuild-smart") + " " + headerDetail(r))
	eng := &Engine{IO: r.IO, Hooks: c.Hooks}
	stages := c.Phases
	if stages == nil {
		stages = Pipeline()
	}
	results, err := eng.Execute(ctx, r, stages)
	if hErr := r.recordHistory(); hErr != nil {
		r.Warn("could not record the build in the history: %v", hErr)
	}
	code := r.exitCode(ctx, err)
	rep := r.report(results, code, err)
	r.finishFleet(ctx, &rep)
	if c.Hooks != nil {
		c.Hooks.Finish(ctx, r, &rep)
	}
	if c.JSON {
		if jErr := r.IO.WriteJSON(rep); jErr != nil {
			return jErr
		}
	}
	r.printSummary(rep)
	if code == exitcode.OK {
		return nil
	}
	if rep.Outcome == history.OutcomeFailed {
		return exitcode.Silent{Code: code} // printSummary said it all on stderr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return exitcode.Wrap(code, err)
	}
	if code == exitcode.Interrupted {
		return exitcode.Wrap(code, context.Canceled)
	}
	return exitcode.Silent{Code: code}
}

func headerDetail(r *Run) string {
	parts := []string{r.Mode}
	if r.Target.Remote() {
		parts = append(parts, "on "+r.Target.TargetHost)
	}
	if r.Target.BuildHost != "" {
		parts = append(parts, "built on "+r.Target.BuildHost)
	}
	if r.Cmd.Unattended {
		parts = append(parts, "unattended")
	}
	if r.App.DryRun {
		parts = append(parts, "dry run: nothing will change")
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (r *Run) exitCode(ctx context.Context, err error) int {
	switch {
	case ctx.Err() != nil:
		return exitcode.Interrupted
	case err != nil:
		return exitcode.FromError(err)
	case r.BuildOutcome == history.OutcomeUnitsFailed:
		return exitcode.UnitsFailed
	}
	return exitcode.OK
}

// recordHistory appends one history entry per build attempt (not for dry
// runs, not when there was nothing to switch: no build happened).
func (r *Run) recordHistory() error {
	switch r.BuildOutcome {
	case history.OutcomeSuccess, history.OutcomeUnitsFailed, history.OutcomeFailed:
	default:
		return nil
	}
	if r.App.DryRun || r.Target.Remote() {
		// A remote target's build is not this machine's: rebuild-rollback
		// here must never offer it (docs/fleet.md, "Remote targets").
		return nil
	}
	commit := r.BuiltCommit
	if r.Committed != "" {
		commit = r.Committed
	}
	_, lockData, _ := flake.ReadLock(r.Flake.Dir)
	return history.Append(r.App.StateDir, history.Entry{
		Time: r.App.Now().UTC(), Host: r.Host, Flake: r.Flake.Dir, Commit: commit,
		Generation: r.Generation, Toplevel: r.Toplevel, FlakeLockHash: flake.Hash(lockData),
		Action: r.Mode, Outcome: r.BuildOutcome, Source: "rebuild-smart",
	})
}
