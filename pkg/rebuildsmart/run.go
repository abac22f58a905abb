package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runhooks"
	"github.com/nixdots/nixdots/pkg/secretscan"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// Run is the state one rebuild shares between its phases, in four typed
// parts. Phases 2 and 3 run at the same time: they write disjoint fields
// (VCS.Upstream; Dotfiles) and go through Warn for the shared list.
type Run struct {
	Cmd   *Command
	App   *cli.App
	IO    *ui.Streams
	Start time.Time
	Mode  string // switch, boot, test, build (after the unattended choice)
	Host  string

	Flake  FlakeState
	System SystemState
	VCS    VCSState
	// Outcome is the build's outcome (OutcomeNone until the rebuild phase
	// decides); Report.Outcome adds the words of runs that never built.
	Outcome  OutcomeWord
	Dotfiles *syncstate.Record

	// Fleet side (runhooks.go): where the system goes, the user hooks,
	// notifications and metrics.
	Target          remotetarget.Target
	Fleet           *runhooks.Rebuild
	HostFromDefault bool   // Host is this machine's name (no --host, no #host)
	ActionReason    string // why Mode differs from the requested action

	scanner  secretscan.Scanner
	cleanup  []func() // run when the command returns
	mu       sync.Mutex
	Warnings []string
	NextStep string
}

// FlakeState is the flake and what the run did with it.
type FlakeState struct {
	Ref            flake.Ref
	Nix            *flake.Nix
	NixVer         flake.Version
	LockBefore     *flake.Lock
	LockBeforeData []byte
	Changelog      []flake.Change
	// PlannedUpdate: a dry run planned an update of flake.lock (the lock
	// the real run builds is not known).
	PlannedUpdate bool
	// Fingerprint covers everything a pure evaluation of the system reads
	// (fingerprint.go); Evaluated says whether this run evaluated it.
	Fingerprint string
	Evaluated   bool
	// HostKnown: this host was built from this flake before, so Prepare
	// skipped listing nixosConfigurations (an evaluation).
	HostKnown bool
}

// SystemState is the machine before and after.
type SystemState struct {
	Sys            *nixsys.System
	PrevSystem     string // /run/current-system before the run
	PrevGeneration int    // generation of the running system before the run
	PrevProfile    int    // generation the profile pointed at before the run
	TargetPrev     string // a remote target's running system, read over ssh

	Toplevel    string // the built system
	Generation  int    // the generation this run made or activated; 0 when none
	Diff        *nixsys.ClosureDiff
	DiffText    string // nvd's or dix's rendering, when one is installed
	ActivateCmd string // how the system was (or would be) activated
	FailedUnits []string

	RollbackHint string
	RolledBack   bool
	// Confirm is the confirmed activation of a remote target (nil when
	// there was none).
	Confirm *Confirmation
	// FailedChecks are the post-checks that failed ("units: a.service",
	// "secrets: ...", "health: 10-ping: exit 1: ...").
	FailedChecks []string
}

// VCSState is the flake repository before and after.
type VCSState struct {
	Repo          vcs.Repo
	RemoteURL     string // "" when none
	Online        bool
	OfflineReason string
	CommitBefore  string
	Upstream      *vcs.SyncResult

	Added    []string             // new files made visible to nix (git add --intent-to-add)
	Withheld []secretscan.Finding // new or changed files that look like secrets: left alone
	// BuiltCommit is the commit the build started from; BuiltFiles the
	// tracked changes and added files on top of it that the build used.
	BuiltCommit string
	BuiltFiles  []string
	// Dirty: what was built is not exactly a commit (autoCommit off, a
	// withheld file, a failed commit, or the tree changed during the build).
	Dirty       bool
	DirtyReason string

	Committed   string
	Pushed      bool
	CommitAfter string
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
	r := &Run{Cmd: c, App: app, IO: app.IO, Start: app.Now()}
	r.System.Sys = nixsys.New(app.Getenv, app.Runner)
	r.System.Sys.Stdin = app.Stdin // sudo may ask for a password on it
	defer func() {
		for _, f := range r.cleanup {
			f()
		}
	}()
	mode, err := c.Mode()
	if err != nil {
		return r.refuse(err)
	}
	r.Mode = mode
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
	if ctx.Err() != nil && r.Outcome == OutcomeNone && r.System.Toplevel != "" {
		r.Outcome = OutcomeFailed // interrupted after the build started
	}
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
	if rep.Outcome == OutcomeFailed || rep.Outcome == OutcomeRolledBack {
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
	return brief.Safe("(" + strings.Join(parts, ", ") + ")")
}

func (r *Run) exitCode(ctx context.Context, err error) int {
	switch {
	case ctx.Err() != nil:
		return exitcode.Interrupted
	case err != nil:
		return exitcode.FromError(err)
	case r.Outcome == OutcomeUnitsFailed:
		return exitcode.UnitsFailed
	}
	return exitcode.OK
}
