package rebuildsmart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
)

// The no-op fingerprint. A pure flake evaluation (nix's default: no
// --impure, no builtins.currentSystem, getEnv or currentTime) is a function
// of
//
//   - the flake's source tree: what nix copies from the repository, i.e. the
//     tracked and intent-to-add files with their working-tree content;
//   - flake.lock, which pins every input by its content hash (it is part of
//     the tree, and hashed again on its own for clarity);
//   - the attribute: the host (and the flake's directory in the repository);
//   - the evaluator: nix's version, the platform, and the arguments given
//     to nix after `--` (an --override-input changes the inputs).
//
// The fingerprint hashes exactly these (the tree over-approximated: every
// non-ignored file, untracked ones included, so no change nix could see is
// missed). When a system was built for a fingerprint and that system is
// still the one running, evaluating again cannot give anything else: the
// run says "nothing to switch" without evaluating. --force-eval evaluates
// anyway; the cache is only a shortcut, never a reason to activate.

// fingerprint hashes the evaluation's inputs for the current tree.
func (r *Run) fingerprint(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "rebuild-smart fingerprint v1\nhost %s\nflake %s\nnix %s %s/%s\nargs %q\n",
		r.Host, r.Flake.Ref.Dir, r.Flake.NixVer, runtime.GOARCH, runtime.GOOS, r.Cmd.NixArgs)
	lock, _ := os.ReadFile(filepath.Join(r.Flake.Ref.Dir, "flake.lock"))
	fmt.Fprintf(h, "lock %x\n", sha256.Sum256(lock))
	top := r.VCS.Repo.Dir()
	files, err := treeFiles(ctx, r.App.Runner, top)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		if err := hashFile(h, top, rel); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeFiles lists the repository's tracked files and untracked files that
// are not ignored, sorted; the repository's own .git and .jj are never in.
func treeFiles(ctx context.Context, r runner.Runner, top string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(top, ".git")); err != nil {
		return walkFiles(top) // a jj repository without git: every file
	}
	res, err := r.Run(ctx, runner.Cmd{Name: "git", Dir: top, Timeout: time.Minute,
		Args: []string{"--no-optional-locks", "ls-files", "-z", "--cached", "--others", "--exclude-standard"}})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range strings.Split(string(res.Stdout), "\x00") {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out, nil
}

func walkFiles(top string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".jj") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(top, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// hashFile adds one file's path, kind and content (a link's target) to h;
// a tracked file deleted from the working tree counts as "deleted".
func hashFile(h io.Writer, top, rel string) error {
	p := filepath.Join(top, rel)
	st, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(h, "%q deleted\n", rel)
		return nil
	case err != nil:
		return err
	case st.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q link %q\n", rel, target)
		return nil
	case !st.Mode().IsRegular():
		fmt.Fprintf(h, "%q %v\n", rel, st.Mode().Type())
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fh := sha256.New()
	if _, err := io.Copy(fh, f); err != nil {
		return err
	}
	fmt.Fprintf(h, "%q %v %x\n", rel, st.Mode().Perm()&0o111 != 0, fh.Sum(nil))
	return nil
}

// evalCache remembers which system a fingerprint evaluated to, in the
// state directory (rebuild-eval-cache.json). It is a cache: losing it costs
// one evaluation.
type evalCache struct {
	Version int         `json:"version"`
	Entries []evalEntry `json:"entries"` // newest last
}

type evalEntry struct {
	Fingerprint string    `json:"fingerprint"`
	Host        string    `json:"host"`
	Flake       string    `json:"flake"`
	Toplevel    string    `json:"toplevel"`
	Time        time.Time `json:"time"`
}

const (
	evalCacheFile = "rebuild-eval-cache.json"
	evalCacheKeep = 32
)

func loadEvalCache(dir string) evalCache {
	var c evalCache
	if err := state.ReadJSON(filepath.Join(dir, evalCacheFile), &c); err != nil || c.Version != 1 {
		return evalCache{Version: 1}
	}
	return c
}

// lookup returns the system fingerprint fp evaluated to ("" when unknown).
func (c evalCache) lookup(fp string) string {
	for i := len(c.Entries) - 1; i >= 0; i-- {
		if c.Entries[i].Fingerprint == fp {
			return c.Entries[i].Toplevel
		}
	}
	return ""
}

// knownHost reports whether host was built from the flake in dir before.
func knownHost(stateDir, dir, host string) bool {
	for _, e := range loadEvalCache(stateDir).Entries {
		if e.Host == host && e.Flake == dir {
			return true
		}
	}
	return false
}

// rememberEval records that the run's fingerprint evaluated to its
// toplevel. Failing to write it is a warning: the next run evaluates.
func (r *Run) rememberEval() {
	if r.App.DryRun || r.Flake.Fingerprint == "" || r.System.Toplevel == "" || r.Target.Remote() {
		return
	}
	c := loadEvalCache(r.App.StateDir)
	kept := c.Entries[:0]
	for _, e := range c.Entries {
		if e.Fingerprint != r.Flake.Fingerprint {
			kept = append(kept, e)
		}
	}
	kept = append(kept, evalEntry{Fingerprint: r.Flake.Fingerprint, Host: r.Host, Flake: r.Flake.Ref.Dir,
		Toplevel: r.System.Toplevel, Time: r.App.Now().UTC()})
	if len(kept) > evalCacheKeep {
		kept = kept[len(kept)-evalCacheKeep:]
	}
	c.Entries = kept
	if err := state.Ensure(r.App.StateDir); err == nil {
		err = state.WriteJSON(filepath.Join(r.App.StateDir, evalCacheFile), c)
		if err != nil {
			r.Warn("evaluation cache not written (the next run evaluates again): %v", err)
		}
	}
}
