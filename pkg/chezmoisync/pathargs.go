package chezmoisync

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nixdots/nixdots/pkg/chezmoi"
)

// How the paths of --keep-local and --take-remote map onto conflicted files
// (docs/chezmoi-sync.md, "Resolving a parked conflict"):
//   - ~/x is the home file x;
//   - a relative path that names a conflicted source path as
//     chezmoi-show-conflicts prints it (relative to the repository:
//     dot_bashrc, or home/dot_bashrc with a .chezmoiroot) is that file;
//     any other relative path is taken from the current directory;
//   - an absolute path inside the repository is a source path, any other
//     one a home path;
//   - a directory names every conflicted file under it.
//
// A home path matches the conflicted source file whose target it is
// (chezmoi.TargetName), computed from the name alone: a file deleted on
// one side has no source in the working copy to ask chezmoi about.

// Resolution choices, as recorded (syncstate.Resolution.How).
const (
	howKeepLocal  = "keep-local"
	howTakeRemote = "take-remote"
	howTrivial    = "trivial"
)

// resolveChoices maps every conflicted path the flags name to a choice;
// a flag given without paths covers the conflicted paths the other flag
// does not name. A path that matches no conflicted file is bad input.
func (r *run) resolveChoices(conflicted []string) (map[string]string, error) {
	choices := map[string]string{}
	var fallback string
	for _, f := range []struct {
		how  string
		args PathArgs
	}{{howKeepLocal, r.c.KeepLocal}, {howTakeRemote, r.c.TakeRemote}} {
		if !f.args.Given {
			continue
		}
		if len(f.args.Paths) == 0 {
			fallback = f.how
			continue
		}
		for _, arg := range f.args.Paths {
			if strings.TrimSpace(arg) == "" {
				return nil, usage("an empty path names no file (--%s without a path means every conflicted file)", f.how)
			}
			matched := r.matchPath(arg, conflicted)
			if len(matched) == 0 {
				return nil, usage("%s is not a conflicted file (conflicted: %s)", arg, strings.Join(r.describePaths(conflicted), ", "))
			}
			for _, p := range matched {
				if other, ok := choices[p]; ok && other != f.how {
					return nil, usage("%s is named by both --keep-local and --take-remote", p)
				}
				choices[p] = f.how
			}
		}
	}
	if fallback != "" {
		for _, p := range conflicted {
			if _, ok := choices[p]; !ok {
				choices[p] = fallback
			}
		}
	}
	return choices, nil
}

// matchPath returns the conflicted paths arg names.
func (r *run) matchPath(arg string, conflicted []string) []string {
	home := r.app.Getenv("HOME")
	for _, p := range conflicted {
		if arg == p || strings.TrimSuffix(arg, "/") == p {
			return []string{p}
		}
	}
	abs := expandHome(arg, home)
	if !filepath.IsAbs(abs) {
		if wd, err := os.Getwd(); err == nil {
			abs = filepath.Join(wd, abs)
		}
	}
	abs = filepath.Clean(abs)
	var out []string
	// A source path only from inside the repository: a directory that
	// holds the repository (~/.local/share) names home files, not every
	// source file under it.
	inRepo := abs == r.workTree || strings.HasPrefix(abs, r.workTree+string(filepath.Separator))
	for _, p := range conflicted {
		var candidates []string
		if inRepo {
			candidates = append(candidates, filepath.Join(r.workTree, p))
		}
		if t, ok := r.targetOf(p); ok {
			candidates = append(candidates, t)
		}
		for _, c := range candidates {
			if c == abs || strings.HasPrefix(c, abs+string(filepath.Separator)) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// targetOf is the home file of a conflicted source path (relative to the
// repository), when it has one.
func (r *run) targetOf(p string) (string, bool) {
	rel := filepath.ToSlash(p)
	if root, err := filepath.Rel(r.workTree, r.chezmoiRoot()); err == nil && root != "." {
		var ok bool
		if rel, ok = strings.CutPrefix(rel, filepath.ToSlash(root)+"/"); !ok {
			return "", false
		}
	}
	t, ok := chezmoi.TargetName(rel)
	if !ok {
		return "", false
	}
	return filepath.Join(r.app.Getenv("HOME"), filepath.FromSlash(t)), true
}

// describePaths names conflicted paths the way people type them: ~/.bashrc
// (dot_bashrc), or the source path alone.
func (r *run) describePaths(paths []string) []string {
	home := r.app.Getenv("HOME")
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if t, ok := r.targetOf(p); ok {
			out = append(out, fmt.Sprintf("~/%s (%s)", relHome(t, home), p))
		} else {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// displayPath is one path for a person: ~/.bashrc, else the source path.
func (r *run) displayPath(p string) string {
	if t, ok := r.targetOf(p); ok {
		return "~/" + relHome(t, r.app.Getenv("HOME"))
	}
	return p
}
