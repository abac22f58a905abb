package chezmoisync

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// inspectStep reads the repository before anything is changed and refuses
// the states the sync does not understand: a git operation stopped half-way
// (its conflict markers would be committed, pushed and applied on every
// host), an unreadable git index or jj working copy, unresolved conflicts,
// conflict markers jj does not know about, and sync/<host> commits outside
// the working copy's history (publishing without them would drop them).
// It also decides, from the stat index, whether the home directory has to
// be scanned, and starts that scan beside jj's query.
type inspectStep struct{}

func (inspectStep) name() string { return "inspect" }

func (inspectStep) plan(context.Context, *run) (plan, error) {
	return plan{does: "check the repository"}, nil
}

func (inspectStep) run(ctx context.Context, r *run) (outcome, error) {
	if err := gitState(r.workTree); err != nil {
		return outcome{}, err
	}
	type checked struct {
		commits []jj.Commit
		err     error
	}
	done := make(chan checked, 1)
	go func() {
		cs, err := r.jj.Commits(ctx, r.checkRevset(), r.checkClasses())
		done <- checked{cs, err}
	}()
	r.checkIndex()
	if r.mode == modeUndo || r.mode == modeAbort {
		// What HOME holds now decides what the undo or abort may overwrite.
		r.indexDirty = "an " + r.mode + " compares the home directory with the source"
	}
	if r.indexDirty != "" {
		r.startScan(ctx)
	}
	res := <-done
	if res.err != nil {
		return outcome{}, refuse(fmt.Sprintf("cannot read the repository in %s: %s", r.workTree, errDetail(res.err)),
			"check it with jj status and git status in "+r.workTree+" (jj op log shows what happened); nothing was changed")
	}
	if err := r.judge(res.commits); err != nil {
		return outcome{}, err
	}
	if err := r.checkMarkers(ctx); err != nil {
		return outcome{}, err
	}
	if !r.wc.Empty && r.indexDirty == "" {
		r.indexDirty = "the source directory has changes"
	}
	wc, err := r.dropRevertArtifacts(ctx, r.wc)
	r.wc = wc
	return outcome{}, err
}

func (r *run) checkClasses() []jj.Class {
	rs := r.remoteSet()
	return []jj.Class{
		{Name: "wc", Revset: "@"}, {Name: "parent", Revset: "@-"}, {Name: "remote", Revset: rs},
		{Name: "local", Revset: "(" + rs + "..@) ~ @"},
		{Name: "parkedOut", Revset: jj.LocalBookmark(r.park) + " ~ ::@"},
		{Name: "parked", Revset: jj.LocalBookmark(r.park) + " & (" + rs + "..@)"},
	}
}

// checkRevset is one jj query (which also snapshots the working copy):
// the working copy, its parent, the remote branch, the local commits, every
// conflicted ancestor and a sync/<host> outside the working copy's history.
func (r *run) checkRevset() string {
	rs := r.remoteSet()
	return "@ | @- | " + rs + " | (" + rs + "..@) | (conflicts() & ::@) | (" + jj.LocalBookmark(r.park) + " ~ ::@)"
}

// judge reads the check query.
func (r *run) judge(commits []jj.Commit) error {
	var conflicted, parkedOut []jj.Commit
	localConflict, parked := true, false
	for _, c := range commits {
		switch {
		case c.Is("wc"):
			r.wc = c
		case c.Is("local"):
			r.localAhead = true
		}
		if c.Is("parent") && r.rec.BeforeLocal == "" {
			r.rec.BeforeLocal = c.CommitID
		}
		if c.Conflict {
			conflicted = append(conflicted, c)
			localConflict = localConflict && (c.Is("local") || c.Is("wc"))
		}
		if c.Is("remote") {
			r.hadRemote, r.remoteBefore = true, c.CommitID
		}
		if c.Is("parkedOut") {
			parkedOut = append(parkedOut, c)
		}
		parked = parked || c.Is("parked")
	}
	r.rec.AfterLocal = r.rec.BeforeLocal
	if len(parkedOut) > 0 {
		return &refusal{word: syncstate.ConflictsPreserved, code: exitcode.Conflicts,
			msg:  fmt.Sprintf("%s holds parked commits that are not under the working copy (%s): publishing now would leave them out", r.park, brief.ID(parkedOut[0].CommitID)),
			next: fmt.Sprintf("bring them back under it: cd %s && jj rebase -b @ -d %s, then run chezmoi-sync again", r.workTree, r.park)}
	}
	autoCommitOff := r.prev != nil && r.prev.Status == syncstate.ConflictsPreserved && r.prev.Parked == "" && !r.wc.Empty
	switch {
	case len(conflicted) == 0 && (parked || autoCommitOff):
		r.conflictAt = stateParked
	case len(conflicted) == 0:
	case !r.wc.Conflict && localConflict:
		// The recipe's resolution: the files of the working copy are fixed,
		// the commits below it still carry the conflict. resolveStep folds
		// them into the working copy.
		r.resolving, r.conflictAt = true, stateRebased
	case localConflict && resolves(r.mode):
		r.conflictAt = stateRebased // settleStep resolves it
	default:
		return r.conflictRefusal(conflicted)
	}
	return r.judgeMode()
}

