package chezmoisync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Undo (docs/chezmoi-sync.md, "Undo"). Every run records what it changed
// (syncstate.Record: commit_before/after, applied, captured, published).
// An undo of the last N runs that changed something brings back the files
// of the commit before the oldest of them (its commit_before); --undo-to
// brings back those of any commit. It never rewrites history: a new commit
// on top of the local head restores those files (a revert of everything
// since, kept as a diff, so a later rebase onto new remote commits keeps
// them), then apply brings HOME in line, except home files edited since
// chezmoi last wrote them (kept, reported). Files that came in and are no
// longer managed are removed unless edited since; every home file the undo
// overwrites or removes is copied to the state directory first.
//
// The remote is never rewritten. When the revert takes back commits that
// are on the remote, publishing it would change every host: without
// --publish it is held (bookmark undo/<host>): later syncs capture, fetch
// and apply as usual but push nothing until chezmoi-sync --publish (or an
// undo of the undo). An undo that leaves the local history with no change
// against the remote (the undo of an unpublished undo) drops the local
// commits instead. An undo is a run like any other, so it can be undone.

// holdBookmark marks the newest revert an undo holds back.
func holdBookmark(host string) string { return "undo/" + host }

// undoStep restores the files of the undo's target in a new commit.
type undoStep struct{}

func (undoStep) name() string { return "undo" }

