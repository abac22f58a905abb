package chezmoisync

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/mergetext"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Resolving a parked conflict in one command (--keep-local, --take-remote,
// --continue). The parked commits are replayed onto the remote branch
// (replayStep), which puts the conflicts into the source files; settleStep
// folds the conflicted commits into the working copy and resolves each
// conflicted file: the side the user chose for every conflicting hunk, or
// a trivial resolution that needs no choice (mergetext.Trivial). The side
// a resolution gives up is never lost: the remote's is in the remote
// branch's commit, this host's is put on a kept/<host>/<time> bookmark
// first; the record names the commit (chezmoi-show-conflicts --history).
// Files left conflicted stay so, with their markers in the source
// directory and HOME untouched: the run ends conflicts-preserved (exit 5).

// replayStep rebases this host's parked commits onto the remote branch.
type replayStep struct{}

func (replayStep) name() string { return "replay" }

func (replayStep) plan(ctx context.Context, r *run) (plan, error) {
	if r.mode != modeResolve && r.mode != modeContinue || r.replayed || r.retries > 0 {
		// After a push race the rebase step takes new commits in.
		return plan{skip: "not resolving", quiet: true}, nil
	}
	if err := r.findConflicted(ctx); err != nil {
		return plan{}, err
	}
	if r.conflictAt != stateParked && len(r.a.incoming) == 0 && !r.remoteMoved {
		return plan{skip: "already on " + r.remoteName(), quiet: true}, nil
	}
	if r.conflictAt != stateParked {
		// Replayed by hand onto an older head of the remote branch, which
		// moved since: replay again, onto the new head, so the conflicts
		// settled are those with what will be published on (attack 3, F8).
		return plan{does: fmt.Sprintf("replay the conflicted commits onto the new commits of %s: the conflicts appear in the source files, never in HOME",
			r.remoteName()), changes: true, marks: true, identity: true}, nil
	}
	local := len(r.a.local)
	if r.committedPlan() {
		local++
	}
	return plan{does: fmt.Sprintf("replay %s onto %s: the conflicts (%s) appear in the source files, never in HOME",
		plural(local, "local commit"), r.remoteName(), strings.Join(r.describePaths(r.conflicted), ", ")),
		changes: true, marks: true, identity: true}, nil
}

func (replayStep) run(ctx context.Context, r *run) (outcome, error) {
	r.localHead = r.a.wc.CommitID
	if p := r.a.parent(); p != nil {
		r.localHead = p.CommitID
	}
	r.mutated, r.stale, r.replayed = true, true, true
	if err := r.jj.RebaseBranch(ctx, "@", r.remoteRef); err != nil {
		return outcome{}, fmt.Errorf("cannot replay the local commits onto %s (jj op log shows the previous state): %w", r.remoteName(), err)
	}
	now, err := r.jj.Conflicts(ctx, "@")
	if err != nil {
		return outcome{}, err
	}
	if len(now) == 0 && !r.hasConflictedCommits(ctx) {
		if r.local, err = r.jj.Commits(ctx, "("+r.remoteRef+"..@) ~ @", nil); err != nil {
			return outcome{}, err
		}
		r.rebasedClean = true
		return outcome{detail: "onto " + r.remoteName() + ": no conflict left"}, nil
	}
	return outcome{detail: fmt.Sprintf("onto %s: conflicts in %s", r.remoteName(), strings.Join(r.describePaths(keys(now)), ", "))}, nil
}

// findConflicted lists the conflicted files before anything changes (a
// parked conflict: by merging the two heads in a throw-away object
// directory, as chezmoi-show-conflicts does; a replayed one: jj's list)
// and checks the paths the flags name against them.
func (r *run) findConflicted(ctx context.Context) error {
	switch r.conflictAt {
	case stateParked:
		paths, err := showconflicts.MergeConflicts(ctx, guardRunner(r.app), r.workTree, r.a.remote.CommitID, r.a.wc.CommitID)
		if err != nil {
			return fmt.Errorf("cannot list the conflicted files: %w", err)
		}
		r.conflicted = paths
	case stateRebased:
		now, err := r.jj.Conflicts(ctx, "@")
		if err != nil {
			return err
		}
		r.conflicted = keys(now)
	}
	if len(r.conflicted) == 0 {
		r.choices = map[string]string{}
		return nil
	}
	choices, err := r.resolveChoices(r.conflicted)
	r.choices = choices
	return err
}

