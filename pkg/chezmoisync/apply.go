package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// applyStep writes what came in (and source changes HOME has not seen) to
// the home directory with `chezmoi apply --error-on-conflict
// --keep-going`. Files edited since chezmoi last wrote them are left alone
// by chezmoi; files chezmoi would touch although the sync protects them (a
// modify_ target edited at home, an unmanaged file in an exact_ directory,
// a file deleted at home) are kept out of the apply; an existing file
// chezmoi never wrote is copied to the state directory first. A failing
// run_ script fails the run, named with its own error line.
type applyStep struct{}

func (applyStep) name() string { return "apply" }

func (applyStep) plan(ctx context.Context, r *run) (plan, error) {
	if r.dry && (slices.Contains(r.planned, "abort") || slices.Contains(r.planned, "undo")) {
		// What HOME gets depends on the source the real run leaves.
		return plan{does: "bring the home directory in line with the source as the " + r.mode + " leaves it (home files edited since are kept; every file changed is copied to " + r.backupDir() + " first)", changes: true}, nil
	}
	if !r.rebasedClean && !r.remoteMoved && len(r.rewound) == 0 && len(r.cls.Pending)+len(r.cls.Scripts) == 0 && r.recovered == nil {
		return plan{skip: "nothing came in"}, nil
	}
	if r.rebasedClean || !r.scanned {
		// What came in changed the target state: read it again (backups
		// and protections depend on it).
		if r.shadow != nil {
			if err := r.shadow.refresh(); err != nil {
				return plan{}, err
			}
		}
		if err := r.scanHome(ctx); err != nil {
			return plan{}, err
		}
		r.scanned = true
		r.noteWaiting(r.cls.Waiting)
		r.noteWarnings(r.warnings)
	}
	c := r.cls
	does := "apply to the home directory"
	if n := len(c.Pending) + len(c.Scripts); n > 0 {
		does += fmt.Sprintf(": %s", plural(n, "change"))
	}
	if gone := r.goneTargets(); len(gone) > 0 {
		does += fmt.Sprintf("; remove %s no longer managed (unless edited since): %s", plural(len(gone), "file"), shortList(gone, 5))
	}
	if b := r.backupTargets(); len(b) > 0 && r.managedBefore != nil {
		does += fmt.Sprintf("; first copy the %s it overwrites or removes to %s", copyCount(b), r.backupDir())
	} else if len(b) > 0 {
		does += fmt.Sprintf("; first copy %s chezmoi never wrote to %s: %s", copyCount(b), r.backupDir(), shortList(copyNames(b, b), 5))
	}
	if len(c.Protected) > 0 {
		does += fmt.Sprintf("; leave %s alone: %s", plural(len(c.Protected), "file"), shortList(c.Protected, 5))
	}
	return plan{does: does, changes: true, marks: true}, nil
}

func (applyStep) run(ctx context.Context, r *run) (outcome, error) {
	if err := r.backup(); err != nil {
		return outcome{}, err
	}
	if err := r.unapplyGone(ctx); err != nil {
		return outcome{}, err
	}
	var targets []string
	if len(r.cls.Protected) > 0 {
		targets = applyTargets(r.managed, r.cls.Protected, r.app.Getenv("HOME"))
	}
	res, err := r.cm.Apply(ctx, targets...)
	r.noteWarnings(chezmoi.ParseWarnings(string(res.Stderr)))
	defer r.noteApplied()
	detail := r.applied()
	if err == nil {
		if detail == "" && len(r.cls.Pending) > 0 {
			// Every change to HOME gets a line, not only removals.
			detail = "wrote " + shortList(relHomeAll(r.cls.Pending, r.app.Getenv("HOME")), 5)
		}
		return outcome{detail: detail}, nil
	}
	if ctx.Err() != nil {
		return outcome{}, err
	}
	skipped, ferr := r.applyFailures(string(res.Stderr), err)
	if ferr != nil {
		return outcome{}, ferr
	}
	r.rec.Skipped = skipped
	for _, s := range skipped {
		r.noteWaiting([]chezmoi.Waiting{{Path: s, Kind: chezmoi.WaitSkipped, Next: chezmoi.WaitNext(chezmoi.WaitSkipped, s)}})
	}
	r.io.Warnf("left %s alone because they changed since chezmoi last wrote them (chezmoi diff shows how; chezmoi merge or re-add settles them): %s",
		plural(len(skipped), "home file"), strings.Join(skipped, ", "))
	return outcome{status: ui.Warn, detail: strings.TrimPrefix(detail+fmt.Sprintf("; %d skipped", len(skipped)), "; ")}, nil
}

