package chezmoisync

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/ui"
)

// resolveStep finishes the recipe of a parked conflict: the user replayed
// the local commits onto the remote branch and fixed the files in the
// working copy; the commits below it still carry the conflict, and jj
// refuses to push them. They are folded into the working copy (jj
// squash), whose tree is the resolution, so every parked commit's change
// and every edit made since is in one conflict-free commit.
type resolveStep struct{}

func (resolveStep) name() string { return "resolve" }

func (resolveStep) plan(_ context.Context, r *run) (plan, error) {
	if !r.resolving {
		return plan{skip: "no resolution", quiet: true}, nil
	}
	return plan{does: "fold the conflicted local commits into the working copy, which resolves them (jj squash)",
		changes: true, marks: true, identity: true}, nil
}

func (resolveStep) run(ctx context.Context, r *run) (outcome, error) {
	local := "(" + r.remoteSet() + "..@)"
	from := "(roots(conflicts() & " + local + "):: & ::@- & " + local + ")"
	msg := fmt.Sprintf("chore(%s): resolve conflicts with %s - %s", r.host, r.remoteName(), r.app.Now().Format(time.RFC3339))
	if err := r.jj.Squash(ctx, from, "@", msg); err != nil {
		return outcome{}, fmt.Errorf("cannot fold the conflicted commits into the resolution (jj op log shows the previous state): %w", err)
	}
	r.mutated = true
	r.wc.Description = msg
	r.wc.Empty = false
	return outcome{detail: "conflicted commits folded into the working copy's resolution"}, nil
}

// captureStep re-adds the home files edited since chezmoi last wrote
// them, before anything comes in from the remote (merge.go: a file whose
// source changed too is merged first, or left alone and reported), and
// records re-pointed symlinks with chezmoi add (re-add ignores symlinks).
type captureStep struct{}

func (captureStep) name() string { return "capture" }

func (captureStep) plan(_ context.Context, r *run) (plan, error) {
	n := len(r.cls.Capture) + len(r.cls.Links)
	switch {
	case r.midResolution() && n > 0:
		return plan{skip: fmt.Sprintf("%s wait until the conflict is resolved (the next sync captures them)", plural(n, "home edit"))}, nil
	case !r.scanned:
		return plan{skip: "no managed file changed since the last sync (stat index)"}, nil
	case n == 0:
		return plan{skip: "no home-directory edits to capture"}, nil
	}
	does := fmt.Sprintf("re-add %s: %s", plural(len(r.cls.Capture), "file"), shortList(r.cls.Capture, 5))
	if len(r.cls.Links) > 0 {
		does += fmt.Sprintf("; record %s with chezmoi add: %s", plural(len(r.cls.Links), "re-pointed symlink"), shortList(r.cls.Links, 5))
	}
	// identity: the commit after it needs one; refused before the
	// capture, not after it.
	return plan{does: does, changes: true, marks: true, identity: r.c.AutoCommit}, nil
}