// Where a conflict to resolve stands.
const (
	stateParked  = "parked"  // the local commits are parked on sync/<host>, clean where they stand
	stateRebased = "rebased" // the local commits were replayed onto the remote branch: conflicts under @
)

// resolves: the modes that finish or give up a conflict.
func resolves(mode string) bool {
	return mode == modeResolve || mode == modeContinue || mode == modeAbort
}

// judgeMode refuses a conflict command without a conflict, and an undo
// while one waits or while the working copy holds changes.
func (r *run) judgeMode() error {
	switch {
	case resolves(r.mode) && r.conflictAt == "":
		return exitcode.UsageError(fmt.Errorf("nothing to %s: %w (chezmoi-show-conflicts shows none); run chezmoi-sync for a plain sync",
			map[string]string{modeResolve: "resolve", modeContinue: "continue", modeAbort: "abort"}[r.mode], errNothing))
	case r.mode == modeUndo && r.conflictAt != "":
		return &refusal{word: syncstate.ConflictsPreserved, code: exitcode.Conflicts,
			msg:  "a conflict is waiting (" + r.park + "): an undo would mix with it; nothing was changed",
			next: "resolve it first (chezmoi-sync --keep-local, --take-remote or --continue) or give it up (chezmoi-sync --abort), then undo"}
	case r.mode == modeUndo && !r.wc.Empty:
		return refuse("the source directory holds changes no sync has committed ("+r.workTree+"): an undo would take them back with the rest; nothing was changed",
			"commit them with chezmoi-sync (or drop them: cd "+r.workTree+" && jj restore), then undo")
	}
	return nil
}

// conflictRefusal: unresolved conflicts in the working copy's history.
// Nothing is changed; the recipe says how to finish them.
func (r *run) conflictRefusal(conflicted []jj.Commit) error {
	r.recordConflicts(context.Background(), conflicted)
	var paths []string
	for _, c := range r.rec.Conflicts {
		paths = append(paths, c.Paths...)
	}
	paths = uniq(paths)
	return &refusal{word: syncstate.ConflictsPreserved, code: exitcode.Conflicts,
		msg:  fmt.Sprintf("%d commit(s) in the working copy's history hold unresolved conflicts (%s): nothing was changed", len(conflicted), strings.Join(paths, ", ")),
		next: "resolve them: " + showconflicts.RecipeLine(r.workTree, r.remoteName(), r.park, paths)}
}

func (r *run) recordConflicts(ctx context.Context, commits []jj.Commit) {
	for _, c := range commits {
		paths, err := r.jj.ConflictPaths(ctx, c.CommitID)
		if err != nil {
			r.io.Warnf("cannot list the conflicted files of %s: %v", c.CommitID, err)
		}
		if paths == nil {
			paths = []string{}
		}
		r.rec.Conflicts = append(r.rec.Conflicts, syncstate.Conflict{ChangeID: c.ChangeID, CommitID: c.CommitID, Paths: paths})
	}
}

// gitState refuses a git operation in progress and an index git cannot
// read: before any jj command, whose snapshot would commit whatever the
// stopped operation left in the files.
func gitState(dir string) error {
	gitDir := filepath.Join(dir, ".git")
	for _, op := range []struct{ path, what, abort string }{
		{"rebase-merge", "a git rebase", "git rebase --continue (or --abort)"},
		{"rebase-apply", "a git rebase or am", "git rebase --continue (or --abort)"},
		{"MERGE_HEAD", "a git merge", "git merge --continue (or --abort)"},
		{"CHERRY_PICK_HEAD", "a git cherry-pick", "git cherry-pick --continue (or --abort)"},
		{"REVERT_HEAD", "a git revert", "git revert --continue (or --abort)"},
		{"BISECT_LOG", "a git bisect", "git bisect reset"},
		{"sequencer", "a git cherry-pick or revert sequence", "git cherry-pick --continue (or --quit)"},
	} {
		if exists(filepath.Join(gitDir, op.path)) {
			return refuse(fmt.Sprintf("%s is in progress in %s (its files may hold conflict markers): nothing was changed", op.what, dir),
				fmt.Sprintf("finish it first: cd %s && %s, then run chezmoi-sync again", dir, op.abort))
		}
	}
	if why := badIndex(filepath.Join(gitDir, "index")); why != "" {
		return refuse(fmt.Sprintf("git's index %s is unreadable (%s): nothing was changed", filepath.Join(gitDir, "index"), why),
			fmt.Sprintf("rebuild it: cd %s && rm .git/index && git reset, then run chezmoi-sync again", dir))
	}
	return nil
}