// decision is what settleStep does with one conflicted file.
type decision struct {
	path   string
	how    string  // keep-local, take-remote, trivial; "" left for a person
	took   string  // local, remote or both
	reason string  // trivial: the kinds of hunks; left: why
	text   *string // the resolved content to write, or
	// other: the file as the other choice would have resolved it (this
	// host's side of each conflicting hunk, the rest merged), kept when
	// the resolution drops this host's side.
	other *string
	tool  string // jj's :ours / :theirs for a whole file
	// dropped[local], dropped[remote]: that side had a change the result
	// does not hold.
	dropLocal, dropRemote bool
}

// settleStep resolves the conflicted files in the working copy.
type settleStep struct{}

func (settleStep) name() string { return "settle" }

func (settleStep) plan(ctx context.Context, r *run) (plan, error) {
	if r.mode != modeResolve && r.mode != modeContinue || r.retries > 0 {
		return plan{skip: "not resolving", quiet: true}, nil
	}
	if r.conflictAt == stateParked && !r.replayed {
		// A dry run: the files are replayed only by a real run.
		does, left := r.parkedPlan(ctx)
		if len(left) > 0 {
			// What the real run ends with: exit 5, these files named.
			r.dryLeft = left
			r.rec.Status = syncstate.ConflictsPreserved
			r.rec.Error = "still conflicted: " + strings.Join(r.describePaths(left), ", ")
		}
		return plan{does: does, changes: true}, nil
	}
	ds, err := r.decide(ctx)
	if err != nil {
		return plan{}, err
	}
	if len(ds) == 0 && !r.hasConflictedCommits(ctx) {
		return plan{skip: "no conflict left"}, nil
	}
	var parts []string
	for _, d := range ds {
		parts = append(parts, r.describeDecision(d))
	}
	return plan{does: "resolve " + strings.Join(parts, "; "), changes: true, marks: true, identity: true}, nil
}

// parkedPlan says what a real run would decide once replayed, and which
// files it would leave conflicted: a file without a choice is resolved
// only when every hunk is trivial, judged on the two heads merged in a
// throw-away object directory (diff3 style, the base included).
func (r *run) parkedPlan(ctx context.Context) (string, []string) {
	var texts map[string]string
	for _, p := range r.conflicted {
		if r.choices[p] == "" && texts == nil {
			var err error
			if texts, err = showconflicts.MergeTexts(ctx, guardRunner(r.app), r.workTree, r.a.remote.CommitID, r.a.wc.CommitID); err != nil {
				texts = map[string]string{}
			}
		}
	}
	var parts, left []string
	for _, p := range r.conflicted {
		switch r.choices[p] {
		case howKeepLocal:
			parts = append(parts, r.displayPath(p)+": this host's side of each conflicting hunk")
		case howTakeRemote:
			parts = append(parts, r.displayPath(p)+": "+r.remoteName()+"'s side of each conflicting hunk (this host's kept on a kept/"+r.host+"/<time> bookmark)")
		default:
			if reason, ok := trivially(texts[p], chezmoi.ParseSourceName(p).Encrypted); ok && r.c.AutoCommit {
				parts = append(parts, r.displayPath(p)+": resolved without asking, "+reason)
				continue
			}
			parts = append(parts, r.displayPath(p)+": left conflicted (no side chosen; its markers go into the source file)")
			left = append(left, p)
		}
	}
	return "resolve " + strings.Join(parts, "; "), left
}

// trivially: a merged text in diff3 style resolves without a choice.
func trivially(text string, encrypted bool) (string, bool) {
	f, err := mergetext.Parse(text)
	if text == "" || encrypted || err != nil || f.Conflicts() == 0 {
		return "", false
	}
	o, ok := f.Trivial()
	return strings.Join(o.Reasons, "; "), ok
}