func (captureStep) run(ctx context.Context, r *run) (outcome, error) {
	readd, unmerged, err := r.splitCapture(ctx, r.cls.Capture)
	if err != nil {
		return outcome{}, err
	}
	readd = r.dropMarked(readd)
	r.rec.Unmerged = unmerged
	cm, done, err := r.chezmoiForAdd(ctx)
	if err != nil {
		return outcome{}, err
	}
	defer done()
	if err := cm.ReAdd(ctx, readd); err != nil {
		return outcome{}, fmt.Errorf("chezmoi re-add: %w", err)
	}
	if err := cm.Add(ctx, r.cls.Links); err != nil {
		return outcome{}, fmt.Errorf("chezmoi add (symlinks): %w", err)
	}
	captured, err := r.verifyCapture(ctx, readd)
	if err != nil {
		return outcome{}, err
	}
	captured = append(captured, r.cls.Links...)
	r.captured, r.rec.Captured = captured, captured
	if r.shadow != nil {
		if err := r.shadow.syncBack(); err != nil {
			return outcome{}, fmt.Errorf("cannot copy the captured edits from the shadow source directory: %w", err)
		}
	}
	if err := r.trackRenamed(ctx, captured); err != nil {
		return outcome{}, err
	}
	if !r.c.AutoCommit {
		// No commit step will snapshot the captured files, and the fetch
		// and analysis do not: record them in the working-copy commit now.
		if _, err := r.jj.Commits(ctx, "@", nil); err != nil {
			return outcome{}, err
		}
	}
	detail := fmt.Sprintf("%s captured", plural(len(captured), "file"))
	if n := len(r.rec.Merged); n > 0 {
		detail += fmt.Sprintf(" (%d merged with a source change first)", n)
	}
	if left := len(r.cls.Capture) + len(r.cls.Links) - len(captured); left > 0 {
		return outcome{status: ui.Warn, detail: detail + fmt.Sprintf(", %d left for you (see waiting)", left)}, nil
	}
	return outcome{detail: detail}, nil
}

// midResolution: a conflict command on commits already replayed onto the
// remote branch, with conflicts left in the working copy (settleStep
// resolves them there; capturing into those files would mix with them).
func (r *run) midResolution() bool {
	return resolves(r.mode) && r.conflictAt == stateRebased && !r.resolving
}

// chezmoiForAdd is the chezmoi client for re-add and add. With chezmoi's
// own git.autoCommit (or autoAdd) on, chezmoi runs `git add .` and `git
// commit` after them, which commits every file git does not track in the
// source directory (observed with chezmoi 2.73: "Update .bashrc Add
// secret.txt"), and jj would import that commit for this run to publish.
// So those chezmoi commands get a throw-away git repository (GIT_DIR) to
// do that in; the source directory's repository is left to jj.
func (r *run) chezmoiForAdd(ctx context.Context) (*chezmoi.Client, func(), error) {
	if r.chezmoiGit == "" {
		return r.cm, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "chezmoi-sync-autocommit-")
	if err != nil {
		return nil, nil, err
	}
	done := func() { _ = os.RemoveAll(dir) }
	if _, err := r.git(ctx, nil, "init", "-q", "--bare", dir); err != nil {
		done()
		return nil, nil, fmt.Errorf("cannot make a throw-away repository for chezmoi's git.autoCommit: %w", err)
	}
	cm := *r.cm
	cm.Env = append(append([]string(nil), cm.Env...), "GIT_DIR="+dir, "GIT_WORK_TREE="+r.workTree,
		"GIT_AUTHOR_NAME=chezmoi-sync", "GIT_AUTHOR_EMAIL=chezmoi-sync@localhost",
		"GIT_COMMITTER_NAME=chezmoi-sync", "GIT_COMMITTER_EMAIL=chezmoi-sync@localhost")
	if r.chezmoiGit == "commit" {
		r.warn("chezmoi's git.autoCommit is on: chezmoi-sync keeps chezmoi's own commits out of its captures, but a chezmoi add or edit by hand commits every file git does not track in %s, which the next sync publishes: turn it off ([git] autoCommit = false)", r.workTree)
	}
	return &cm, done, nil
}

// dropMarked leaves out home files that hold conflict markers (a merge
// left half-done at home): captured, they would be published.
func (r *run) dropMarked(targets []string) []string {
	var out []string
	for _, t := range targets {
		if hasMarkers(t) && !r.sourceHasMarkers(t) {
			r.noteWaiting([]chezmoi.Waiting{{Path: t, Kind: chezmoi.WaitMarkers, Next: markersNext(true)}})
			continue
		}
		out = append(out, t)
	}
	return out
}

