package rebuildsmart

import (
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/history"
)

// recordHistory appends one history entry per build attempt: success,
// units-failed, failed (interrupted ones too) and declined; not for dry
// runs, not when there was nothing to switch (no build happened), not for
// a remote target. The generation is the one this run made or activated,
// never the one that merely kept running: a failed or declined build
// records none, so rebuild-rollback --list never shows N twice.
func (r *Run) recordHistory() error {
	if !r.Outcome.recorded() || r.App.DryRun || r.Target.Remote() {
		// A remote target's build is not this machine's: rebuild-rollback
		// here must never offer it (docs/fleet.md, "Remote targets").
		return nil
	}
	commit := r.VCS.BuiltCommit
	if r.VCS.Committed != "" {
		commit = r.VCS.Committed
	}
	gen := r.System.Generation
	if !r.Outcome.madeGeneration() {
		gen = 0
	}
	_, lockData, _ := flake.ReadLock(r.Flake.Ref.Dir)
	e := history.Entry{
		Time: r.App.Now().UTC(), Host: r.Host, Flake: r.Flake.Ref.Dir, Commit: commit,
		Generation: gen, Toplevel: r.System.Toplevel, FlakeLockHash: flake.Hash(lockData),
		Action: r.Mode, Outcome: string(r.Outcome), Source: "rebuild-smart",
		Dirty: r.builtDirty(),
	}
	if d := r.System.Diff; d != nil {
		e.Diff = &history.Diff{DiffCounts: d.DiffCounts, Summary: d.Summary()}
	}
	if r.Outcome == OutcomeChecksFailed {
		e.FailedChecks = r.System.FailedChecks
	}
	e.DotfilesCommit, e.DotfilesSource = r.dotfilesAtBuild()
	if err := history.Append(r.App.StateDir, e); err != nil {
		return err
	}
	if !r.System.RolledBack {
		return nil
	}
	// The rollback is a record of its own, the way rebuild-rollback
	// records one: --list folds it into the previous generation's line
	// ("rolled back to once"), and that generation counts as running.
	return history.Append(r.App.StateDir, history.Entry{
		Time: r.App.Now().UTC(), Host: r.Host, Flake: r.Flake.Ref.Dir, Generation: r.System.PrevGeneration,
		Toplevel: r.System.PrevSystem, Action: "switch", Outcome: history.OutcomeRolledBack, Source: "rebuild-smart",
	})
}

// builtDirty: the system recorded was built from a tree that is not the
// recorded commit.
func (r *Run) builtDirty() bool {
	if r.VCS.Dirty {
		return true
	}
	return r.VCS.Committed == "" && len(r.commitPaths()) > 0
}
