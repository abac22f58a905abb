package chezmoisync

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Two hosts can give one target two source names without any textual
// conflict: alpha's chmod 600 renames dot_profile to private_dot_profile,
// beta's chmod 755 to executable_dot_profile, or both `chezmoi add` a new
// file with different modes. jj merges both renames cleanly, and chezmoi
// then fails on every host ("inconsistent state"). The sync treats such a
// merge as a conflict: it is parked, never published.

// splitTarget is one target that two or more source entries map to.
type splitTarget struct {
	target  string   // the home path
	sources []string // repository-relative source paths
}

// splitTargets lists the targets that several source entries (files or
// directories) of files map to, keyed by target.
func (r *run) splitTargets(files []string) map[string][]string {
	seen := map[string][]string{}
	for _, f := range files {
		parts := strings.Split(f, "/")
		for i := range parts {
			src := strings.Join(parts[:i+1], "/")
			t, ok := r.targetOf(src)
			if !ok {
				continue
			}
			if !slices.Contains(seen[t], src) {
				seen[t] = append(seen[t], src)
			}
		}
	}
	for t, s := range seen {
		if len(s) < 2 {
			delete(seen, t)
		}
	}
	return seen
}

// newSplits are the split targets of merged that neither side had: the
// merge made them.
func (r *run) newSplits(merged []string, sides ...[]string) []splitTarget {
	had := map[string]bool{}
	for _, side := range sides {
		for t := range r.splitTargets(side) {
			had[t] = true
		}
	}
	var out []splitTarget
	for t, s := range r.splitTargets(merged) {
		if !had[t] {
			sort.Strings(s)
			out = append(out, splitTarget{target: t, sources: s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].target < out[j].target })
	return out
}

// predictSplits merges the presence of files the way a clean rebase of
// local onto remote does (jj has no renames: a rename is a deletion and an
// addition) and returns the split targets that merge would make. Three
// jj queries, only paid when a rebase brings commits in over local ones.
func (r *run) predictSplits(ctx context.Context, base, remote, local string) ([]splitTarget, error) {
	lists := make([][]string, 3)
	for i, rev := range []string{base, remote, local} {
		files, err := r.jj.FileList(ctx, rev)
		if err != nil {
			return nil, fmt.Errorf("cannot list the files of %s: %w", rev, err)
		}
		lists[i] = files
	}
	if r.dry {
		// The files the track step would have tracked by now.
		lists[2] = append(lists[2], r.rec.Tracked...)
	}
	inBase, inRemote, inLocal := set(lists[0]), set(lists[1]), set(lists[2])
	var merged []string
	for p := range union(inRemote, inLocal) {
		deletedLocally := inBase[p] && !inLocal[p]
		deletedRemotely := inBase[p] && !inRemote[p]
		if (inRemote[p] && !deletedLocally) || (inLocal[p] && !deletedRemotely) {
			merged = append(merged, p)
		}
	}
	return r.newSplits(merged, lists[1], lists[2]), nil
}

// treeSplits are the split targets of rev's tree that remote's does not
// have (after a replay or a rebase by hand, before publishing).
func (r *run) treeSplits(ctx context.Context, rev, remote string) ([]splitTarget, error) {
	files, err := r.jj.FileList(ctx, rev)
	if err != nil {
		return nil, fmt.Errorf("cannot list the files of %s: %w", rev, err)
	}
	theirs, err := r.jj.FileList(ctx, remote)
	if err != nil {
		return nil, fmt.Errorf("cannot list the files of %s: %w", remote, err)
	}
	return r.newSplits(files, theirs), nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, p := range list {
		m[p] = true
	}
	return m
}

func union(a, b map[string]bool) map[string]bool {
	m := make(map[string]bool, len(a)+len(b))
	for p := range a {
		m[p] = true
	}
	for p := range b {
		m[p] = true
	}
	return m
}

// describeSplits: "~/.profile (executable_dot_profile, private_dot_profile)".
func (r *run) describeSplits(splits []splitTarget) string {
	var parts []string
	for _, s := range splits {
		parts = append(parts, fmt.Sprintf("~/%s (%s)", relHome(s.target, r.app.Getenv("HOME")), strings.Join(s.sources, ", ")))
	}
	return strings.Join(parts, "; ")
}

// splitSources are every source path of the splits.
func splitSources(splits []splitTarget) []string {
	var out []string
	for _, s := range splits {
		out = append(out, s.sources...)
	}
	return uniq(out)
}

// splitMessage and splitNext are the error and next step of a merge that
// would give a target two source entries.
func (r *run) splitMessage(splits []splitTarget) string {
	return fmt.Sprintf("this host and %s give one target two source entries: %s; chezmoi would refuse the source directory (inconsistent state) on every host",
		r.remoteName(), r.describeSplits(splits))
}

func (r *run) splitNext(splits []splitTarget) string {
	return fmt.Sprintf("keep one source entry per target: cd %s && jj rebase -b @ -d %s && rm the one(s) you do not want (%s; chezmoi chattr sets the attributes you want afterwards), then chezmoi-sync --continue",
		r.workTree, r.remoteName(), strings.Join(splitSources(splits), ", "))
}