// verifyCapture keeps the targets re-add really captured: chezmoi's record
// of what it last wrote must now hold the home file's content. Anything
// else is reported as waiting, never counted as captured.
func (r *run) verifyCapture(ctx context.Context, targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	written, err := r.cm.LastWritten(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read what chezmoi recorded after re-add (chezmoi state): %w", err)
	}
	var ok []string
	for _, t := range targets {
		sum, err := hashFile(t)
		if err == nil && written[t] == sum {
			ok = append(ok, t)
			continue
		}
		r.noteWaiting([]chezmoi.Waiting{{Path: t, Kind: "not-captured",
			Next: "chezmoi re-add did not capture it: chezmoi diff " + t + " shows how it differs; chezmoi re-add " + t + " tries again"}})
	}
	return ok, nil
}

// trackRenamed tracks the source files of captured targets whose source
// name changed (a mode change renames dot_x to executable_dot_x, an
// emptied file becomes empty_dot_x): jj tracks no new file by itself.
func (r *run) trackRenamed(ctx context.Context, captured []string) error {
	if len(captured) == 0 {
		return nil
	}
	after, err := r.cm.SourceFiles(ctx, captured)
	if err != nil {
		return fmt.Errorf("chezmoi managed: %w", err)
	}
	var renamed []string
	for _, t := range captured {
		if src, ok := after[t]; ok && src != r.managed[t].Source {
			if rel, ok := r.sourceRel(src); ok {
				renamed = append(renamed, rel)
			}
		}
	}
	if err := r.jj.TrackFiles(ctx, renamed); err != nil {
		return fmt.Errorf("cannot track %s: %w", strings.Join(renamed, ", "), err)
	}
	r.rec.Tracked = append(r.rec.Tracked, renamed...)
	return nil
}

// trackStep starts tracking new files in the source directory that
// chezmoi manages (a `chezmoi add`, chezmoi's own .chezmoi* files): jj
// runs with auto-track off, so nothing else ever enters the history. Other
// new files (a stray secret, notes) stay untracked and are reported.
type trackStep struct{}

func (trackStep) name() string { return "track" }

func (trackStep) plan(ctx context.Context, r *run) (plan, error) {
	if !r.scanned {
		return plan{skip: "no new files", quiet: true}, nil
	}
	untracked, err := r.untracked(ctx)
	if err != nil {
		return plan{}, err
	}
	if r.written == nil && len(untracked) > 0 {
		if r.written, err = r.cm.LastWritten(ctx); err != nil {
			return plan{}, fmt.Errorf("cannot read what chezmoi last wrote (chezmoi state): %w", err)
		}
	}
	track, left := r.splitUntracked(untracked)
	r.rec.Untracked = append(r.rec.Untracked, left...)
	if len(left) > 0 {
		r.warn("%s in %s stay out of the history and are not applied (neither chezmoi add nor the sync made them; publish one with: jj file track PATH, or chezmoi add its target): %s",
			plural(len(left), "new file"), r.workTree, strings.Join(left, ", "))
	}
	r.cls = r.withoutStray(r.cls)
	track = r.holdMarked(track)
	if len(track) == 0 {
		return plan{skip: "no new files chezmoi manages", quiet: true}, nil
	}
	r.rec.Tracked = append(r.rec.Tracked, track...)
	return plan{does: fmt.Sprintf("track %s chezmoi manages: %s", plural(len(track), "new file"), shortList(track, 5)), changes: true, marks: true}, nil
}

func (trackStep) run(ctx context.Context, r *run) (outcome, error) {
	n := len(r.rec.Tracked)
	if err := r.jj.TrackFiles(ctx, r.rec.Tracked); err != nil {
		return outcome{}, fmt.Errorf("jj file track: %w", err)
	}
	return outcome{detail: fmt.Sprintf("%s tracked", plural(n, "new file"))}, nil
}