// applied names what apply removed and what it copied first (never a
// silent deletion).
func (r *run) applied() string {
	home := r.app.Getenv("HOME")
	var parts []string
	for _, p := range r.cls.Removals {
		if !exists(p) {
			r.rec.Removed = append(r.rec.Removed, p)
		}
	}
	if n := len(r.rec.Removed); n > 0 {
		parts = append(parts, "removed "+strings.Join(relHomeAll(r.rec.Removed, home), ", "))
	}
	if len(r.rec.Backups) > 0 {
		var paths, copies []string
		for _, b := range r.rec.Backups {
			paths = append(paths, relHome(b.Path, home))
			copies = append(copies, b.Copy)
		}
		what := "chezmoi never wrote "
		if r.managedBefore != nil {
			what = "it changed "
		}
		parts = append(parts, fmt.Sprintf("%s %scopied to %s first: %s", copyCount(copies), what, r.backupDir(), strings.Join(copyNames(paths, copies), ", ")))
	}
	return strings.Join(parts, "; ")
}

func relHomeAll(paths []string, home string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = relHome(p, home)
	}
	return out
}

// applyFailures reads apply's failures: a failed run_ script is the run's
// error (its name, chezmoi's reason and the script's own last line); the
// other failures are targets chezmoi left alone.
func (r *run) applyFailures(stderr string, err error) ([]string, error) {
	home := r.app.Getenv("HOME")
	scripts := map[string]bool{}
	for t, m := range r.managed {
		if chezmoi.ParseSourceName(m.Relative).Script != "" {
			scripts[relHome(t, home)] = true
		}
	}
	var skipped []string
	for _, f := range chezmoi.ParseApplyErrors(stderr) {
		if scripts[f.Target] {
			msg := fmt.Sprintf("run_ script %s failed: %s", f.Target, f.Reason)
			if f.Context != "" {
				msg += ": " + f.Context
			}
			return nil, fmt.Errorf("%s", msg)
		}
		if f.Target == "" {
			return nil, fmt.Errorf("chezmoi apply: %s", f.Reason)
		}
		skipped = append(skipped, filepath.Join(home, f.Target))
	}
	if len(skipped) == 0 {
		return nil, fmt.Errorf("chezmoi apply: %s", chezmoi.Cause(err))
	}
	return skipped, nil
}

