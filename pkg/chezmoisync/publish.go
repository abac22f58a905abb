package chezmoisync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// rewindStep takes a rewound remote branch when --accept-rewind says so:
// the commits the remote dropped stay on a local bookmark
// (rewound/<host>/<time>), the local commits made since the last sync move
// onto the new remote head, and apply brings HOME in line with it.
type rewindStep struct{}

func (rewindStep) name() string { return "rewind" }

func (rewindStep) plan(_ context.Context, r *run) (plan, error) {
	if len(r.rewound) == 0 {
		return plan{skip: "no rewind", quiet: true}, nil
	}
	return plan{does: fmt.Sprintf("accept the rewind of %s: keep the %s it dropped on %s, move your newer commits onto it",
		r.remoteName(), plural(len(r.rewound), "commit"), r.rewindBookmark()), changes: true, marks: true, identity: true}, nil
}

func (r *run) rewindBookmark() string {
	return "rewound/" + r.host + "/" + r.stamp()
}

func (rewindStep) run(ctx context.Context, r *run) (outcome, error) {
	acc := r.acceptedRemote()
	kept, err := r.newBookmark(ctx, r.rewindBookmark(), acc)
	if err != nil {
		return outcome{}, fmt.Errorf("cannot keep the dropped commits on %s: %w", r.rewindBookmark(), err)
	}
	if err := r.jj.RebaseSource(ctx, "roots("+acc+"..@)", r.remoteRef); err != nil {
		return outcome{}, fmt.Errorf("cannot move the local commits onto %s (jj op log shows the previous state): %w", r.remoteName(), err)
	}
	r.mutated, r.stale, r.rebasedClean = true, true, true
	r.accepted = r.a.remote.CommitID
	r.rewound = nil
	return outcome{status: ui.Warn, next: "analyse",
		detail: fmt.Sprintf("took %s as it is now; the dropped commits are on %s", r.remoteName(), kept)}, nil
}

// authorStep gives commits made without an identity (by an older sync, or
// jj before it was configured) the configured author: jj refuses to push
// them, for ever.
type authorStep struct{}

func (authorStep) name() string { return "author" }

func (authorStep) plan(_ context.Context, r *run) (plan, error) {
	if len(r.a.anon) == 0 {
		return plan{skip: "every local commit has an author", quiet: true}, nil
	}
	return plan{does: fmt.Sprintf("set the author of %s made without one (jj cannot push them)", plural(len(r.a.anon), "commit")),
		changes: true, marks: true, identity: true}, nil
}

func (authorStep) run(ctx context.Context, r *run) (outcome, error) {
	var noAuthor, noCommitter []string
	for _, c := range r.a.anon {
		if c.Is("anonAuthor") {
			noAuthor = append(noAuthor, c.CommitID)
		} else {
			noCommitter = append(noCommitter, c.CommitID)
		}
	}
	for _, set := range []struct {
		ids    []string
		author bool
	}{{noCommitter, false}, {noAuthor, true}} {
		if len(set.ids) == 0 {
			continue
		}
		if err := r.jj.Reidentify(ctx, strings.Join(set.ids, " | "), set.author); err != nil {
			return outcome{}, fmt.Errorf("cannot set the identity of the local commits: %w", err)
		}
	}
	r.mutated, r.stale = true, true
	return outcome{detail: fmt.Sprintf("%s now carry your identity", plural(len(r.a.anon), "commit"))}, nil
}

// rebaseStep moves the local commits onto the remote branch. On conflict
// it puts them back exactly where they were and parks them on
// sync/<host>: main, the remote's main and HOME stay untouched.
type rebaseStep struct{}

func (rebaseStep) name() string { return "rebase" }

