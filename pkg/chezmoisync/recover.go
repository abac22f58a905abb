package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Surviving a run killed inside a jj command (SIGKILL, power loss).
//
// A jj command that moves the working copy (commit, rebase, abandon) does,
// in order: write the new commits, point git HEAD at the new parent of @
// (colocated repository), record the operation, then rewrite the files of
// the working copy. Observed with jj 0.46 (a reproduction is in
// recover_test.go):
//   - killed after moving git HEAD but before recording the operation: the
//     next jj command "imports git head": it puts a new @ on the rebased
//     commit and snapshots the files on disk, still the old ones, as a
//     change of @: a revert of everything that came in, which a sync would
//     commit and push;
//   - killed after recording the operation but before rewriting the files:
//     every jj command fails with "The working copy is stale" until
//     `jj workspace update-stale`.
//
// So before the first jj command that moves the working copy, a run
// writes runMarkerFile in the state directory (no cost on the no-op path,
// which moves nothing) and removes it when it ends. A run that finds the
// marker knows the previous one died mid-way and, before any jj command
// snapshots: puts git HEAD back on jj's recorded parent of @ (so nothing
// is imported) and runs `jj workspace update-stale` (so the files match
// jj's recorded @). After that the working copy holds only real edits.
// As a last guard (someone ran jj by hand in between, which imports the
// moved HEAD before we can repair it), a change in @ that only restores
// files to their content before the interrupted run's rebase, although
// the new parent has other content, is recognised as that revert and
// dropped from @ (the dropped content is the pre-rebase version, still in
// the history): it is never committed.

const runMarkerFile = "sync-run.json"

// runMarker is what an unfinished run leaves behind. It names the step the
// run had reached and what it had done, the basis for repairing it and
// for continuing or undoing it.
type runMarker struct {
	PID          int       `json:"pid"`
	Start        time.Time `json:"start"`
	SourceDir    string    `json:"source_dir"`
	ParentBefore string    `json:"parent_before"` // @- before the working copy was moved
	// OpBefore is the jj operation before the run changed the repository:
	// `jj op restore` to it takes the whole run back.
	OpBefore string   `json:"op_before,omitempty"`
	Step     string   `json:"step"`           // the step running (or last run) when the marker was written
	Done     []string `json:"done,omitempty"` // steps finished before it, in order
	Program  []string `json:"program,omitempty"`
}

// marker is the run's handle on its marker file.
type marker struct {
	active bool      // this run wrote (or took over) the marker: remove it at the end
	own    bool      // m is this run's own, not one taken over from an interrupted run
	warned bool      // the marker could not be written (warned once)
	m      runMarker // what was last written
}

// mark records, before a step whose run a kill could leave half-done (and
// before every step after the first such one), the step reached. The first
// mark also records where the working copy was and the jj operation.
func (r *run) mark(ctx context.Context, step string) error {
	// Not by the pid: an interrupted run taken over may have had this
	// run's pid (pid namespaces make the sync pid 1 every time), and its
	// marker describes where the repository stood before that run.
	if !r.marker.own {
		r.marker.own = true
		r.marker.m = runMarker{PID: os.Getpid(), Start: r.rec.Start, SourceDir: r.workTree,
			ParentBefore: r.rec.BeforeLocal, Program: programNames(r.program)}
		if r.workTree != "" && isDir(filepath.Join(r.workTree, ".jj")) {
			r.marker.m.OpBefore, _ = r.jj.Operation(ctx)
		}
		// The home directory or the source is about to change: the stat
		// index no longer describes it until this run rewrites it.
		r.dropIndex()
	}
	r.marker.m.Step = step
	r.marker.m.SourceDir = r.workTree
	if err := state.WriteJSON(filepath.Join(r.app.StateDir, runMarkerFile), r.marker.m); err != nil {
		// The marker only matters if this run is killed inside jj; a full
		// or read-only state directory must not stop the sync itself (the
		// record write at the end fails the run and says so).
		if !r.marker.warned {
			r.io.Warnf("cannot record the run in the state directory (a kill during it would need a manual check: jj op log): %v", err)
			r.marker.warned = true
		}
		return nil
	}
	r.marker.active = true
	return nil
}

// reached notes a finished step in the marker's list (written with the
// next mark).
func (r *run) reached(step string) {
	if r.marker.active {
		r.marker.m.Done = append(r.marker.m.Done, step)
	}
}