func (undoStep) plan(ctx context.Context, r *run) (plan, error) {
	what, err := r.pickUndoTarget(ctx)
	if err != nil {
		return plan{}, err
	}
	files, err := r.jj.DiffNames(ctx, "@-", r.undoTarget)
	if err != nil {
		return plan{}, err
	}
	if len(files) == 0 {
		return plan{skip: fmt.Sprintf("nothing to undo: the files are already as they were at %s", brief.ID(r.undoTarget))}, nil
	}
	r.undoOnRemote = nil
	if r.hadRemote {
		on, err := r.jj.Commits(ctx, "(::@- ~ ::"+r.undoTarget+") & ::"+r.remoteSet(), nil)
		if err != nil {
			return plan{}, err
		}
		r.undoOnRemote = commitIDs(on)
	}
	does := fmt.Sprintf("take back %s: a new commit brings back %s as they were at %s (%s), then HOME follows (home files edited since are kept)",
		what, plural(len(files), "source file"), brief.ID(r.undoTarget), shortList(files, 5))
	switch {
	case len(r.undoOnRemote) > 0 && r.c.Publish:
		does += fmt.Sprintf("; %s taken back %s on %s: the revert is published", plural(len(r.undoOnRemote), "commit"), isAre(len(r.undoOnRemote)), r.remoteName())
	case len(r.undoOnRemote) > 0:
		does += fmt.Sprintf("; %s taken back %s on %s, which keeps them: the revert is held here until chezmoi-sync --publish",
			plural(len(r.undoOnRemote), "commit"), isAre(len(r.undoOnRemote)), r.remoteName())
	}
	return plan{does: does, changes: true, marks: true, identity: true}, nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func (undoStep) run(ctx context.Context, r *run) (outcome, error) {
	r.managedBefore = r.managed
	r.mutated, r.stale, r.rebasedClean = true, true, true
	head, err := r.commitRevert(ctx)
	if err != nil {
		return outcome{}, err
	}
	u := &syncstate.Undo{To: r.undoTarget, Revert: head.CommitID, Remote: r.undoOnRemote}
	for _, rec := range r.undoRuns {
		u.Undone = append(u.Undone, rec.Start)
	}
	r.rec.Undo = u
	if err := r.dropCancelled(ctx, u); err != nil {
		return outcome{}, err
	}
	if err := r.holdOrRelease(ctx, u); err != nil {
		return outcome{}, err
	}
	detail := fmt.Sprintf("back to %s in %s", brief.ID(u.To), brief.ID(u.Revert))
	switch {
	case len(u.Dropped) > 0:
		detail = fmt.Sprintf("back to %s: the local history no longer changed anything against %s, so its %s were dropped (jj op log keeps them)",
			brief.ID(u.To), r.remoteName(), plural(len(u.Dropped), "commit"))
	case u.Held:
		detail += fmt.Sprintf("; held: %s keeps the %s taken back (chezmoi-sync --publish publishes the revert)", r.remoteName(), plural(len(u.Remote), "commit"))
	}
	return outcome{detail: detail}, nil
}

// heldTrailer is the line a held revert carries in its description: the
// hold is part of the commit from the moment it exists, so a run killed
// before it set undo/<host> (or a bookmark deleted by hand) never lets a
// later plain sync publish it. The hold ends when the commit is published
// (--publish) or dropped (the undo taken back).
func heldTrailer(host string) string { return "Chezmoi-Sync-Held: " + host }

// heldRevset is every commit whose description holds host's held trailer
// (a jj string literal may hold a newline: the trailer is a whole line).
func heldRevset(host string) string {
	return "description(substring:" + jj.TemplateString(heldTrailer(host)+"\n") + ")"
}

// commitRevert makes the revert commit so that no kill leaves a revert a
// later sync would publish: the commit is made beside the working copy
// (jj new --no-edit, described, held trailer included), filled there (jj
// restore --into), and only then does the working copy move onto it (jj
// new, one operation). Killed before that, the undo did not happen (an
// empty or filled commit beside the working copy, which no sync pushes).
func (r *run) commitRevert(ctx context.Context) (jj.Commit, error) {
	msg := fmt.Sprintf("chore(%s): undo %s (back to %s) - %s", r.host, r.undoWhat, brief.ID(r.undoTarget), r.app.Now().Format(time.RFC3339))
	if len(r.undoOnRemote) > 0 && !r.c.Publish {
		msg += "\n\n" + heldTrailer(r.host)
	}
	if err := r.jj.NewAt(ctx, "@-", msg); err != nil {
		return jj.Commit{}, fmt.Errorf("cannot make the undo's commit: %w", err)
	}
	firstLine, _, _ := strings.Cut(msg, "\n")
	made, err := r.jj.Commits(ctx, "latest((children(@-) ~ @) & description(substring:"+jj.TemplateString(firstLine)+"))", nil)
	if err != nil || len(made) != 1 {
		return jj.Commit{}, fmt.Errorf("cannot read the undo's commit: %v", err)
	}
	if err := r.jj.RestoreAll(ctx, r.undoTarget, made[0].ChangeID); err != nil {
		return jj.Commit{}, fmt.Errorf("cannot restore the files of %s: %w", brief.ID(r.undoTarget), err)
	}
	if err := r.jj.NewOn(ctx, made[0].ChangeID); err != nil {
		return jj.Commit{}, fmt.Errorf("cannot move the working copy onto the undo's commit: %w", err)
	}
	head, err := r.jj.Commits(ctx, "@-", nil)
	if err != nil || len(head) != 1 {
		return jj.Commit{}, fmt.Errorf("cannot read the undo's commit: %v", err)
	}
	return head[0], nil
}

// dropCancelled: when the local commits, undo included, change nothing
// against the remote branch, they are dropped instead of kept (the undo
// of an unpublished undo leaves nothing to publish).
func (r *run) dropCancelled(ctx context.Context, u *syncstate.Undo) error {
	if !r.hadRemote {
		return nil
	}
	diff, err := r.jj.DiffNames(ctx, r.remoteSet(), "@-")
	if err != nil || len(diff) > 0 {
		return err
	}
	local, err := r.jj.Commits(ctx, r.remoteSet()+"..@-", nil)
	if err != nil || len(local) == 0 {
		return err
	}
	if err := r.jj.Abandon(ctx, r.remoteSet()+"..@-"); err != nil {
		return fmt.Errorf("cannot drop the local commits that change nothing against %s: %w", r.remoteName(), err)
	}
	u.Dropped, u.Revert = commitIDs(local), ""
	return nil
}

// holdOrRelease holds the revert when publishing it would take back
// commits other hosts have (and --publish was not given); --publish
// releases any earlier hold.
func (r *run) holdOrRelease(ctx context.Context, u *syncstate.Undo) error {
	hold := holdBookmark(r.host)
	switch {
	case len(u.Dropped) > 0:
		return nil // jj abandon deleted the bookmark with its commit
	case r.c.Publish:
		u.Published = true // by the push below, or by the next sync
		cs, err := r.jj.Commits(ctx, jj.LocalBookmark(hold), nil)
		if err == nil && len(cs) > 0 {
			return r.jj.BookmarkDelete(ctx, hold)
		}
		return err
	case len(u.Remote) > 0:
		u.Held, r.rec.Held = true, true
		local, err := r.jj.Commits(ctx, "("+r.remoteSet()+"..@) ~ @", nil)
		if err != nil {
			return err
		}
		r.rec.PendingPush = len(local)
		return r.jj.BookmarkSet(ctx, hold, "@-")
	}
	return nil
}

// unhold deletes the hold once its commits are published.
func (r *run) unhold(ctx context.Context) {
	if err := r.jj.BookmarkDelete(ctx, holdBookmark(r.host)); err != nil {
		r.io.Warnf("cannot delete %s (its commits are published): %v", holdBookmark(r.host), err)
	}
}

// pickUndoTarget finds the commit whose files the undo brings back, and
// says what is taken back.
func (r *run) pickUndoTarget(ctx context.Context) (string, error) {
	var target string
	if r.c.UndoTo != "" {
		cs, err := r.jj.Commits(ctx, jj.Symbol(string(r.c.UndoTo)), nil)
		if err != nil || len(cs) != 1 {
			return "", usage("--undo-to %s: names no commit of the dotfiles repository in %s (give a commit id, a change id or a bookmark name; revsets such as main- are not taken)", r.c.UndoTo, r.workTree)
		}
		target, r.undoWhat = cs[0].CommitID, "to "+brief.ID(cs[0].CommitID)
	} else {
		runs, older, err := r.undoableRuns()
		if err != nil {
			return "", err
		}
		// A resolution made in several runs started from a conflicted
		// state: take back the earlier steps too, down to a clean one.
		for len(older) > 0 && r.hasConflicts(ctx, runs[len(runs)-1].BeforeLocal) {
			runs, older = append(runs, older[0]), older[1:]
		}
		r.undoRuns = runs
		target = runs[len(runs)-1].BeforeLocal
		r.undoWhat = describeRuns(runs)
	}
	cs, err := r.jj.Commits(ctx, jj.Symbol(target), nil)
	switch {
	case err != nil || len(cs) != 1:
		return "", refuse(fmt.Sprintf("the commit before %s (%s) is not in the repository any more: nothing was changed", r.undoWhat, brief.ID(target)),
			"see jj op log in "+r.workTree+"; chezmoi-sync --undo-to COMMIT goes back to a commit you name")
	case strings.Trim(cs[0].CommitID, "0") == "":
		return "", usage("%s is the root commit, which holds no file: an undo to it would remove every managed file; name a dotfiles commit (chezmoi-sync --undo --list)", brief.ID(cs[0].CommitID))
	case cs[0].Conflict:
		return "", refuse(fmt.Sprintf("the state before %s held unresolved conflicts (%s): an undo cannot go back to it; nothing was changed", r.undoWhat, brief.ID(target)),
			"chezmoi-sync --undo-to COMMIT goes back to a commit you name")
	}
	r.undoTarget = cs[0].CommitID
	return r.undoWhat, nil
}

// undoableRuns are the newest --undo N runs that changed something,
// newest first. The repository must be where the last run left it: an
// undo would otherwise take back commits made outside chezmoi-sync too.
func (r *run) undoableRuns() (runs, older []syncstate.Record, err error) {
	hist, err := syncstate.History(r.app.StateDir, syncstate.HistoryKeep)
	if err != nil {
		return nil, nil, err
	}
	for _, rec := range hist {
		if rec.AfterLocal == "" {
			continue
		}
		if rec.AfterLocal != r.rec.BeforeLocal {
			return nil, nil, refuse(fmt.Sprintf("the repository changed outside chezmoi-sync since its last run (it left %s, the working copy is now on %s): an undo would take that back too; nothing was changed",
				brief.ID(rec.AfterLocal), brief.ID(r.rec.BeforeLocal)),
				"run chezmoi-sync first (then chezmoi-sync --undo 2 takes back that run and the one before), or name the commit: chezmoi-sync --undo-to COMMIT")
		}
		break
	}
	undoable := changedRuns(hist)
	n := r.c.Undo.N
	switch {
	case len(undoable) == 0:
		return nil, nil, usage("nothing to undo: no sync in %s changed HOME or the repository", r.app.StateDir)
	case n > len(undoable):
		return nil, nil, usage("--undo %d: only %d can be undone (chezmoi-sync --undo --list)", n, len(undoable))
	}
	return undoable[:n], undoable[n:], nil
}

// hasConflicts: rev holds conflicts (or cannot be read).
func (r *run) hasConflicts(ctx context.Context, rev string) bool {
	cs, err := r.jj.Commits(ctx, jj.Symbol(rev), nil)
	return err != nil || len(cs) != 1 || cs[0].Conflict
}

// changedRuns are the records of runs an undo can take back, newest first.
func changedRuns(hist []syncstate.Record) []syncstate.Record {
	var out []syncstate.Record
	for _, rec := range hist {
		if rec.Changed() {
			out = append(out, rec)
		}
	}
	return out
}

func describeRuns(runs []syncstate.Record) string {
	if len(runs) == 1 {
		return describeRun(runs[0])
	}
	return fmt.Sprintf("%d runs (the oldest: %s)", len(runs), describeRun(runs[len(runs)-1]))
}

func describeRun(rec syncstate.Record) string {
	what := "the sync"
	if rec.Action != "" {
		what = "the " + rec.Action
	}
	return what + " of " + rec.Start.UTC().Format("2006-01-02 15:04:05 UTC")
}

// UndoList is the --undo --list --json document.
type UndoList struct {
	Version  int             `json:"version"`
	Undoable []UndoableEntry `json:"undoable"`
}

// UndoableEntry is one run an undo can take back (N is what --undo N
// takes back with it and everything newer).
type UndoableEntry struct {
	N            int       `json:"n"`
	Start        time.Time `json:"start"`
	Action       string    `json:"action"` // sync, resolve, continue, abort, undo, publish
	Status       string    `json:"status"`
	Incoming     int       `json:"incoming_commits"`
	Applied      []string  `json:"applied"`  // home files written or removed
	Captured     []string  `json:"captured"` // home files captured
	Committed    string    `json:"committed,omitempty"`
	Published    []string  `json:"published"` // commits pushed
	CommitBefore string    `json:"commit_before"`
	CommitAfter  string    `json:"commit_after"`
}

// listUndoable prints the runs --undo can take back; it changes nothing.
func listUndoable(app *cli.App, c *Command, _ string) error {
	hist, err := syncstate.History(app.StateDir, syncstate.HistoryKeep)
	if err != nil {
		return err
	}
	doc := UndoList{Version: 1, Undoable: []UndoableEntry{}}
	for i, rec := range changedRuns(hist) {
		action := rec.Action
		if action == "" {
			action = "sync"
		}
		doc.Undoable = append(doc.Undoable, UndoableEntry{N: i + 1, Start: rec.Start, Action: action, Status: rec.Status,
			Incoming: rec.Incoming, Applied: nonNil(append(append([]string{}, rec.Applied...), rec.Removed...)), Captured: nonNil(rec.Captured),
			Committed: rec.Committed, Published: nonNil(rec.Published), CommitBefore: rec.BeforeLocal, CommitAfter: rec.AfterLocal})
	}
	if c.JSON {
		return app.IO.WriteJSON(doc)
	}
	if len(doc.Undoable) == 0 {
		app.IO.Println("Nothing to undo: no sync in " + app.StateDir + " changed HOME or the repository.")
		return nil
	}
	app.IO.Println("Runs that can be undone, newest first (chezmoi-sync --undo N takes back the newest N):")
	home := app.Getenv("HOME")
	for _, e := range doc.Undoable {
		app.IO.Printf("%3d  %s  %-8s  in: %s  out: %s  (%s -> %s)\n", e.N, e.Start.UTC().Format("2006-01-02 15:04:05 UTC"), e.Action,
			cameIn(e, home), wentOut(e, home), brief.ID(e.CommitBefore), brief.ID(e.CommitAfter))
	}
	return nil
}

func cameIn(e UndoableEntry, home string) string {
	var parts []string
	if e.Incoming > 0 {
		parts = append(parts, plural(e.Incoming, "commit"))
	}
	if len(e.Applied) > 0 {
		parts = append(parts, shortList(relHomeAll(e.Applied, home), 3))
	}
	return orNothing(parts)
}

func wentOut(e UndoableEntry, home string) string {
	var parts []string
	if len(e.Captured) > 0 {
		parts = append(parts, "captured "+shortList(relHomeAll(e.Captured, home), 3))
	}
	switch {
	case len(e.Published) > 0:
		parts = append(parts, "pushed "+plural(len(e.Published), "commit"))
	case e.Committed != "":
		parts = append(parts, "committed "+brief.ID(e.Committed)+" (not pushed)")
	}
	return orNothing(parts)
}

func orNothing(parts []string) string {
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