func (rebaseStep) plan(ctx context.Context, r *run) (plan, error) {
	if (r.replayed || slices.Contains(r.planned, "replay")) && r.retries == 0 {
		return plan{skip: "replayed onto " + r.remoteName(), quiet: true}, nil
	}
	if len(r.a.incoming) == 0 && !r.remoteMoved {
		return plan{skip: "already on top of " + r.remoteName()}, nil
	}
	if r.mode == modeAbort {
		// The abort left an empty working copy on the remote branch as
		// last fetched: only what came in since moves it.
		if r.dry && !r.remoteMoved {
			return plan{skip: "nothing came in since the last fetch", quiet: true}, nil
		}
		return plan{does: "take what came in on " + r.remoteName() + " since the last fetch", changes: true, marks: true}, nil
	}
	local := len(r.a.local)
	if r.committedPlan() {
		local++ // the commit the commit step makes
	}
	if len(r.a.incoming) > 0 && len(r.a.base) == 1 && (local > 0 || !r.a.wc.Empty) {
		splits, err := r.predictSplits(ctx, r.a.base[0].CommitID, r.remoteRef, "@")
		if err != nil {
			return plan{}, err
		}
		if r.splits = splits; len(splits) > 0 {
			if r.dry {
				r.rec.Status, r.rec.Error, r.rec.NextStep = syncstate.ConflictsPreserved, r.splitMessage(splits), r.splitNext(splits)
			}
			return plan{does: fmt.Sprintf("park %s on %s, not rebase them: %s", plural(local, "local commit"), r.park, r.describeSplits(splits)),
				changes: true, marks: true}, nil
		}
	}
	if r.dry && len(r.a.incoming) > 0 && (local > 0 || !r.a.wc.Empty) {
		// What the real rebase would find: the two heads merged in a
		// throw-away object directory, as chezmoi-show-conflicts does.
		paths, err := showconflicts.MergeConflicts(ctx, guardRunner(r.app), r.workTree, r.a.remote.CommitID, r.a.wc.CommitID)
		if err == nil && len(paths) > 0 {
			r.dryParked = true
			r.rec.Status, r.rec.Error = syncstate.ConflictsPreserved, "local edits conflict with "+r.remoteName()+" in "+strings.Join(paths, ", ")
			return plan{does: fmt.Sprintf("rebase %s onto %s, find conflicts in %s and park them on %s (unless they are trivial)",
				plural(local, "local commit"), r.remoteName(), strings.Join(paths, ", "), r.park), changes: true, marks: true}, nil
		}
	}
	does := fmt.Sprintf("rebase %s onto %s (%d incoming)", plural(local, "local commit"), r.remoteName(), len(r.a.incoming))
	if r.remoteMoved && len(r.a.incoming) == 0 {
		does = fmt.Sprintf("rebase %s onto the new commits of %s", plural(local, "local commit"), r.remoteName())
	}
	return plan{does: does, changes: true, marks: true, identity: true}, nil
}

func (rebaseStep) run(ctx context.Context, r *run) (outcome, error) {
	a := r.a
	if len(r.splits) > 0 {
		return r.parkSplits(ctx)
	}
	if len(a.base) != 1 {
		return outcome{}, fmt.Errorf("cannot tell where the local commits fork off %s (%d candidates); nothing was changed", r.remoteName(), len(a.base))
	}
	wasEmpty := map[string]bool{}
	for _, c := range a.local {
		wasEmpty[c.ChangeID] = c.Empty
	}
	// No --skip-emptied: on conflict every local commit must go back, even
	// one that became empty; emptied commits are abandoned below instead.
	r.mutated, r.stale = true, true
	if err := r.jj.RebaseBranch(ctx, "@", r.remoteRef); err != nil {
		return outcome{}, fmt.Errorf("rebase onto %s: %w", r.remoteName(), err)
	}
	after, err := r.jj.Commits(ctx, r.remoteRef+"..@", []jj.Class{{Name: "wc", Revset: "@"}})
	if err != nil {
		return outcome{}, err
	}
	conflicted, local, drop := sortRebased(after, wasEmpty)
	if len(conflicted) > 0 {
		if o, ok, err := r.settleTrivially(ctx); ok || err != nil {
			return o, err
		}
		return r.parkConflicts(ctx, conflicted)
	}
	if len(drop) > 0 {
		if err := r.jj.Abandon(ctx, strings.Join(commitIDs(drop), " | ")); err != nil {
			return outcome{}, fmt.Errorf("cannot drop commits already upstream: %w", err)
		}
	}
	r.local, r.rebasedClean = local, true
	detail := fmt.Sprintf("%s onto %d incoming", plural(len(local), "local commit"), len(a.incoming))
	if len(drop) > 0 {
		detail += fmt.Sprintf(", %d already upstream dropped", len(drop))
	}
	return outcome{detail: detail}, nil
}

