package chezmoisync

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/statindex"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// The stat index (pkg/statindex) lets a no-op sync skip `chezmoi status`,
// which renders every template (a template that asks a password manager
// takes seconds or prompts). It holds the lstat of every managed target,
// of every directory of the repository (a new file changes its
// directory's mtime), of chezmoi's persistent state (chezmoi add, apply
// and re-add write it) and of chezmoi's config files. When none changed
// since the last sync wrote the index, and the working copy holds no
// change, no home edit can exist: the home directory is not scanned. A run
// that changes anything drops the index first and writes it again at the
// end, and only when nothing was left waiting for the user.

const indexFile = "sync-index"

// indexVersion changes when what the index covers changes.
const indexVersion = "1"

func (r *run) indexPath() string { return filepath.Join(r.app.StateDir, indexFile) }

// loadIndex reads the previous run's index (nil when missing or garbled),
// once: locate needs it only when chezmoi has a config file, inspect reads
// it beside jj's check.
func (r *run) loadIndex() {
	if r.indexLoaded {
		return
	}
	r.indexLoaded = true
	data, err := state.ReadFile(r.indexPath())
	var ix *statindex.Index
	if err == nil {
		ix, err = statindex.Unmarshal(data)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.io.Warnf("the stat index %s is unreadable (%v): this run scans the home directory", r.indexPath(), err)
		}
		return
	}
	r.index = ix
}

// checkIndex decides whether the home directory must be scanned.
func (r *run) checkIndex() {
	r.loadIndex()
	ix := r.index
	switch {
	case r.recovered != nil:
		r.indexDirty = "an interrupted run is being repaired"
	case r.fresh:
		r.indexDirty = "the repository is new"
	case ix == nil:
		r.indexDirty = "no stat index yet"
	case ix.Meta["version"] != indexVersion || ix.Meta["home"] != r.app.Getenv("HOME") ||
		ix.Meta["worktree"] != r.workTree || ix.Meta["source"] != r.cm.Source:
		r.indexDirty = "the stat index was written for another setup"
	case r.configSig != "" && ix.Meta["config"] != r.configSig:
		r.indexDirty = "chezmoi's config changed"
	default:
		// Clean, but some entries were racily clean when taken (the
		// previous run had just written them): they cost a content hash
		// on every check until the index is written again, so Recheck
		// gives a new snapshot (compared with the index, so an edit made
		// meanwhile is never taken in unseen).
		if p, fresh := ix.Recheck(); p != "" {
			r.indexDirty = p + " changed"
		} else if fresh != nil {
			r.snap = fresh
		}
	}
}

// dropIndex removes the index before the run changes anything: until it
// is written again, every run scans.
func (r *run) dropIndex() {
	if err := state.Remove(r.indexPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.io.Warnf("cannot remove the stat index %s: %v", r.indexPath(), err)
	}
}

// indexStep writes the index at the end of a run that scanned the home
// directory, when nothing waits for the user (a waiting edit must be
// reported again by the next run, which needs a scan). The snapshot it
// writes was taken before the scan read the files, so an edit made while
// the run went on is seen by the next run.
type indexStep struct{}

func (indexStep) name() string { return "index" }

func (indexStep) plan(_ context.Context, r *run) (plan, error) {
	switch {
	case r.snap == nil:
		return plan{skip: "unchanged", quiet: true}, nil
	case len(r.rec.Waiting) > 0 || len(r.rec.Externals) > 0 || len(r.stray) > 0 || r.rec.Status != "" && r.rec.Status != syncstate.FetchFailed && r.rec.Status != syncstate.PushFailed:
		return plan{skip: "not written: the next run scans the home directory again", quiet: true}, nil
	}
	return plan{does: "remember the stat of the managed files, so the next no-op sync skips chezmoi status", changes: true}, nil
}

func (indexStep) run(_ context.Context, r *run) (outcome, error) {
	r.snap.Meta = map[string]string{
		"version": indexVersion, "home": r.app.Getenv("HOME"), "worktree": r.workTree,
		"source": r.cm.Source, "config": r.configSig, "chezmoigit": r.chezmoiGit, "chezmoisource": r.chezmoiSource,
	}
	if err := state.WriteFile(r.indexPath(), r.snap.Marshal()); err != nil {
		r.warn("cannot write the stat index %s (the next run scans the home directory): %v", r.indexPath(), err)
	}
	return outcome{}, nil
}

// indexPaths is everything the index watches.
func (r *run) indexPaths(managed map[string]chezmoi.Managed) []string {
	paths := make([]string, 0, len(managed)+64)
	for t := range managed {
		if !strings.ContainsRune(t, '\n') {
			paths = append(paths, t)
		}
	}
	paths = append(paths, repoDirs(r.workTree)...)
	cfg := r.app.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(r.app.Getenv("HOME"), ".config")
	}
	paths = append(paths, filepath.Join(cfg, "chezmoi", "chezmoistate.boltdb"))
	paths = append(paths, chezmoi.ConfigFiles(r.app.Getenv)...)
	sort.Strings(paths)
	return paths
}

// repoDirs lists every directory of the work tree but .git and .jj: a
// file created, removed or renamed anywhere changes one of their mtimes.
func repoDirs(root string) []string {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != root && (d.Name() == ".git" || d.Name() == ".jj") {
			return filepath.SkipDir
		}
		if !strings.ContainsRune(p, '\n') {
			dirs = append(dirs, p)
		}
		return nil
	})
	return dirs
}