// unmark removes the marker at the end of a run that was not killed.
func (r *run) unmark() {
	if r.marker.active {
		if err := state.Remove(filepath.Join(r.app.StateDir, runMarkerFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.io.Warnf("cannot remove %s: %v", runMarkerFile, err)
		}
	}
}

// recoverStep repairs the source directory after a killed run. Its plan
// costs one stat when there is nothing to repair.
type recoverStep struct{}

func (recoverStep) name() string { return "recover" }

func (recoverStep) plan(_ context.Context, r *run) (plan, error) {
	var m runMarker
	err := state.ReadJSON(filepath.Join(r.app.StateDir, runMarkerFile), &m)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return plan{skip: "no interrupted run", quiet: true}, nil
	case err != nil:
		r.io.Warnf("an earlier run was interrupted, and its marker is unreadable (%v): checking the source directory anyway", err)
	}
	r.recovered = &m
	return plan{does: fmt.Sprintf("repair the source directory after the interrupted run (pid %d, started %s, at step %s)",
		m.PID, m.Start.Format(time.RFC3339), orUnknown(m.Step)), changes: true}, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (recoverStep) run(ctx context.Context, r *run) (outcome, error) {
	m := r.recovered
	r.marker.active = true // replaced or removed by this run
	r.marker.m = *m
	dir := m.SourceDir
	if dir == "" {
		dir = r.cm.Source
	}
	if dir == "" || !isDir(filepath.Join(dir, ".jj")) {
		return outcome{status: ui.Warn, detail: "the previous run was interrupted before it changed the repository"}, nil
	}
	did, err := r.repair(ctx, dir)
	if err != nil {
		return outcome{}, err
	}
	detail := fmt.Sprintf("the previous run (pid %d, started %s) was interrupted at step %s", m.PID, m.Start.Format(time.RFC3339), orUnknown(m.Step))
	if len(did) > 0 {
		detail += ": " + strings.Join(did, "; ")
	} else {
		detail += ": nothing to repair"
	}
	return outcome{status: ui.Warn, detail: detail}, nil
}

// repair puts the repository in dir back in a state jj agrees with.
func (r *run) repair(ctx context.Context, dir string) ([]string, error) {
	var did []string
	// git's lock files the killed jj (or its git) left: with them every
	// later jj command that updates git's index, HEAD or refs fails
	// ("File exists ... .git/index.lock"). The previous run is dead and
	// this one holds the sync lock; git's index and ref locks guard caches
	// jj rewrites, so removing them loses nothing.
	if locks := removeGitLocks(dir); len(locks) > 0 {
		did = append(did, "removed stale git lock file(s) "+strings.Join(locks, ", "))
	}
	// jj's view, without snapshotting (which would import the moved HEAD).
	view := jj.Client{Runner: r.app.Runner, Dir: dir, IgnoreWorkingCopy: true}
	parents, err := view.Log(ctx, "@-", `commit_id ++ "\n"`)
	if err != nil {
		return nil, fmt.Errorf("an earlier run was interrupted and the repository in %s cannot be read (jj op log shows what happened): %w", dir, err)
	}
	ids := jj.ParseLines(parents)
	head, herr := r.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"rev-parse", "--verify", "-q", "HEAD"}, Dir: dir, Timeout: time.Minute})
	if len(ids) == 1 && (herr != nil || head.Out() != ids[0]) {
		if _, err := r.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"update-ref", "--no-deref", "HEAD", ids[0]}, Dir: dir, Timeout: time.Minute, Mutates: true}); err != nil {
			return nil, fmt.Errorf("an earlier run was interrupted; cannot put git HEAD back on %s: %w", brief.ID(ids[0]), err)
		}
		did = append(did, "git HEAD put back on "+brief.ID(ids[0])+" (it had moved to "+brief.ID(head.Out())+")")
	}
	moved, err := r.putBookmarkRefsBack(ctx, view, dir)
	if err != nil {
		return nil, err
	}
	if len(moved) > 0 {
		did = append(did, "git refs put back on jj's recorded bookmarks ("+strings.Join(moved, ", ")+")")
	}
	wc := jj.Client{Runner: r.app.Runner, Dir: dir, MaxNewFileSize: r.jj.MaxNewFileSize, NoAutoTrack: true}
	res, err := wc.UpdateStale(ctx)
	if err != nil {
		return nil, fmt.Errorf("an earlier run was interrupted; jj workspace update-stale failed: %w", err)
	}
	if strings.Contains(string(res.Stdout)+string(res.Stderr), "Updated working copy") {
		did = append(did, "working copy updated to jj's recorded state")
	}
	return did, nil
}