// sortRebased splits the commits after a rebase: conflicted ones (the
// working copy only counts when nothing else conflicts: autoCommit off),
// the local commits to push, and those the rebase emptied.
func sortRebased(after []jj.Commit, wasEmpty map[string]bool) (conflicted, local, drop []jj.Commit) {
	for _, c := range after {
		switch {
		case c.Conflict && !c.Is("wc"):
			conflicted = append(conflicted, c)
		}
		switch {
		case c.Is("wc"):
		case c.Empty && !wasEmpty[c.ChangeID]:
			drop = append(drop, c)
		default:
			local = append(local, c)
		}
	}
	if len(conflicted) == 0 {
		for _, c := range after {
			if c.Conflict {
				conflicted = append(conflicted, c)
			}
		}
	}
	return conflicted, local, drop
}

// parkConflicts undoes a conflicting rebase by rebasing the local commits
// back onto the commit they forked from (the exact trees come back), points
// sync/<host> at them and pushes that bookmark when its content changed.
func (r *run) parkConflicts(ctx context.Context, conflicted []jj.Commit) (outcome, error) {
	a := r.a
	r.recordConflicts(ctx, conflicted)
	if err := r.jj.RebaseSource(ctx, "roots("+r.remoteRef+"..@)", a.base[0].CommitID); err != nil {
		return outcome{}, fmt.Errorf("cannot put the local commits back after a conflicting rebase (jj op log shows the previous state): %w", err)
	}
	// The working copy must be exactly what it was before the rebase.
	if diff, err := r.jj.DiffNames(ctx, a.wc.CommitID, "@"); err != nil || len(diff) > 0 {
		if err == nil {
			err = fmt.Errorf("files differ: %s", strings.Join(diff, ", "))
		}
		return outcome{}, fmt.Errorf("restoring the local commits after a conflicting rebase did not give back the same files (jj op log shows the previous state): %w", err)
	}
	r.parked = true
	r.rec.Status = syncstate.ConflictsPreserved
	var paths []string
	for _, c := range r.rec.Conflicts {
		paths = append(paths, c.Paths...)
	}
	paths = uniq(paths)
	r.rec.Error = "local edits conflict with " + r.remoteName() + " in " + strings.Join(paths, ", ")
	where, err := r.parkBookmark(ctx)
	if err != nil {
		return outcome{}, err
	}
	r.rec.PendingPush = len(a.local)
	r.rec.NextStep = "resolve: " + showconflicts.RecipeLine(r.workTree, r.remoteName(), r.park, paths)
	r.recipe = showconflicts.Recipe(r.workTree, r.remoteName(), r.park, paths)
	return outcome{status: ui.Failed, next: "apply", detail: fmt.Sprintf("conflicts in %s: local commits put back and parked %s; %s and the home directory untouched",
		strings.Join(paths, ", "), where, r.c.Branch)}, nil
}

// parkSplits parks the local commits where they stand instead of
// publishing a merge that gives a target two source entries (split.go):
// main, the remote's main and HOME stay untouched.
func (r *run) parkSplits(ctx context.Context) (outcome, error) {
	heads, err := r.jj.Commits(ctx, "heads(("+r.remoteRef+"..@) ~ empty())", nil)
	if err != nil {
		return outcome{}, err
	}
	for _, c := range heads {
		r.rec.Conflicts = append(r.rec.Conflicts, syncstate.Conflict{ChangeID: c.ChangeID, CommitID: c.CommitID, Paths: splitSources(r.splits)})
	}
	r.parked = true
	r.rec.Status = syncstate.ConflictsPreserved
	r.rec.Error = r.splitMessage(r.splits)
	where, err := r.parkBookmark(ctx)
	if err != nil {
		return outcome{}, err
	}
	r.rec.PendingPush = len(r.a.local)
	r.rec.NextStep = r.splitNext(r.splits)
	return outcome{status: ui.Failed, stop: r.replayed || r.conflictAt != "", next: "apply",
		detail: fmt.Sprintf("two source entries for %s: local commits parked %s; %s and the home directory untouched",
			r.describeSplits(r.splits), where, r.c.Branch)}, nil
}