// badIndex checks the header of git's index file (signature "DIRC",
// version 2 to 4): jj ignores a garbled index, git does not.
func badIndex(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "" // no index: git rebuilds it
	}
	defer f.Close()
	head := make([]byte, 12)
	if n, _ := f.Read(head); n < 12 {
		return "shorter than its header"
	}
	if string(head[:4]) != "DIRC" {
		return "no DIRC signature"
	}
	if v := int(head[7]) | int(head[6])<<8; v < 2 || v > 4 {
		return fmt.Sprintf("unknown version %d", v)
	}
	return ""
}

// checkMarkers refuses conflict markers in files the local changes touch
// that jj does not see as a conflict (left by git, or by a hand merge): a
// sync would commit, push and apply them on every host. Only paid when
// there are local changes.
func (r *run) checkMarkers(ctx context.Context) error {
	if r.wc.Empty && !r.localAhead {
		return nil
	}
	from := "fork_point(" + r.remoteSet() + " | @)"
	if !r.localAhead {
		from = "@-"
	}
	paths, err := r.jj.DiffNames(ctx, from, "@")
	if err != nil {
		return fmt.Errorf("cannot list the local changes: %w", err)
	}
	// Resolving: the files jj records as conflicted hold its markers on
	// purpose (settleStep resolves them); any other file must not.
	skip := map[string]string{}
	if r.conflictAt == stateRebased && resolves(r.mode) {
		if skip, err = r.jj.Conflicts(ctx, "@"); err != nil {
			return err
		}
	}
	// After a replay the files held markers: any marker line left (a
	// half-deleted conflict jj no longer reads as one) counts.
	detect := hasMarkers
	if r.conflictAt == stateRebased || resolves(r.mode) {
		detect = hasMarkerLines
	}
	var bad []string
	for _, p := range paths {
		if _, ok := skip[p]; !ok && detect(filepath.Join(r.workTree, p)) {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if resolves(r.mode) {
		return &refusal{word: syncstate.ConflictsPreserved, code: exitcode.Conflicts,
			msg:  fmt.Sprintf("conflict markers remain in %s (jj no longer reads them as a conflict: a marker line was changed or deleted): nothing was changed", strings.Join(bad, ", ")),
			next: fmt.Sprintf("fix the files in %s (delete every <<<<<<< ||||||| ======= >>>>>>> line, keep what you want), then run chezmoi-sync --continue", r.workTree)}
	}
	return refuse(fmt.Sprintf("conflict markers in %s, which jj does not record as a conflict (a git merge or a hand merge left them): nothing was changed", strings.Join(bad, ", ")),
		fmt.Sprintf("fix the files in %s (delete the <<<<<<< ======= >>>>>>> lines, keep what you want), then run chezmoi-sync again", r.workTree))
}

// hasMarkers reports a text file holding a complete conflict: a line
// starting "<<<<<<< " (or exactly "<<<<<<<") and a later ">>>>>>>" line.
func hasMarkers(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 8<<20 {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil || bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	open := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 8<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "<<<<<<<" || strings.HasPrefix(l, "<<<<<<< "):
			open = true
		case open && (l == ">>>>>>>" || strings.HasPrefix(l, ">>>>>>> ")):
			return true
		}
	}
	return false
}

// hasMarkerLines reports a text file holding any line that starts like a
// conflict marker of jj's or git's (seven <, >, %, \, + or | and then a
// space or the line's end); ======= and ------- alone are too common in
// dotfiles to count.
func hasMarkerLines(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 8<<20 {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil || bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		for _, c := range []byte{'<', '>', '%', '\\', '+', '|'} {
			if isMarkerLine(l, c) {
				return true
			}
		}
	}
	return false
}

func isMarkerLine(l string, c byte) bool {
	n := 0
	for n < len(l) && l[n] == c {
		n++
	}
	return n >= 7 && (n == len(l) || l[n] == ' ')
}