func (settleStep) run(ctx context.Context, r *run) (outcome, error) {
	if err := r.fold(ctx); err != nil {
		return outcome{}, err
	}
	ds, err := r.decide(ctx)
	if err != nil {
		return outcome{}, err
	}
	kept, err := r.keepDroppedLocal(ctx, ds)
	if err != nil {
		return outcome{}, err
	}
	if r.keptRemote, err = r.keepDroppedRemote(ctx, ds); err != nil {
		return outcome{}, err
	}
	if err := r.applyDecisions(ctx, ds); err != nil {
		return outcome{}, err
	}
	if err := r.dropOtherSources(ctx, ds); err != nil {
		return outcome{}, err
	}
	left, err := r.jj.Conflicts(ctx, "@") // snapshots the written files
	if err != nil {
		return outcome{}, err
	}
	r.recordDecisions(ds, left, kept)
	if len(left) > 0 {
		// The rest stays conflicted in a commit under an empty working
		// copy, as after the hand recipe's rebase: a later edit of the
		// files is a resolution the next run can tell from the conflict.
		if err := r.jj.Commit(ctx, r.resolutionSubject(" (in progress)")+r.foldNotes); err != nil {
			return outcome{}, fmt.Errorf("cannot keep the remaining conflicts in a commit: %w", err)
		}
		o := r.stillConflicted(keys(left))
		// The record names the commit holding them, like a park does.
		if cs, err := r.jj.Commits(ctx, "@-", nil); err == nil && len(cs) == 1 {
			r.rec.Conflicts[0].ChangeID, r.rec.Conflicts[0].CommitID = cs[0].ChangeID, cs[0].CommitID
		}
		return o, nil
	}
	return r.commitResolution(ctx)
}

// fold squashes the conflicted local commits (and every local commit
// above the first of them) into the working copy, whose tree holds their
// changes: what remains to resolve is in one place, and jj never has to
// push a conflicted commit.
func (r *run) fold(ctx context.Context) error {
	if !r.hasConflictedCommits(ctx) {
		return nil
	}
	local := "(" + r.remoteSet() + "..@)"
	from := "(roots(conflicts() & " + local + "):: & ::@- & " + local + ")"
	// The folded commits' subjects stay in the resolution's message (an
	// undo's "chore(host): undo ..." would vanish from the history), and
	// so does a held undo's trailer: the hold is part of the commit.
	folded, err := r.jj.Commits(ctx, from, []jj.Class{{Name: "held", Revset: heldRevset(r.host)}})
	if err != nil {
		return err
	}
	var notes []string
	held := false
	for _, c := range folded {
		if c.Description != "" {
			notes = append(notes, "- "+c.Description)
		}
		held = held || c.Is("held")
	}
	if len(notes) > 0 {
		r.foldNotes = "\n\nFolds:\n" + strings.Join(notes, "\n")
	}
	if held {
		r.foldNotes += "\n\n" + heldTrailer(r.host)
	}
	if err := r.jj.Squash(ctx, from, "@", r.resolutionMessage()); err != nil {
		return fmt.Errorf("cannot fold the conflicted commits into the working copy (jj op log shows the previous state): %w", err)
	}
	r.mutated, r.stale = true, true
	return nil
}

func (r *run) hasConflictedCommits(ctx context.Context) bool {
	cs, err := r.jj.Commits(ctx, "conflicts() & ("+r.remoteSet()+"..@-)", nil)
	return err == nil && len(cs) > 0
}

func (r *run) resolutionMessage() string { return r.resolutionSubject("") + r.foldNotes }

func (r *run) resolutionSubject(suffix string) string {
	return fmt.Sprintf("chore(%s): resolve conflicts with %s - %s%s", r.host, r.remoteName(), r.app.Now().Format(time.RFC3339), suffix)
}

