package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/metrics"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runhooks"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/unattended"
	"github.com/nixdots/nixdots/pkg/userhooks"
)

// The fleet side of a run (docs/fleet.md): user hooks, notifications,
// metrics, --unattended and remote targets. The parts live in pkg/runhooks and
// its packages; this file only attaches them to the run.

// unattendedHolder is what the lock file says the timer's run is, so a
// person's run refused by it can say so.
const unattendedHolder = "rebuild-smart --unattended"

// setupFleet checks the fleet flags and reads the fleet configuration.
// Errors are usage errors (exit 2): nothing has started yet.
func (r *Run) setupFleet() error {
	c, app := r.Cmd, r.App
	r.Target = remotetarget.Target{TargetHost: c.TargetHost, BuildHost: c.BuildHost}
	if err := r.Target.Validate(); err != nil {
		return err
	}
	if c.Unattended && c.Ask {
		return exitcode.UsageError(errors.New("--ask and --unattended exclude each other: nobody is there to answer"))
	}
	cfg, err := runhooks.LoadRebuildConfig(app.Config)
	if err != nil {
		return err
	}
	action, reason, err := unattended.ChooseAction(unattended.Choice{
		Requested: r.Mode, Unattended: c.Unattended, ConfigBoot: cfg.UnattendedBoot,
	})
	if err != nil {
		return exitcode.UsageError(err)
	}
	r.Mode, r.ActionReason = action, reason
	var stream = r.IO.Human
	if !c.Verbose {
		stream = nil
	}
	r.Fleet = &runhooks.Rebuild{
		Config: cfg, Runner: app.Runner, Env: app.Environ, HooksDir: userhooks.Dir(app.Getenv),
		DryRun: app.DryRun, Unattended: c.Unattended, MetricsFile: c.MetricsFile,
		Warn: r.Warn, Stream: stream,
	}
	return nil
}

// beforeLock is what --unattended does before taking the lock: wait the
// randomized delay (so a fleet does not hit its remote and cache in the
// same second), then step aside when a person is rebuilding by hand.
func (r *Run) beforeLock(ctx context.Context) error {
	c := r.Cmd
	if !c.Unattended {
		return nil
	}
	if d := unattended.Delay(time.Duration(c.RandomizedDelay), rand.Int63n); d > 0 {
		r.IO.Println(fmt.Sprintf("rebuild-smart: randomized delay: waiting %s first", d.Round(time.Second)))
		if err := unattended.Sleep(ctx, d); err != nil {
			return exitcode.Wrap(exitcode.Interrupted, err)
		}
	}
	// The real /proc; under a test root only the processes started for that
	// root count (the fakes' nh and nixos-rebuild of the same test).
	if err := unattended.CheckManualOf("/proc", os.Getpid(), r.System.Sys.Root); err != nil {
		return fmt.Errorf("%w; this unattended run steps aside and the next timer run tries again", err)
	}
	return nil
}

// lock takes the rebuild lock shared with rebuild-rollback, naming the
// timer's run as such, and explains a refusal in terms of who holds it.
func (r *Run) lock(ctx context.Context) (*state.Lock, error) {
	app := r.App
	cmd := app.Name
	if r.Cmd.Unattended {
		cmd = unattendedHolder
	}
	l, err := state.Acquire(ctx, app.StateDir, state.RebuildLock, app.Globals.Wait, state.Holder{
		PID: os.Getpid(), Host: app.Hostname(), Command: cmd, Since: app.Now(),
	}, app.ReadStateDirs...)
	var le *state.LockedError
	if !errors.As(err, &le) {
		if err != nil {
			return nil, err
		}
		// What this run will write, refused now (exit 10) rather than
		// after the switch: the history, the evaluation cache.
		if err := l.Check(history.FileName, evalCacheFile); err != nil {
			_ = l.Release()
			return nil, err
		}
		for _, w := range l.Warnings {
			r.Warn("%s", w)
		}
		return l, nil
	}
	// The lock error names the holder; the prefix says what it means here.
	switch {
	case r.Cmd.Unattended:
		err = fmt.Errorf("a rebuild is already running, so this unattended run steps aside and the next timer run tries again: %w", err)
	case le.Holder.Command == unattendedHolder:
		err = fmt.Errorf("the unattended (timer) rebuild is running; wait for it with --wait 15m, or run again when it has finished: %w", err)
	default:
		err = fmt.Errorf("another rebuild is running; wait for it with --wait 15m, or run again when it has finished: %w", err)
	}
	return nil, exitcode.Wrap(exitcode.Locked, err)
}