func relHome(p, home string) string {
	if rel, err := filepath.Rel(home, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return p
}

// applyTargets is every managed target but the protected ones and their
// ancestors (applying a directory applies what is inside it: an exact_
// directory would delete the file kept in it).
func applyTargets(managed map[string]chezmoi.Managed, protected []string, home string) []string {
	skip := map[string]bool{}
	for _, p := range protected {
		for q := p; q != home && q != filepath.Dir(q); q = filepath.Dir(q) {
			skip[q] = true
		}
	}
	var out []string
	for t := range managed {
		if !skip[t] {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// backupDir is where this run's copies go: the directory backup reserved,
// or before that the one it would reserve (for plans and messages).
func (r *run) backupDir() string {
	if r.backups != "" {
		return r.backups
	}
	for i := 1; ; i++ {
		if p := r.backupCandidate(i); !exists(p) {
			return p
		}
	}
}

// backupCandidate names the i-th choice of backup directory: the run's
// start time, then with a counter. Two runs can start within one second
// (an undo and the sync after it): the second must never meet the first's
// copies.
func (r *run) backupCandidate(i int) string {
	return filepath.Join(r.app.StateDir, "backups", hostkey.Numbered(r.stamp(), i))
}

// reserveBackupDir creates a backup directory no earlier run used
// (os.Mkdir fails on one that exists, so two runs never share it).
func (r *run) reserveBackupDir() error {
	if err := os.MkdirAll(filepath.Join(r.app.StateDir, "backups"), 0o700); err != nil {
		return err
	}
	for i := 1; i < 1000; i++ {
		p := r.backupCandidate(i)
		err := os.Mkdir(p, 0o700)
		if err == nil {
			r.backups = p
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return fmt.Errorf("no free backup directory under %s", filepath.Join(r.app.StateDir, "backups"))
}

// noteApplied records the home files apply wrote or removed (what came
// in), for the undo record.
func (r *run) noteApplied() {
	skipped := map[string]bool{}
	for _, s := range r.rec.Skipped {
		skipped[s] = true
	}
	for _, p := range r.cls.Pending {
		if !skipped[p] {
			r.rec.Applied = append(r.rec.Applied, p)
		}
	}
}

// backupTargets are the home files to copy before apply: those chezmoi
// never wrote (a directory with all it holds); for an undo or an abort,
// every existing file it overwrites or removes (what they held is in the
// history too, but HOME is what the user works with). A path inside a
// directory already copied is left out (its copy is in that one's).
func (r *run) backupTargets() []string {
	if r.managedBefore == nil {
		return withoutNested(r.cls.Backup)
	}
	out := slices.Clone(r.cls.Backup)
	for _, p := range append(slices.Clone(r.cls.Pending), r.goneTargets()...) {
		if st, err := os.Lstat(p); err == nil && (st.Mode().IsRegular() || st.Mode()&os.ModeSymlink != 0) {
			out = append(out, p)
		}
	}
	return withoutNested(out)
}

// withoutNested drops repeated paths and paths inside another one of the
// list, keeping the order.
func withoutNested(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !slices.ContainsFunc(paths, func(q string) bool { return strings.HasPrefix(p, q+"/") }) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// backup copies the home files chezmoi never wrote that apply is about to
// replace or remove (a first run on a machine, a file another host started
// managing, a directory where the source now has a file, a link or a
// removal), and for an undo or abort every file it changes: never
// overwritten without a copy.
func (r *run) backup() error {
	targets := r.backupTargets()
	if len(targets) == 0 {
		return nil
	}
	// The copies go under the state directory: only once it passed the
	// state package's checks (ours, not a link, not writable by others).
	h, err := state.OpenDir(r.app.StateDir)
	if err != nil {
		return err
	}
	_ = h.Close()
	if err := r.reserveBackupDir(); err != nil {
		return fmt.Errorf("cannot create a directory for the copies of home files (nothing was applied): %w", err)
	}
	home := r.app.Getenv("HOME")
	for _, p := range targets {
		dst := filepath.Join(r.backupDir(), relHome(p, home))
		if err := copyTree(p, dst); err != nil {
			return fmt.Errorf("cannot back up %s before apply replaces it (nothing was applied): %w", p, err)
		}
		r.rec.Backups = append(r.rec.Backups, syncstate.Backup{Path: p, Copy: dst})
	}
	return nil
}

// copyTree copies src to dst without following links: a file or symlink
// as copyEntry does, a directory with everything in it (modes kept, made
// with os.Mkdir: never into a directory that exists). A socket, pipe or
// device holds nothing to keep and is left out.
func copyTree(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() && st.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		return copyEntry(src, dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	d, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := copyTree(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
			return err
		}
	}
	return os.Chmod(dst, st.Mode().Perm()|0o700)
}

// copyEntry copies a regular file (mode kept) or a symlink.
func copyEntry(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, st.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyCount says what paths are: "2 files", "1 directory", "1 file and 1
// directory" (a directory is copied with all it holds).
func copyCount(paths []string) string {
	dirs := 0
	for _, p := range paths {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			dirs++
		}
	}
	var out []string
	if n := len(paths) - dirs; n > 0 {
		out = append(out, plural(n, "file"))
	}
	if dirs == 1 {
		out = append(out, "1 directory")
	} else if dirs > 1 {
		out = append(out, fmt.Sprintf("%d directories", dirs))
	}
	return strings.Join(out, " and ")
}

// copyNames are names, with "/" and the number of files it holds for
// one whose at (the home path before apply, or its copy) is a directory.
func copyNames(names, at []string) []string {
	out := slices.Clone(names)
	for i, p := range at {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			files := 0
			_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files++
				}
				return nil
			})
			out[i] += fmt.Sprintf("/ (%s)", plural(files, "file"))
		}
	}
	return out
}

// goneTargets are the targets chezmoi managed before an undo or abort
// moved the source and does not any more: files that came in with what is
// taken back. chezmoi apply leaves unmanaged files alone, so unapplyGone
// removes them.
func (r *run) goneTargets() []string {
	if r.managedBefore == nil {
		return nil
	}
	var out []string
	for t := range r.managedBefore {
		if _, ok := r.managed[t]; !ok {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// unapplyGone removes the gone targets that hold what chezmoi last wrote
// there (copied first, by backup); one edited since stays and is reported.
func (r *run) unapplyGone(ctx context.Context) error {
	gone := r.goneTargets()
	if len(gone) == 0 {
		return nil
	}
	written, err := r.cm.LastWritten(ctx)
	if err != nil {
		return fmt.Errorf("cannot read what chezmoi last wrote (chezmoi state): %w", err)
	}
	for _, t := range gone {
		st, err := os.Lstat(t)
		if err != nil || st.IsDir() {
			continue
		}
		sum := ""
		if st.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(t); err == nil {
				sum = sha([]byte(target))
			}
		} else {
			sum, _ = hashFile(t)
		}
		if sum == "" || sum != written[t] {
			r.noteWaiting([]chezmoi.Waiting{{Path: t, Kind: "kept",
				Next: "no longer managed after the " + r.mode + ", but edited since chezmoi wrote it: kept; delete it if you do not want it"}})
			continue
		}
		if err := os.Remove(t); err != nil {
			return fmt.Errorf("cannot remove %s (no longer managed): %w", t, err)
		}
		if err := r.cm.ForgetWritten(ctx, t); err != nil {
			return fmt.Errorf("cannot update chezmoi's state after removing %s: %w", t, err)
		}
		r.rec.Removed = append(r.rec.Removed, t)
	}
	return nil
}