// putBookmarkRefsBack: a jj command killed after it exported its new
// bookmarks to git but before it recorded its operation leaves git's
// refs/heads/<bookmark> where jj never agreed to. The next jj command would
// import them, and jj abandons the commits a moved ref no longer reaches:
// a jj squash of --keep-local, killed so, moved sync/<host> off the parked
// commits and the next run lost this host's side (attack 3, F5). Like git
// HEAD, every ref of a bookmark jj records goes back on jj's commit first.
func (r *run) putBookmarkRefsBack(ctx context.Context, view jj.Client, dir string) ([]string, error) {
	marks, err := view.LocalBookmarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("an earlier run was interrupted and jj's bookmarks in %s cannot be read (jj op log shows what happened): %w", dir, err)
	}
	res, err := r.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"for-each-ref", "--format=%(refname)%09%(objectname)", "refs/heads/"}, Dir: dir, Timeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("an earlier run was interrupted and git's refs in %s cannot be read: %w", dir, err)
	}
	inGit := map[string]string{}
	for _, l := range jj.ParseLines(res.Out()) {
		if ref, id, ok := strings.Cut(l, "\t"); ok {
			inGit[ref] = id
		}
	}
	var moved []string
	for _, name := range slices.Sorted(maps.Keys(marks)) {
		ref := "refs/heads/" + name
		if got, ok := inGit[ref]; !ok || got == marks[name] {
			continue // absent: jj exports it again itself
		}
		if _, err := r.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"update-ref", ref, marks[name]}, Dir: dir, Timeout: time.Minute, Mutates: true}); err != nil {
			return nil, fmt.Errorf("an earlier run was interrupted; cannot put %s back on %s: %w", ref, brief.ID(marks[name]), err)
		}
		moved = append(moved, name)
	}
	return moved, nil
}

// dropRevertArtifacts is the last guard after an interrupted run: paths
// that @ changes back to their content before that run's rebase (its
// parent_before) although @- holds another content are the snapshot of
// stale files, not an edit. It returns the working-copy commit afresh when
// it changed it.
func (r *run) dropRevertArtifacts(ctx context.Context, wc jj.Commit) (jj.Commit, error) {
	m := r.recovered
	if m == nil || m.ParentBefore == "" || wc.Empty {
		return wc, nil
	}
	changed, err := r.jj.DiffNames(ctx, "@-", "@")
	if err != nil {
		return wc, err
	}
	fromBefore, err := r.jj.DiffNames(ctx, m.ParentBefore, "@")
	if err != nil {
		return wc, nil // the old parent is gone: nothing to compare with
	}
	differs := map[string]bool{}
	for _, p := range fromBefore {
		differs[p] = true
	}
	var stale []string
	for _, p := range changed {
		if !differs[p] {
			stale = append(stale, p)
		}
	}
	if len(stale) == 0 {
		return wc, nil
	}
	if err := r.jj.RestoreFrom(ctx, "@-", stale); err != nil {
		return wc, fmt.Errorf("cannot drop the stale files an interrupted run left in the working copy (%s): %w", strings.Join(stale, ", "), err)
	}
	r.io.Warnf("the working copy held %s as they were before the interrupted run's rebase (a jj command imported the moved git HEAD and snapshotted stale files): dropped from the working copy, not committed; those versions stay in the history (%s)",
		strings.Join(stale, ", "), brief.ID(m.ParentBefore))
	cs, err := r.jj.Commits(ctx, "@", []jj.Class{{Name: "wc", Revset: "@"}})
	if err != nil || len(cs) != 1 {
		return wc, err
	}
	return cs[0], nil
}

// clearStaleRefLocks: a `jj git fetch` killed inside git leaves
// .git/refs/remotes/<remote>/<branch>.lock behind, and every later fetch
// fails ("fetching ref refs/remotes/origin/main failed: reference already
// exists", observed with jj 0.46 / git 2.53). Only when a fetch failed that
// way are lock files under refs/remotes/<remote>/ removed: this run holds
// the sync lock, and remote-tracking refs are a cache of the remote that the
// retried fetch rewrites, so nothing can be lost. Returns what it removed.
func (r *run) clearStaleRefLocks(res runner.Result, err error) []string {
	var ee *runner.ExitError
	msg := string(res.Stderr)
	if errors.As(err, &ee) {
		msg += ee.Stderr
	}
	if !strings.Contains(msg, "reference already exists") && !strings.Contains(msg, ".lock") {
		return nil
	}
	root := filepath.Join(r.workTree, ".git", "refs", "remotes", r.c.Remote)
	var removed []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".lock") {
			if os.Remove(path) == nil {
				rel, _ := filepath.Rel(r.workTree, path)
				removed = append(removed, rel)
			}
		}
		return nil
	})
	return removed
}

// removeGitLocks removes *.lock files directly in .git (index.lock,
// HEAD.lock, packed-refs.lock) and under .git/refs; it returns their paths
// relative to dir.
func removeGitLocks(dir string) []string {
	var removed []string
	rm := func(path string) {
		if os.Remove(path) == nil {
			rel, _ := filepath.Rel(dir, path)
			removed = append(removed, rel)
		}
	}
	gitDir := filepath.Join(dir, ".git")
	if entries, err := os.ReadDir(gitDir); err == nil {
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".lock") {
				rm(filepath.Join(gitDir, e.Name()))
			}
		}
	}
	_ = filepath.WalkDir(filepath.Join(gitDir, "refs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".lock") {
			rm(path)
		}
		return nil
	})
	return removed
}
