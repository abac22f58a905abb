package vcs

import (
	"context"
	"errors"
	"fmt"
	"github.com/nixdots/nixdots/pkg/runner"
	"strconv"
	"strings"
)

type gitRepo struct{ base }

func (g *gitRepo) Kind() string { return Git }

// Head is HEAD's commit, "" on a branch without commits yet.
func (g *gitRepo) Head(ctx context.Context) (string, error) {
	res, err := g.run(ctx, false, "git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	var ee *runner.ExitError
	if errors.As(err, &ee) && ee.Code == 1 {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// upstream is the remote branch the current branch follows: the configured
// branch on the remote, else the branch's own upstream, else
// <remote>/<current branch>.
func (g *gitRepo) upstream(ctx context.Context) (string, error) {
	if g.branch != "" {
		return g.remote + "/" + g.branch, nil
	}
	if res, err := g.run(ctx, false, "git", "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"); err == nil && res.Out() != "" {
		return res.Out(), nil
	}
	res, err := g.run(ctx, false, "git", "symbolic-ref", "--short", "HEAD")
	if err != nil {
		return "", errors.New("HEAD is detached: check out a branch to sync it")
	}
	return g.remote + "/" + res.Out(), nil
}

// Sync fetches, then rebases the current branch onto its upstream with
// --autostash (uncommitted edits are stashed and re-applied by git itself).
// A conflicting rebase is aborted, which puts back the branch, the index and
// the stashed edits exactly as they were.
func (g *gitRepo) Sync(ctx context.Context) (SyncResult, error) {
	var out SyncResult
	up, err := g.upstream(ctx)
	if err != nil {
		return out, err
	}
	if _, err := g.run(ctx, true, "git", "fetch", "--quiet", g.remote); err != nil {
		return out, fmt.Errorf("fetch: %w", err)
	}
	out.Fetched = true
	if _, err := g.run(ctx, false, "git", "rev-parse", "--verify", "--quiet", up); err != nil {
		out.Detail = up + " does not exist on the remote yet"
		return out, nil
	}
	res, err := g.run(ctx, false, "git", "rev-list", "--count", "HEAD.."+up)
	if err != nil {
		return out, err
	}
	out.Incoming, _ = strconv.Atoi(res.Out())
	if out.Incoming == 0 {
		out.Detail = "up to date with " + up
		return out, nil
	}
	// Uncommitted edits to files upstream also changed would make git's
	// autostash re-apply conflict after the rebase (markers in the work
	// tree, the edits parked in the stash): keep the local state instead.
	overlap, err := g.dirtyOverlap(ctx, up)
	if err != nil {
		return out, err
	}
	if len(overlap) > 0 {
		out.Conflict = true
		out.Detail = fmt.Sprintf("uncommitted edits to %s touch files changed upstream; kept the local state (%d upstream commits not included; commit or stash, then rerun)", strings.Join(overlap, ", "), out.Incoming)
		return out, nil
	}
	rb, err := g.run(ctx, true, "git", "-c", "rebase.autoSquash=false", "rebase", "--autostash", up)
	if err == nil {
		out.Rebased = true
		out.Detail = fmt.Sprintf("rebased onto %s (%d incoming)", up, out.Incoming)
		if strings.Contains(string(rb.Stderr), "safe in the stash") {
			out.Conflict = true
			out.Detail += "; your uncommitted edits conflicted and are saved in the stash (`git stash list`, `git stash pop`)"
		}
		return out, nil
	}
	// Conflict (or anything else mid-rebase): abort restores the branch
	// and re-applies the autostash onto the original commit, where it
	// applies cleanly.
	if _, abortErr := g.run(ctx, true, "git", "rebase", "--abort"); abortErr != nil {
		return out, fmt.Errorf("rebase onto %s failed (%v) and the abort failed too: %w; run `git status` in %s", up, err, abortErr, g.dir)
	}
	out.Conflict = true
	out.Detail = fmt.Sprintf("rebase onto %s conflicted; kept the local state (%d upstream commits not included)", up, out.Incoming)
	return out, nil
}

// dirtyOverlap lists files with uncommitted changes (untracked included)
// that upstream changed since the merge base.
func (g *gitRepo) dirtyOverlap(ctx context.Context, up string) ([]string, error) {
	st, err := g.run(ctx, false, "git", "status", "--porcelain", "-z", "--untracked-files=all")
	if err != nil {
		return nil, err
	}
	dirty := parsePorcelainZ(string(st.Stdout))
	if len(dirty) == 0 {
		return nil, nil
	}
	ch, err := g.run(ctx, false, "git", "diff", "--name-only", "-z", "HEAD..."+up)
	if err != nil {
		return nil, err
	}
	changed := map[string]bool{}
	for _, f := range strings.Split(string(ch.Stdout), "\x00") {
		changed[f] = true
	}
	var out []string
	for _, f := range dirty {
		if changed[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

func (g *gitRepo) Pending(ctx context.Context) (untracked, modified []string, err error) {
	res, err := g.run(ctx, false, "git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
	if err != nil {
		return nil, nil, err
	}
	for _, f := range strings.Split(string(res.Stdout), "\x00") {
		if len(f) < 4 {
			continue
		}
		if f[:2] == "??" {
			untracked = append(untracked, f[3:])
		} else {
			modified = append(modified, f[3:])
		}
	}
	return untracked, modified, nil
}

func (g *gitRepo) IntentToAdd(ctx context.Context, files []string) error {
	if len(files) == 0 {
		return nil
	}
	_, err := g.run(ctx, true, "git", append([]string{"add", "--intent-to-add", "--"}, files...)...)
	return err
}

func (g *gitRepo) Changed(ctx context.Context, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	res, err := g.run(ctx, false, "git", append([]string{"status", "--porcelain", "-z", "--untracked-files=all", "--"}, paths...)...)
	if err != nil {
		return nil, err
	}
	return parsePorcelainZ(string(res.Stdout)), nil
}

// parsePorcelainZ returns the paths of `git status --porcelain -z` output.
func parsePorcelainZ(s string) []string {
	var out []string
	fields := strings.Split(s, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		out = append(out, f[3:])
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the rename source follows
		}
	}
	return out
}

func (g *gitRepo) Commit(ctx context.Context, msg string, paths []string) (string, error) {
	if _, err := g.run(ctx, true, "git", append([]string{"add", "--"}, paths...)...); err != nil {
		return "", err
	}
	// --only with paths commits exactly these, leaving anything else the
	// user had staged or edited where it was.
	if _, err := g.run(ctx, true, "git", append([]string{"commit", "--quiet", "--no-verify", "-m", msg, "--only", "--"}, paths...)...); err != nil {
		return "", err
	}
	return g.Head(ctx)
}

func (g *gitRepo) Push(ctx context.Context) error {
	up, err := g.upstream(ctx)
	if err != nil {
		return err
	}
	_, branch, _ := strings.Cut(up, "/")
	_, err = g.run(ctx, true, "git", "push", "--quiet", g.remote, "HEAD:refs/heads/"+branch)
	return err
}