// expandDirs: jj status names a new directory once ("dot_ssh/"), and a
// `chezmoi add ~/.ssh/config` makes exactly such a directory. Each file
// under it is judged on its own (attack 3, F2: the directory was never a
// source, so the file was never tracked, never published).
func (r *run) expandDirs(paths []string) []string {
	var out []string
	for _, p := range paths {
		dir, ok := strings.CutSuffix(p, "/")
		if !ok {
			out = append(out, p)
			continue
		}
		_ = filepath.WalkDir(filepath.Join(r.workTree, filepath.FromSlash(dir)), func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return nil
			case d.IsDir() && (d.Name() == ".git" || d.Name() == ".jj"):
				return filepath.SkipDir
			case d.IsDir():
				return nil
			}
			if rel, err := filepath.Rel(r.workTree, path); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	return out
}

// splitUntracked sorts untracked repository paths into those chezmoi
// manages (tracked by the sync) and the rest. Files a first colocation
// left untracked stay untracked.
//
// A source file is tracked only when chezmoi made it: its target is in
// chezmoi's entryState (`chezmoi add` and the sync's own re-add record
// it). A file dropped into the source directory by hand (a key, notes, an
// editor's backup dot_bashrc~ or autosave #dot_profile#) maps to a target
// too, but chezmoi never wrote or captured that target: it stays
// untracked, and its target is kept out of the apply (r.stray).
func (r *run) splitUntracked(untracked []string) (track, left []string) {
	sources := map[string]string{}
	for t, m := range r.managed {
		if rel, ok := r.sourceRel(m.Source); ok && m.Relative != "" {
			sources[rel] = t
		}
	}
	r.stray = map[string]bool{}
	root, _ := filepath.Rel(r.workTree, r.chezmoiRoot())
	excluded := map[string]bool{}
	var col colocation
	if state.ReadJSON(filepath.Join(r.app.StateDir, colocationFile), &col) == nil && col.SourceDir == r.workTree {
		for _, p := range col.Untracked {
			excluded[p] = true
		}
	}
	for _, p := range untracked {
		inRoot := strings.TrimPrefix(p, filepath.ToSlash(root)+"/")
		special := (root == "." || inRoot != p) && strings.HasPrefix(inRoot, ".chezmoi")
		t, managed := sources[p]
		_, made := r.written[t]
		switch {
		case excluded[p]:
		case !editorLeftover(p) && (special || managed && made):
			track = append(track, p)
		default:
			if managed {
				r.stray[t] = true
			}
			left = append(left, p)
		}
	}
	return track, left
}

// editorLeftover: names editors and merge tools leave beside a file
// (backups, autosaves, swap files, rejects), never a dotfile of its own.
func editorLeftover(p string) bool {
	base := path.Base(p)
	for _, suffix := range []string{"~", ".bak", ".swp", ".swo", ".orig", ".rej", ".tmp"} {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return strings.HasPrefix(base, "#") || strings.HasPrefix(base, ".#")
}

// untracked lists the new files jj does not track. A dry run's jj does not
// look at the files (--ignore-working-copy): git's list of files it does
// not track, less those jj tracks, is the same answer.
func (r *run) untracked(ctx context.Context) ([]string, error) {
	if !r.dry {
		out, err := r.jj.Untracked(ctx)
		if err != nil {
			return nil, fmt.Errorf("jj status: %w", err)
		}
		return r.expandDirs(out), nil
	}
	others, err := r.gitList(ctx, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w", r.workTree, err)
	}
	tracked, err := r.jj.FileList(ctx, "@")
	if err != nil {
		return nil, err
	}
	known := set(tracked)
	return slices.DeleteFunc(others, func(p string) bool { return known[p] }), nil
}

// withoutStray keeps the targets of stray source files out of what apply
// writes: chezmoi would otherwise write ~/id_rsa from a key dropped into
// the source directory.
func (r *run) withoutStray(c chezmoi.Classified) chezmoi.Classified {
	if len(r.stray) == 0 {
		return c
	}
	c.Pending = slices.DeleteFunc(slices.Clone(c.Pending), func(t string) bool { return r.stray[t] })
	for t := range r.stray {
		if !slices.Contains(c.Protected, t) {
			c.Protected = append(c.Protected, t)
		}
	}
	sort.Strings(c.Protected)
	return c
}

// chezmoiRoot is the source directory chezmoi reads (the work tree, or
// the directory its .chezmoiroot names).
func (r *run) chezmoiRoot() string {
	data, err := os.ReadFile(filepath.Join(r.workTree, ".chezmoiroot"))
	if err != nil {
		return r.workTree
	}
	return filepath.Join(r.workTree, strings.TrimSpace(string(data)))
}

// commitStep turns the working-copy commit into a sync commit when it
// holds changes (captured edits, new files, a resolution, edits made in the
// source directory).
type commitStep struct{}

func (commitStep) name() string { return "commit" }

func (commitStep) plan(_ context.Context, r *run) (plan, error) {
	dirty := !r.wc.Empty || len(r.cls.Capture)+len(r.cls.Links)+len(r.rec.Tracked) > 0 || r.resolving
	switch {
	case r.midResolution():
		return plan{skip: "the working copy holds the conflict being resolved", quiet: true}, nil
	case !dirty:
		return plan{skip: "nothing to commit"}, nil
	case !r.c.AutoCommit:
		return plan{skip: "autoCommit is off: the edits stay in the working-copy commit"}, nil
	}
	return plan{does: "commit the changes as " + r.commitMessage(), changes: true, marks: true, identity: true}, nil
}

func (r *run) commitMessage() string {
	if r.wc.Description != "" {
		return fmt.Sprintf("%q (your description)", r.wc.Description)
	}
	return fmt.Sprintf("chore(%s): sync dotfiles - %s", r.host, r.app.Now().Format(time.RFC3339))
}

func (commitStep) run(ctx context.Context, r *run) (outcome, error) {
	// Re-add may have found nothing to copy after all: ask jj (this also
	// snapshots the working copy).
	cs, err := r.jj.Commits(ctx, "@", []jj.Class{{Name: "wc", Revset: "@"}})
	if err != nil {
		return outcome{}, err
	}
	if len(cs) != 1 || cs[0].Empty {
		return outcome{status: ui.Skipped, detail: "nothing to commit after all"}, nil
	}
	msg := fmt.Sprintf("chore(%s): sync dotfiles - %s", r.host, r.app.Now().Format(time.RFC3339))
	if cs[0].Description != "" {
		// Someone described the working copy by hand: keep their message.
		msg = cs[0].Description
		err = r.jj.New(ctx)
	} else {
		err = r.jj.Commit(ctx, msg)
	}
	if err != nil {
		return outcome{}, fmt.Errorf("cannot commit: %w", err)
	}
	r.mutated, r.committed = true, true
	return outcome{detail: msg}, nil
}

// sourceHasMarkers: the home file's marker lines are all in its source
// file (a plain copy): they are the file's content, published before.
func (r *run) sourceHasMarkers(t string) bool {
	m, ok := r.managed[t]
	if !ok || m.Source == "" || !chezmoi.PlainCopy(m.Relative) {
		return false
	}
	home, err := os.ReadFile(t)
	if err != nil {
		return false
	}
	src, err := os.ReadFile(m.Source)
	if err != nil {
		return false
	}
	return knownMarkers(home, src)
}

// holdMarked keeps new source files holding a conflict-marker block out
// of the history (markers.go): waiting, never published by the sync.
func (r *run) holdMarked(track []string) []string {
	var out []string
	for _, p := range track {
		if !hasMarkers(filepath.Join(r.workTree, p)) {
			out = append(out, p)
			continue
		}
		what := p
		if t, ok := r.targetOf(p); ok {
			what = t
		}
		r.rec.Untracked = append(r.rec.Untracked, p)
		r.noteWaiting([]chezmoi.Waiting{{Path: what, Kind: chezmoi.WaitMarkers, Next: markersNext(false)}})
	}
	return out
}
