package chezmoisync

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixdots/nixdots/pkg/chezmoi"
)

// Externals (.chezmoiexternal.*, .chezmoiexternals/) are fetched by every
// chezmoi command that reads the source state. Offline, an external that is
// not in chezmoi's cache makes them all fail: status, managed, re-add and
// apply, even with --exclude=externals for archives (chezmoi reads the
// archive to know its targets; observed with chezmoi 2.73, upstream issue
// twpayne/chezmoi#4684). So the run degrades like any offline run:
//
//  1. chezmoi is asked again with --exclude=externals (enough for file
//     externals);
//  2. else it works on a shadow of the source directory: a private copy
//     of the work tree without the externals' files. Status, managed,
//     re-add and apply run there; what re-add changed is copied back into
//     the real source directory, which jj commits as usual.
//
// The external is named (record: unreachable_externals) and the run ends
// fetch-failed (exit 0, 4 with --exit-code).

// shadow is the private copy of the work tree.
type shadow struct {
	real string // the work tree
	dir  string // its copy
}

// chezmoiReadable runs query, and when it fails on an external that cannot
// be fetched, retries without externals, then on a shadow source. The
// client is switched for the rest of the run.
func (r *run) chezmoiReadable(ctx context.Context, query func(*chezmoi.Client) error) error {
	err := query(r.cm)
	if err == nil || ctx.Err() != nil || !externalFailure(err) {
		return err
	}
	without := *r.cm
	without.NoExternals = true
	if query(&without) == nil {
		r.cm.NoExternals = true
		r.noteExternal(err)
		return nil
	}
	sh, serr := newShadow(r.workTree)
	if serr != nil {
		return fmt.Errorf("%w (and no shadow of the source directory: %v)", err, serr)
	}
	shadowed := *r.cm
	shadowed.Source = sh.path(r.cm.Source)
	if qerr := query(&shadowed); qerr != nil {
		sh.remove()
		return err
	}
	r.shadow, r.cm.Source = sh, shadowed.Source
	r.noteExternal(err)
	return nil
}

func (r *run) noteExternal(err error) {
	cause := chezmoi.Cause(err)
	for _, e := range r.rec.Externals {
		if e == cause {
			return
		}
	}
	r.rec.Externals = append(r.rec.Externals, cause)
	r.io.Warnf("an external cannot be fetched (%s): the run goes on without it, and ends fetch-failed", cause)
}

// externalFailure: chezmoi could not download something (an external).
func externalFailure(err error) bool {
	c := chezmoi.Cause(err)
	return strings.Contains(c, `Get "http`) || strings.Contains(c, "dial tcp") || strings.Contains(c, "no such host")
}

// newShadow copies the work tree (without .git, .jj and the externals'
// files) into a private temporary directory.
func newShadow(workTree string) (*shadow, error) {
	dir, err := os.MkdirTemp("", "chezmoi-sync-shadow-")
	if err != nil {
		return nil, err
	}
	sh := &shadow{real: workTree, dir: dir}
	if err := sh.refresh(); err != nil {
		sh.remove()
		return nil, err
	}
	return sh, nil
}

// path maps a path of the work tree into the shadow.
func (sh *shadow) path(p string) string {
	rel, err := filepath.Rel(sh.real, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return sh.dir
	}
	return filepath.Join(sh.dir, rel)
}

// unshadow maps a path of the shadow back into the work tree.
func (sh *shadow) unshadow(p string) string {
	if sh == nil {
		return p
	}
	if rel, err := filepath.Rel(sh.dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join(sh.real, rel)
	}
	return p
}

func (sh *shadow) remove() { _ = os.RemoveAll(sh.dir) }

// skipped: not copied into the shadow, never copied back.
func skipped(rel string, d fs.DirEntry) bool {
	base := d.Name()
	return (d.IsDir() && (base == ".git" || base == ".jj")) || strings.HasPrefix(base, ".chezmoiexternal")
}

// refresh makes the shadow a copy of the work tree again (after a rebase
// changed the work tree).
func (sh *shadow) refresh() error {
	if err := os.RemoveAll(sh.dir); err != nil {
		return err
	}
	return mirror(sh.real, sh.dir)
}

// syncBack copies what changed in the shadow (re-add's writes and renames)
// into the work tree.
func (sh *shadow) syncBack() error {
	if err := mirror(sh.dir, sh.real); err != nil {
		return err
	}
	// Files re-add removed (renamed) in the shadow.
	return filepath.WalkDir(sh.real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sh.real, p)
		if rel != "." && skipped(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !exists(filepath.Join(sh.dir, rel)) {
			return os.Remove(p)
		}
		return nil
	})
}

// mirror copies every file of from into to where it differs (content,
// mode or link target), creating directories as needed.
func mirror(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if rel != "." && skipped(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		return copyIfDifferent(p, dst)
	})
}

func copyIfDifferent(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if old, err := os.Readlink(dst); err == nil && old == target {
			return nil
		}
		_ = os.Remove(dst)
		return os.Symlink(target, dst)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		if dt, err := os.Lstat(dst); err == nil && dt.Mode() == st.Mode() {
			return nil
		}
	}
	_ = os.Remove(dst)
	if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Chmod(dst, st.Mode().Perm())
}

// sourceRel is a source path (in the work tree, or in the shadow) relative
// to the work tree, with forward slashes; ok is false outside it.
func (r *run) sourceRel(p string) (string, bool) {
	rel, err := filepath.Rel(r.workTree, r.shadow.unshadow(p))
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