// decide reads every conflicted file of the working copy and decides it.
func (r *run) decide(ctx context.Context) ([]decision, error) {
	conflicts, err := r.jj.Conflicts(ctx, "@")
	if err != nil {
		return nil, err
	}
	var ds []decision
	for _, p := range keys(conflicts) {
		d, err := r.decideFile(ctx, p, conflicts[p])
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// decideFile decides one file: a choice the user made, else a trivial
// resolution, else nothing. After a rebase jj's side 1 is the rebase
// destination (the remote branch) and its label says so.
func (r *run) decideFile(ctx context.Context, path, desc string) (decision, error) {
	d := decision{path: path, how: r.choices[path]}
	raw, err := r.jj.ConflictText(ctx, "@", path)
	if err != nil {
		return d, fmt.Errorf("cannot read the conflict in %s: %w", path, err)
	}
	f, perr := mergetext.Parse(string(raw))
	remote := -1
	if perr == nil {
		remote = f.SideWith("(rebase destination)")
	}
	twoSided := strings.HasPrefix(desc, "2-sided conflict")
	// An encrypted file's hunks are ciphertext: a side is taken whole,
	// never merged.
	encrypted := chezmoi.ParseSourceName(path).Encrypted
	text := desc == "2-sided conflict" && perr == nil && f.Conflicts() > 0 && remote >= 0 && !encrypted
	switch {
	case d.how != "" && text:
		side := sideOf(d.how, remote)
		s, o := f.Choose(side), f.Choose(1-side)
		d.text, d.other, d.took = &s, &o, tookOf(d.how)
		d.dropLocal, d.dropRemote = d.how == howTakeRemote, d.how == howKeepLocal
	case d.how != "" && twoSided:
		// A whole file: a deletion, an executable bit, a binary file.
		if remote < 0 {
			remote = 0
		}
		d.tool, d.took = [2]string{":ours", ":theirs"}[sideOf(d.how, remote)], tookOf(d.how)
		d.dropLocal, d.dropRemote = d.how == howTakeRemote, d.how == howKeepLocal
	case d.how == "" && text:
		if o, ok := f.Trivial(); ok {
			d.how, d.text, d.reason, d.took = howTrivial, &o.Text, strings.Join(o.Reasons, "; "), "both"
			d.dropRemote, d.dropLocal = o.Dropped[remote], o.Dropped[1-remote]
			given := f.Choose(1 - remote) // the side given up, hunk by hunk
			if d.dropRemote {
				given = f.Choose(remote)
			}
			d.other = &given
			switch {
			case d.dropLocal:
				d.took = "remote"
			case d.dropRemote:
				d.took = "local"
			}
		} else {
			d.reason = "both sides changed the same lines"
		}
	case d.how != "":
		d.how, d.reason = "", "not a two-sided conflict ("+desc+"): resolve it by hand"
	default:
		d.reason = "not a plain text conflict (" + desc + "): choose a side with --keep-local or --take-remote"
	}
	return d, nil
}

// sideOf is the index of the side a choice takes, given the remote's.
func sideOf(how string, remote int) int {
	if how == howTakeRemote {
		return remote
	}
	return 1 - remote
}

func tookOf(how string) string {
	if how == howTakeRemote {
		return "remote"
	}
	return "local"
}

func (r *run) describeDecision(d decision) string {
	p := r.displayPath(d.path)
	switch d.how {
	case howKeepLocal:
		return p + ": kept this host's side (" + r.remoteName() + "'s stays in its history)"
	case howTakeRemote:
		return p + ": took " + r.remoteName() + "'s side (this host's is kept on a bookmark)"
	case howTrivial:
		return p + ": " + d.reason
	}
	return p + ": left conflicted (" + d.reason + ")"
}

// keepDroppedLocal puts this host's side on a kept/<host>/<time> bookmark
// before a resolution drops any of it: a new commit beside the working
// copy (same parent) holding every file as this host had it.
func (r *run) keepDroppedLocal(ctx context.Context, ds []decision) (string, error) {
	x, err := r.sideCommit(ctx, ds, true)
	if err != nil || x == "" {
		return "", err
	}
	return r.keepBookmark(ctx, x)
}

// keepDroppedRemote: when a resolution drops the remote's side of a text
// file's hunks, a commit beside the working copy holds the file as taking
// the remote's side would have made it; it returns the commit ("" when
// none was needed: the remote branch's own commit then holds the side).
func (r *run) keepDroppedRemote(ctx context.Context, ds []decision) (string, error) {
	x, err := r.sideCommit(ctx, ds, false)
	if err != nil || x == "" {
		return "", err
	}
	cs, err := r.jj.Commits(ctx, x, nil)
	if err != nil || len(cs) != 1 {
		return "", fmt.Errorf("cannot read the commit keeping %s's side: %v", r.remoteName(), err)
	}
	return cs[0].CommitID, nil
}

// sideCommit makes a commit beside the working copy (same parent) holding
// one side (local: this host's) of every conflicted file a resolution
// gives that side up in. A text file gets that side of the conflicting
// hunks only, the rest as merged: bringing it back (jj restore --from)
// restores what was given up, not the other host's edits elsewhere in the
// file (attack 3, F15); any other file that side's whole file (jj's
// :theirs for this host, :ours for the remote after the rebase).
func (r *run) sideCommit(ctx context.Context, ds []decision, local bool) (string, error) {
	var texts []decision
	drop := false
	for _, d := range ds {
		dropped := d.dropLocal && local || d.dropRemote && !local
		drop = drop || dropped
		if dropped && d.other != nil {
			texts = append(texts, d)
		}
	}
	if !drop || !local && len(texts) == 0 {
		return "", nil
	}
	parent, err := r.jj.Commits(ctx, "@-", nil)
	if err != nil || len(parent) != 1 {
		return "", fmt.Errorf("cannot find the working copy's parent: %v", err)
	}
	who, tool := "this host's", ":theirs"
	if !local {
		who, tool = r.remoteName()+"'s", ":ours"
	}
	stamp := r.app.Now().UTC().Format(time.RFC3339Nano)
	msg := fmt.Sprintf("chore(%s): %s side of the conflicts with %s, kept when resolving them (%s)", r.host, who, r.remoteName(), stamp)
	if err := r.jj.NewAt(ctx, parent[0].CommitID, msg); err != nil {
		return "", fmt.Errorf("cannot keep %s side: %w", who, err)
	}
	found, err := r.jj.Commits(ctx, "children("+parent[0].CommitID+") & description(substring:"+jj.TemplateString(msg)+")", nil)
	if err != nil || len(found) != 1 {
		return "", fmt.Errorf("cannot find the commit keeping %s side (%d found): %v", who, len(found), err)
	}
	x := found[0].ChangeID
	if err := r.jj.RestoreAll(ctx, "@", x); err != nil {
		return "", fmt.Errorf("cannot keep %s side: %w", who, err)
	}
	for _, d := range texts {
		if err := r.keepText(ctx, x, d.path, *d.other); err != nil {
			return "", fmt.Errorf("cannot keep %s side of %s: %w", who, d.path, err)
		}
	}
	if err := r.jj.ResolveWith(ctx, x, tool, nil); err != nil && !jj.NoConflicts(err) {
		return "", fmt.Errorf("cannot keep %s side: %w", who, err)
	}
	return x, nil
}

// keepText resolves path in rev with text (through a temporary file).
func (r *run) keepText(ctx context.Context, rev, path, text string) error {
	f, err := os.CreateTemp("", "chezmoi-sync-side-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return r.jj.ResolveWithFile(ctx, rev, path, f.Name())
}

// keepBookmark points a new kept/<host>/<time> bookmark at rev and returns
// the commit.
func (r *run) keepBookmark(ctx context.Context, rev string) (string, error) {
	name, err := r.newBookmark(ctx, "kept/"+r.host+"/"+r.stamp(), rev)
	if err != nil {
		return "", err
	}
	cs, err := r.jj.Commits(ctx, jj.LocalBookmark(name), nil)
	if err != nil || len(cs) != 1 {
		return "", fmt.Errorf("cannot read %s: %v", name, err)
	}
	r.keptBookmark = name
	return cs[0].CommitID, nil
}

// newBookmark points a bookmark no earlier run set at rev: base, or base
// with a counter when a run that started in the same second took it (a
// bookmark moved would leave what it kept reachable only from the op log).
func (r *run) newBookmark(ctx context.Context, base, rev string) (string, error) {
	var name string
	for i := 1; ; i++ {
		name = hostkey.Numbered(base, i)
		cs, err := r.jj.Commits(ctx, jj.LocalBookmark(name), nil)
		if err != nil {
			return "", err
		}
		if len(cs) == 0 {
			break
		}
	}
	if err := r.jj.BookmarkSet(ctx, name, rev); err != nil {
		return "", fmt.Errorf("cannot set %s: %w", name, err)
	}
	return name, nil
}

// applyDecisions writes the resolutions into the working copy.
func (r *run) applyDecisions(ctx context.Context, ds []decision) error {
	tools := map[string][]string{}
	for _, d := range ds {
		if d.tool != "" {
			tools[d.tool] = append(tools[d.tool], d.path)
		}
	}
	for _, tool := range []string{":ours", ":theirs"} {
		if len(tools[tool]) == 0 {
			continue
		}
		if err := r.jj.ResolveWith(ctx, "@", tool, tools[tool]); err != nil {
			return fmt.Errorf("cannot resolve %s: %w", strings.Join(tools[tool], ", "), err)
		}
	}
	for _, d := range ds {
		if d.text == nil {
			continue
		}
		p := filepath.Join(r.workTree, filepath.FromSlash(d.path))
		perm := os.FileMode(0o644)
		if st, err := os.Lstat(p); err == nil {
			perm = st.Mode().Perm()
		}
		if err := writeAtomic(p, []byte(*d.text), perm); err != nil {
			return fmt.Errorf("cannot write the resolution of %s: %w", d.path, err)
		}
	}
	return nil
}

// dropOtherSources: a side taken whole includes its source file's name.
// chezmoi renames the source for a mode change (chmod +x: dot_bashrc
// becomes executable_dot_bashrc), so a mode change on one host and an edit
// on the other leave a source file of the same target on each side, and
// chezmoi refuses two sources for one target ("inconsistent state"). For
// each file resolved by a choice, the other source files of its target
// that only the side not taken has are removed (that side stays in its
// commit, like the rest of it).
func (r *run) dropOtherSources(ctx context.Context, ds []decision) error {
	var chosen []decision
	for _, d := range ds {
		if d.how == howKeepLocal || d.how == howTakeRemote {
			chosen = append(chosen, d)
		}
	}
	if len(chosen) == 0 {
		return nil
	}
	files, err := r.jj.FileList(ctx, "@")
	if err != nil {
		return fmt.Errorf("cannot list the files of the working copy: %w", err)
	}
	byTarget := map[string][]string{}
	for _, f := range files {
		if t, ok := r.targetOf(f); ok {
			byTarget[t] = append(byTarget[t], f)
		}
	}
	localRev := r.localHead
	if localRev == "" {
		localRev = jj.RemoteBookmarks(r.park, r.c.Remote)
	}
	has := func(rev, p string) bool {
		_, err := r.jj.FileShow(ctx, rev, p)
		return err == nil
	}
	for _, d := range chosen {
		t, ok := r.targetOf(d.path)
		if !ok {
			continue
		}
		for _, o := range byTarget[t] {
			if o == d.path {
				continue
			}
			inRemote, inLocal := has(r.remoteRef, o), has(localRev, o)
			if d.how == howKeepLocal && inRemote && !inLocal || d.how == howTakeRemote && !inRemote {
				if err := os.Remove(filepath.Join(r.workTree, filepath.FromSlash(o))); err != nil {
					return fmt.Errorf("cannot remove %s, the other side's source of %s: %w", o, r.displayPath(d.path), err)
				}
			}
		}
	}
	return nil
}

// recordDecisions notes each resolution and where its side not taken is.
func (r *run) recordDecisions(ds []decision, left map[string]string, kept string) {
	for _, d := range ds {
		if _, still := left[d.path]; still || d.how == "" {
			continue
		}
		res := syncstate.Resolution{Path: d.path, How: d.how, Took: d.took, Reason: d.reason}
		if t, ok := r.targetOf(d.path); ok {
			res.Target = t
		}
		switch {
		case d.dropLocal:
			res.Discarded, res.DiscardedCommit, res.Bookmark = "local", kept, r.keptBookmark
		case d.dropRemote:
			res.Discarded, res.DiscardedCommit = "remote", cmp.Or(r.keptRemote, r.a.remote.CommitID)
		}
		r.rec.Resolutions = append(r.rec.Resolutions, res)
	}
}

// stillConflicted ends a resolving run that left files conflicted: their
// markers stay in the source directory, HOME is not touched.
func (r *run) stillConflicted(left []string) outcome {
	r.rec.Status = syncstate.ConflictsPreserved
	r.rec.Conflicts = []syncstate.Conflict{{Paths: left}}
	files := r.describePaths(left)
	r.rec.Error = "still conflicted: " + strings.Join(files, ", ")
	var args []string
	for _, p := range left {
		args = append(args, r.displayPath(p))
	}
	r.recipe = []string{
		"chezmoi-sync --keep-local " + strings.Join(args, " ") + "   # this host's side of each conflicting hunk",
		"chezmoi-sync --take-remote " + strings.Join(args, " ") + "   # or " + r.remoteName() + "'s",
		"cd " + r.workTree + " && ${EDITOR:-vi} " + strings.Join(left, " ") + "   # or edit the markers away, then: chezmoi-sync --continue",
	}
	r.rec.NextStep = fmt.Sprintf("choose a side (chezmoi-sync --keep-local or --take-remote %s), or edit the files in %s and run chezmoi-sync --continue",
		strings.Join(args, " "), r.workTree)
	return outcome{status: ui.Failed, stop: true, detail: fmt.Sprintf("%s left conflicted (markers in the source files, HOME untouched): %s",
		plural(len(left), "file"), strings.Join(files, ", "))}
}

// commitResolution commits the resolved working copy; the program goes on
// to publish and apply it.
func (r *run) commitResolution(ctx context.Context) (outcome, error) {
	r.mutated, r.stale = true, true
	cs, err := r.jj.Commits(ctx, "@", nil)
	if err != nil {
		return outcome{}, err
	}
	switch {
	case r.c.AutoCommit && len(cs) == 1 && !cs[0].Empty:
		if err := r.jj.Commit(ctx, r.resolutionMessage()); err != nil {
			return outcome{}, fmt.Errorf("cannot commit the resolution: %w", err)
		}
	case len(cs) == 1 && cs[0].Description != "":
		// autoCommit off: edits stay in the working copy, not committed,
		// not pushed, and the resolution is such an edit (attack 3, F13).
		// The resolution took the remote's side everywhere: nothing to
		// commit, and the fold's "resolve conflicts" subject must not
		// stay on the working copy for the next ordinary commit.
		if err := r.jj.Describe(ctx, "@", ""); err != nil {
			return outcome{}, fmt.Errorf("cannot clear the working copy's description: %w", err)
		}
	}
	local, err := r.jj.Commits(ctx, "("+r.remoteRef+"..@) ~ @", nil)
	if err != nil {
		return outcome{}, err
	}
	r.local, r.rebasedClean = local, true
	var parts []string
	for _, res := range r.rec.Resolutions {
		parts = append(parts, r.describeResolution(res))
	}
	detail := "nothing left to resolve"
	if len(parts) > 0 {
		detail = strings.Join(parts, "; ")
	}
	return outcome{detail: detail}, nil
}

// describeResolution is the line the output gives one resolution.
func (r *run) describeResolution(res syncstate.Resolution) string {
	p := r.displayPath(res.Path)
	where := ""
	switch res.Discarded {
	case "local":
		where = fmt.Sprintf(" (this host's side is in %s, on %s)", brief.ID(res.DiscardedCommit), r.keptBookmark)
	case "remote":
		where = fmt.Sprintf(" (%s's side is in %s)", r.remoteName(), brief.ID(res.DiscardedCommit))
	}
	switch res.How {
	case howKeepLocal:
		return p + ": kept this host's side" + where
	case howTakeRemote:
		return p + ": took " + r.remoteName() + "'s side" + where
	}
	return p + ": resolved without asking, " + res.Reason + where
}

// settleTrivially is the sync's answer to a conflicting rebase before it
// parks: when every conflicted file resolves without a choice (or a later
// local commit already resolves a conflicted one), it folds and resolves
// them, names each resolution, and the sync goes on to push. ok is false
// (and nothing was changed) when any file needs a person.
func (r *run) settleTrivially(ctx context.Context) (outcome, bool, error) {
	if !r.c.AutoCommit {
		return outcome{}, false, nil // a resolution is a commit: park, as before
	}
	ds, err := r.decide(ctx)
	if err != nil {
		return outcome{}, false, err
	}
	for _, d := range ds {
		if d.how != howTrivial {
			return outcome{}, false, nil
		}
	}
	if err := r.fold(ctx); err != nil {
		return outcome{}, true, err
	}
	kept, err := r.keepDroppedLocal(ctx, ds)
	if err != nil {
		return outcome{}, true, err
	}
	if r.keptRemote, err = r.keepDroppedRemote(ctx, ds); err != nil {
		return outcome{}, true, err
	}
	if err := r.applyDecisions(ctx, ds); err != nil {
		return outcome{}, true, err
	}
	left, err := r.jj.Conflicts(ctx, "@")
	if err != nil {
		return outcome{}, true, err
	}
	if len(left) > 0 {
		return outcome{}, true, fmt.Errorf("the trivial resolution of %s did not resolve it (jj op log shows the previous state)", strings.Join(keys(left), ", "))
	}
	r.recordDecisions(ds, left, kept)
	o, err := r.commitResolution(ctx)
	if err == nil {
		o.detail = fmt.Sprintf("%s onto %d incoming; conflicts resolved without asking: %s", plural(len(r.local), "local commit"), len(r.a.incoming), o.detail)
	}
	return o, true, err
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
