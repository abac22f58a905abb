package chezmoisync

import (
	"context"
	"fmt"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// abortStep gives up a parked (or half-resolved) conflict: this host's
// side goes on a kept/<host>/<time> bookmark (nothing of it is lost, and
// nothing of it is published), the working copy moves to the remote branch,
// and apply brings HOME in line with it. Home files edited since chezmoi
// last wrote them are kept (chezmoi's own check, reported), and so is
// everything in them: abort captures nothing.
type abortStep struct{}

func (abortStep) name() string { return "abort" }

func (abortStep) plan(_ context.Context, r *run) (plan, error) {
	what := "this host's parked commits"
	if r.conflictAt == stateRebased {
		what = "this host's half-resolved commits (its side of every file still conflicted)"
	}
	return plan{does: fmt.Sprintf("keep %s on a kept/%s/<time> bookmark, delete %s and move to %s (as last fetched); HOME follows it (home files edited since are kept)",
		what, r.host, r.park, r.remoteName()), changes: true, marks: true, identity: true}, nil
}

func (abortStep) run(ctx context.Context, r *run) (outcome, error) {
	r.managedBefore = r.managed
	r.mutated, r.stale = true, true
	msg := fmt.Sprintf("chore(%s): this host's side, kept by chezmoi-sync --abort - %s", r.host, r.rec.Start.UTC().Format("2006-01-02T15:04:05Z"))
	if r.conflictAt == stateRebased {
		if err := r.fold(ctx); err != nil {
			return outcome{}, err
		}
		// This host's side of what is still conflicted: jj's side 2
		// after a rebase.
		if err := r.jj.ResolveWith(ctx, "@", ":theirs", nil); err != nil && !jj.NoConflicts(err) {
			return outcome{}, fmt.Errorf("cannot take this host's side of the conflicted files: %w", err)
		}
	}
	wc, err := r.jj.Commits(ctx, "@", nil)
	if err != nil {
		return outcome{}, err
	}
	if len(wc) == 1 && !wc[0].Empty {
		if err := r.jj.Commit(ctx, msg); err != nil {
			return outcome{}, fmt.Errorf("cannot commit this host's side: %w", err)
		}
	}
	commit, err := r.keepBookmark(ctx, "@-")
	if err != nil {
		return outcome{}, err
	}
	if err := r.jj.NewOn(ctx, r.remoteRef); err != nil {
		return outcome{}, fmt.Errorf("cannot move the working copy to %s (this host's side is on %s): %w", r.remoteName(), r.keptBookmark, err)
	}
	// The parked bookmark goes here; its copy on the remote is deleted by
	// unpark (now, or by the next run that reaches the remote).
	if err := r.jj.BookmarkDelete(ctx, r.park); err != nil {
		return outcome{}, fmt.Errorf("cannot delete %s (this host's side is on %s): %w", r.park, r.keptBookmark, err)
	}
	r.local, r.rebasedClean = nil, true
	r.rec.Kept = &syncstate.Kept{Bookmark: r.keptBookmark, Commit: commit}
	r.rec.NextStep = fmt.Sprintf("this host's side is on %s (jj log -r %s; bring a file back with: cd %s && jj restore --from %s PATH && chezmoi-sync)",
		r.keptBookmark, r.keptBookmark, r.workTree, r.keptBookmark)
	return outcome{detail: fmt.Sprintf("this host's side kept on %s (%s); now on %s", r.keptBookmark, brief.ID(commit), r.remoteName())}, nil
}