// parkBookmark points sync/<host> at the local commits (when there are
// any besides the working copy) and pushes it.
func (r *run) parkBookmark(ctx context.Context) (string, error) {
	hasCommits := false
	for _, c := range r.a.local {
		hasCommits = hasCommits || !c.Empty
	}
	if !hasCommits {
		return "in the working-copy commit", nil
	}
	if err := r.jj.BookmarkSet(ctx, r.park, "heads(("+r.remoteRef+"..@) ~ empty())"); err != nil {
		return "", fmt.Errorf("cannot park the local commits on %s (they are safe in the working copy's history): %w", r.park, err)
	}
	r.rec.Parked = r.park
	where := "on " + r.park
	if r.a.held && !r.c.Publish {
		return where + " (not pushed: an undo is held)", nil
	}
	if r.c.AutoPush {
		where += r.pushParked(ctx)
	}
	return where, nil
}

// pushParked pushes sync/<host> unless the remote already holds the same
// content (every rerun rewrites the commit ids, not the files).
func (r *run) pushParked(ctx context.Context) string {
	if r.a.parkedRemote != nil {
		diff, err := r.jj.DiffNames(ctx, jj.RemoteBookmarks(r.park, r.c.Remote), jj.LocalBookmark(r.park))
		if err == nil && len(diff) == 0 {
			return " (unchanged on " + r.c.Remote + ")"
		}
	}
	if res, err := r.jj.Push(ctx, r.c.Remote, r.park); err != nil {
		why := brief.Line(errText(res, err))
		switch {
		case strings.Contains(why, "Non-tracking remote bookmark"):
			// Another machine with the same host name parked there first
			// (NixOS's default host name is nixos).
			r.warn("%s on %s belongs to another machine with the same host name %q (%s): this host's parked commits are safe locally but cannot be pushed there; give this machine its own name: chezmoi-sync --hostname NAME (or chezmoiSync.hostname, CHEZMOI_SYNC_HOSTNAME)", r.park, r.c.Remote, r.host, why)
			return " (not pushed: " + r.c.Remote + " already has a " + r.park + " of another machine with the same host name; set --hostname)"
		case jj.RemoteKind(res, err) == jj.RemoteUnreachable:
			r.io.Warnf("could not push %s (the commits are safe locally): %s", r.park, why)
			return " (not pushed: " + r.c.Remote + " unreachable)"
		}
		r.io.Warnf("could not push %s (the commits are safe locally): %s", r.park, why)
		return " (not pushed: " + why + ")"
	}
	return " and pushed to " + r.c.Remote
}

// pushStep moves the branch to the last local commit and pushes it. When
// another host pushed first it goes back to the fetch (a transition of the
// program), up to --push-retries times with a growing back-off.
type pushStep struct{}

func (pushStep) name() string { return "push" }

func (pushStep) plan(_ context.Context, r *run) (plan, error) {
	// Planned but not run (a dry run): the commit the commit step makes,
	// the dropped commits the rewind leaves behind.
	ahead := len(r.local)
	for _, c := range r.local {
		if slices.Contains(r.rewound, c.CommitID) {
			ahead--
		}
	}
	if r.committedPlan() {
		ahead++
	}
	if r.mode == modeAbort {
		ahead = 0 // this host's side is on a kept/ bookmark, not under the working copy
	}
	r.rec.PendingPush = ahead
	held := r.a.held && !r.c.Publish
	switch {
	case len(r.splits) > 0:
		return plan{skip: "parked: a target would have two source entries", quiet: r.dry}, nil
	case len(r.dryLeft) > 0:
		return plan{skip: "files would stay conflicted: nothing is published until they are resolved"}, nil
	case r.dryParked:
		return plan{skip: "the conflicts would be parked", quiet: true}, nil
	case ahead == 0:
		return plan{skip: "nothing to push"}, nil
	case !r.c.AutoPush:
		return plan{skip: fmt.Sprintf("autoPush is off: %s wait", plural(ahead, "commit"))}, nil
	case held:
		r.rec.Held = true
		return plan{skip: fmt.Sprintf("held: an undo is not published, so %s wait (chezmoi-sync --publish publishes them; chezmoi-sync --undo takes the undo back)", plural(ahead, "commit"))}, nil
	case r.offline:
		return plan{skip: fmt.Sprintf("%s unreachable: %s wait for the next sync", r.c.Remote, plural(ahead, "commit"))}, nil
	}
	return plan{does: fmt.Sprintf("push %s to %s", plural(ahead, "commit"), r.remoteName()), changes: true}, nil
}

