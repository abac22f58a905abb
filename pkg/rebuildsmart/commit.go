package rebuildsmart

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// ---- 8. Commit and push ----

type commitPush struct{}

func (commitPush) Name() string { return "Commit & push" }
func (commitPush) Skip(r *Run) string {
	switch {
	case r.Mode == ModeBuild || r.Mode == nixsys.ActionTest:
		return "--" + r.Mode + ": nothing to record"
	case !r.Outcome.activated() && r.Outcome != OutcomeNothingToSwitch && !r.App.DryRun:
		// Nothing to switch still commits and pushes what is pending: the
		// running system was built from this tree.
		return "nothing was switched"
	}
	return ""
}

// Run commits exactly the tree the build used: the tracked changes and the
// files made visible for it (and flake.lock after an update), minus files
// that look like secrets. When that is impossible the build is marked
// dirty (the history and rebuild-rollback --list say so). Then the push:
// a failure while online is a warning with the next step.
func (commitPush) Run(ctx context.Context, r *Run) (Outcome, error) {
	var parts []string
	status := ui.OK
	paths := r.commitPaths()
	switch {
	case !r.Cmd.AutoCommit:
		parts = append(parts, "autoCommit off")
		if len(paths) > 0 {
			r.markDirty("autoCommit is off and the build used uncommitted changes")
		}
	case len(paths) == 0:
		parts = append(parts, "nothing to commit")
	case r.App.DryRun:
		parts = append(parts, fmt.Sprintf("would commit %s as %q", strings.Join(paths, ", "), r.commitMessage()))
	default:
		if fp, err := r.fingerprint(ctx); err == nil && r.Flake.Fingerprint != "" && fp != r.Flake.Fingerprint {
			r.markDirty("files changed while the system was built: the commit would not hold what was built")
			r.Warn("not committed: files changed while the system was built; commit them yourself when they are right")
			status = ui.Warn
			parts = append(parts, "not committed (tree changed during the build)")
			break
		}
		id, err := r.VCS.Repo.Commit(ctx, r.commitMessage(), paths)
		if err != nil {
			r.markDirty("the auto-commit failed")
			r.Warn("auto-commit failed; the changes stay uncommitted: %v", err)
			status = ui.Warn
			parts = append(parts, "commit failed")
		} else {
			r.VCS.Committed = id
			parts = append(parts, "committed "+short(id)+" ("+strings.Join(paths, ", ")+")")
		}
	}
	if w := r.withheldTracked(); len(w) > 0 {
		r.markDirty("changed files that look like secrets were built but not committed: " + strings.Join(w, ", "))
	}
	if r.Cmd.Tag && r.System.Generation > 0 {
		r.tag(ctx, &parts, &status)
	}
	r.pushPhase(ctx, &parts, &status)
	r.VCS.CommitAfter = r.head(ctx)
	return Outcome{Status: status, Detail: strings.Join(parts, "; ")}, nil
}

// commitPaths is what the commit must hold: the files the build used on top
// of BuiltCommit, flake.lock when this run changed it, never a withheld one.
func (r *Run) commitPaths() []string {
	paths := slices.Clone(r.VCS.BuiltFiles)
	if r.lockChanged() || r.Flake.PlannedUpdate {
		paths = append(paths, r.lockRel())
	}
	withheld := map[string]bool{}
	for _, w := range r.VCS.Withheld {
		withheld[w.Path] = true
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return withheld[p] })
	slices.Sort(paths)
	return slices.Compact(paths)
}

// withheldTracked lists the withheld files the build used (tracked ones).
func (r *Run) withheldTracked() []string {
	var out []string
	for _, w := range r.VCS.Withheld {
		if slices.Contains(r.VCS.BuiltFiles, w.Path) {
			out = append(out, w.Path)
		}
	}
	return out
}

func (r *Run) markDirty(why string) {
	if !r.VCS.Dirty {
		r.VCS.Dirty, r.VCS.DirtyReason = true, why
	}
}

func (r *Run) commitMessage() string {
	gen := "?"
	if r.System.Generation > 0 {
		gen = fmt.Sprint(r.System.Generation)
	}
	return fmt.Sprintf("chore(%s): rebuild %s - %s", r.Host, gen, r.App.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

func (r *Run) tag(ctx context.Context, parts *[]string, status *string) {
	rev := r.VCS.Committed
	if rev == "" {
		rev = r.VCS.BuiltCommit
	}
	name := fmt.Sprintf("rebuild/%s/%d", r.Host, r.System.Generation)
	switch {
	case r.App.DryRun:
		*parts = append(*parts, "would tag "+name)
	case r.VCS.Dirty:
		r.Warn("tag %s not made: the build is not a commit (%s)", name, r.VCS.DirtyReason)
		*status = ui.Warn
	default:
		if err := r.VCS.Repo.Tag(ctx, name, rev); err != nil {
			r.Warn("tag %s: %v", name, err)
			*status = ui.Warn
		} else {
			*parts = append(*parts, "tagged "+name)
		}
	}
}

func (r *Run) pushPhase(ctx context.Context, parts *[]string, status *string) {
	switch {
	case !r.Cmd.AutoPush:
		*parts = append(*parts, "autoPush off")
	case !r.VCS.Online:
		*parts = append(*parts, "offline: push next time")
	case r.VCS.Committed == "" && !r.App.DryRun:
		if r.ahead(ctx) {
			r.push(ctx, parts, status)
		}
	default:
		r.push(ctx, parts, status)
	}
}

// lockRel is flake.lock's path relative to the repository's top (the flake
// may live in a subdirectory).
func (r *Run) lockRel() string {
	rel, err := filepath.Rel(r.VCS.Repo.Dir(), filepath.Join(r.Flake.Ref.Dir, "flake.lock"))
	if err != nil {
		return "flake.lock"
	}
	return rel
}

func (r *Run) lockChanged() bool {
	_, now, _ := flake.ReadLock(r.Flake.Ref.Dir)
	return !bytes.Equal(now, r.Flake.LockBeforeData)
}

// ahead reports whether git HEAD has commits its upstream lacks (a push a
// previous offline run left for "next time"). jj: never guessed.
func (r *Run) ahead(ctx context.Context) bool {
	if r.VCS.Repo.Kind() != vcs.Git {
		return false
	}
	res, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "git", Dir: r.VCS.Repo.Dir(), Args: []string{"--no-optional-locks", "rev-list", "--count", "@{upstream}..HEAD"}})
	return err == nil && res.Out() != "0" && res.Out() != ""
}

// push publishes the branch; a failure is a warning with the next step, and
// `pushed` stays false.
func (r *Run) push(ctx context.Context, parts *[]string, status *string) {
	if r.VCS.RemoteURL == "" {
		*parts = append(*parts, "no remote to push to")
		return
	}
	if err := r.VCS.Repo.Push(ctx); err != nil {
		next := "`git push` when the remote accepts it (the next online rebuild-smart run pushes it too)"
		if r.VCS.Repo.Kind() == vcs.JJ {
			next = "`jj git push` when the remote accepts it (the next online rebuild-smart run pushes it too)"
		}
		r.Warn("push failed; the commit stays local: %v", brief.First(err.Error()))
		if r.NextStep == "" {
			r.NextStep = "push failed: " + next
		}
		*status = ui.Warn
		*parts = append(*parts, "push failed")
		return
	}
	if r.App.DryRun {
		*parts = append(*parts, "would push")
		return
	}
	r.VCS.Pushed = true
	*parts = append(*parts, "pushed")
}