// refuse ends a run that never started (bad flags, locked, stepped aside):
// the --json record says so; no hook, notification or metric (the run that
// holds the lock reports its own).
func (r *Run) refuse(err error) error {
	if r.Cmd.JSON {
		_ = r.IO.WriteJSON(r.report(nil, exitcode.FromError(err), err))
	}
	return err
}

// preHooks runs the pre-rebuild hooks at the end of Prepare: the flake
// and host are known, the lock is held, nothing has changed yet.
func (r *Run) preHooks(ctx context.Context) error {
	if r.Fleet == nil {
		return nil
	}
	r.Fleet.WorkDir = r.Flake.Ref.Dir
	return r.Fleet.PreHooks(ctx, r.hookDetails("pending", ""))
}

// hookDetails are the run's facts for the REBUILD_SMART_* variables.
func (r *Run) hookDetails(outcome OutcomeWord, failedPhase string) userhooks.Details {
	d := userhooks.Details{
		Host: r.Host, Flake: r.Flake.Ref.Dir, Action: r.Mode, CommitBefore: r.VCS.CommitBefore,
		Outcome: string(outcome), FailedPhase: failedPhase,
		Duration: r.App.Now().Sub(r.Start), TargetHost: r.Target.TargetHost, BuildHost: r.Target.BuildHost,
		Unattended: r.Cmd.Unattended, StateDir: r.App.StateDir,
	}
	if outcome != "pending" {
		// Documented as empty in pre hooks: what ran before is only worth
		// naming once something may have replaced it.
		d.PreviousSystem = r.System.PrevSystem
		if r.Target.Remote() {
			d.PreviousSystem = r.System.TargetPrev
		}
		d.CommitAfter, d.Toplevel = r.VCS.CommitAfter, r.System.Toplevel
		if d.CommitAfter == "" {
			d.CommitAfter = r.VCS.BuiltCommit
		}
		if r.System.Generation > 0 {
			d.Generation = strconv.Itoa(r.System.Generation)
		}
	}
	return d
}

// finishFleet runs the post or failure hooks, notifies and writes the
// metrics file. Nothing here changes the outcome; problems are warnings,
// added to the report.
func (r *Run) finishFleet(ctx context.Context, rep *Report) {
	if r.Fleet == nil {
		return
	}
	failed := ""
	for _, p := range rep.Phases {
		if p.Status == "failed" {
			failed = p.Name
			break
		}
	}
	var last time.Time
	if entries, err := history.Load(r.App.StateDir); err == nil {
		last = metrics.LastRebuildSuccess(entries, r.Host)
	}
	diff := ""
	if d := r.System.Diff; d != nil {
		diff = d.Summary()
	}
	profileGen := 0
	if r.System.RolledBack {
		// The metric is what boots next: the generation put back.
		profileGen = r.System.PrevGeneration
		if c := r.System.Confirm; c != nil {
			profileGen = c.PrevGeneration
		}
	}
	fin := r.Fleet.Finish(ctx, runhooks.RebuildResult{
		Details: r.hookDetails(rep.Outcome, failed), Start: r.Start, Generation: r.System.Generation, ProfileGeneration: profileGen,
		UnitsFailed: len(r.System.FailedUnits), LastSuccess: last, Error: rep.Error, NextStep: rep.NextStep,
		Diff: diff, Record: *rep,
	})
	rep.HooksFailed = fin.HooksFailed
	r.mu.Lock()
	rep.Warnings = append([]string{}, r.Warnings...)
	r.mu.Unlock()
}

// chooseForInhibitors switches to boot when the new system's switch
// inhibitors differ from the running one's (switch-to-configuration would
// refuse the switch). The new system is built by now, so its
// switch-inhibitors file can be read.
func (r *Run) chooseForInhibitors() error {
	prev := r.System.PrevSystem
	if r.Target.Remote() || (r.Mode != nixsys.ActionSwitch && r.Mode != nixsys.ActionTest) ||
		prev == "" || !unattended.UsesInhibitors(prev) {
		return nil
	}
	cur, err := unattended.ReadInhibitors(prev)
	if err != nil {
		r.Warn("switch inhibitors of the running system not read: %v", err)
		return nil
	}
	next, err := unattended.ReadInhibitors(r.System.Toplevel)
	if err != nil {
		r.Warn("switch inhibitors of the new system not read: %v", err)
		return nil
	}
	action, reason, err := unattended.ChooseAction(unattended.Choice{
		Requested: r.Mode, Unattended: r.Cmd.Unattended, Inhibited: unattended.CompareInhibitors(cur, next),
	})
	if err != nil {
		return err
	}
	if action != r.Mode {
		r.Mode, r.ActionReason = action, reason
		r.IO.Println("    " + reason)
	}
	return nil
}