// committedPlan: the commit step was planned and not run (a dry run), so
// the analysis cannot count the commit it would make.
func (r *run) committedPlan() bool {
	for _, n := range r.planned {
		if n == "commit" || n == "resolve" {
			return true
		}
	}
	return false
}

func (pushStep) run(ctx context.Context, r *run) (outcome, error) {
	ahead := len(r.local)
	if r.conflictAt != "" || r.replayed {
		// A resolution (replayed here or rebased by hand) can hold a
		// target with two source entries the rebase step never saw.
		splits, err := r.treeSplits(ctx, "@", r.remoteRef)
		if err != nil {
			return outcome{}, err
		}
		if len(splits) > 0 {
			r.splits = splits
			return r.parkSplits(ctx)
		}
	}
	if err := r.jj.BookmarkSet(ctx, r.c.Branch, "heads(("+r.remoteRef+"..@) ~ @)"); err != nil {
		return outcome{}, fmt.Errorf("cannot move %s: %w", r.c.Branch, err)
	}
	res, err := r.jj.Push(ctx, r.c.Remote, r.c.Branch)
	if err == nil {
		r.rec.Pushed, r.rec.PendingPush = true, 0
		r.rec.Published = commitIDs(r.local)
		if r.a.held {
			r.unhold(ctx)
		}
		// The remote now holds this head: a later rewind is measured from it.
		if cs, qerr := r.jj.Commits(ctx, jj.LocalBookmark(r.c.Branch), nil); qerr == nil && len(cs) == 1 {
			r.accepted = cs[0].CommitID
			r.rec.AcceptedRemote = r.accepted
		}
		return outcome{detail: fmt.Sprintf("%s to %s", plural(ahead, "commit"), r.remoteName())}, nil
	}
	if ctx.Err() != nil {
		return outcome{}, err
	}
	return r.pushFailed(ctx, res, err)
}

// retry is the transition back to the fetch after a push race, or the
// end of the tries.
func (r *run) retry(ctx context.Context, detail string) (outcome, error) {
	if r.retries >= r.c.PushRetries {
		r.rec.Status = syncstate.PushFailed
		r.rec.PendingPush = len(r.local)
		r.rec.NextStep = "other hosts kept pushing; your commits are safe locally and the next sync pushes them"
		r.rec.Error = fmt.Sprintf("%s kept moving: gave up after %d push retries", r.remoteName(), r.retries)
		if l := r.lockHeld; l != nil {
			r.rec.Error = fmt.Sprintf("%s stayed locked (%s): gave up after %d push retries", r.remoteName(), l.why, r.retries)
			r.rec.NextStep = "your commits are safe locally; the next sync pushes them once the push that holds " + l.path + " ends"
			if l.network {
				r.rec.NextStep = "your commits are safe locally; if no push from any machine is running, a killed one left " + l.path + ": remove it (rm -- " + l.path + ") and run chezmoi-sync again"
			}
		}
		return outcome{status: ui.Failed, detail: r.rec.Error, next: "apply"}, nil
	}
	select {
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	case <-time.After(backoff(r.retries, r.host)):
	}
	r.retries++
	r.rec.PushRetries = r.retries
	back := "fetch"
	if indexOf(r.program, "refetch") >= 0 {
		back = "refetch"
	}
	return outcome{status: ui.Warn, detail: detail, next: back}, nil
}
