package vcs

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

type jjRepo struct{ base }

func (j *jjRepo) Kind() string { return JJ }

func (j *jjRepo) jj(ctx context.Context, mutates bool, args ...string) (string, error) {
	pre := []string{"--no-pager", "--color=never"}
	if j.readOnly && !mutates {
		pre = append(pre, "--ignore-working-copy")
	}
	res, err := j.run(ctx, mutates, "jj", append(pre, args...)...)
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// Head is @ when it has content, else its parent: the commit whose tree nix
// builds (jj snapshots the working copy into @ on every command).
func (j *jjRepo) Head(ctx context.Context) (string, error) {
	empty, err := j.jj(ctx, false, "log", "--no-graph", "-r", "@", "-T", "empty")
	if err != nil {
		return "", err
	}
	rev := "@"
	if empty == "true" {
		rev = "@-"
	}
	return j.jj(ctx, false, "log", "--no-graph", "-r", rev, "-T", "commit_id")
}

// trunk is the remote bookmark local work is rebased onto.
func (j *jjRepo) trunk(ctx context.Context) (string, error) {
	cands := []string{"main", "master"}
	if j.branch != "" {
		cands = []string{j.branch}
	}
	for _, b := range cands {
		rev := b + "@" + j.remote
		if out, err := j.jj(ctx, false, "log", "--no-graph", "-r", rev, "-T", "commit_id"); err == nil && out != "" {
			return rev, nil
		}
	}
	return "", fmt.Errorf("no %s bookmark on remote %s", strings.Join(cands, "/"), j.remote)
}

// Sync: fetch, rebase @'s branch onto the remote trunk (dropping local
// commits that became identical upstream); when that conflicts, move the
// local commits back onto their previous base, which restores their exact
// trees: the local state is kept and nothing is lost.
func (j *jjRepo) Sync(ctx context.Context) (SyncResult, error) {
	var out SyncResult
	if _, err := j.jj(ctx, true, "git", "fetch", "--remote", j.remote); err != nil {
		return out, fmt.Errorf("fetch: %w", err)
	}
	out.Fetched = true
	trunk, err := j.trunk(ctx)
	if err != nil {
		out.Detail = err.Error()
		return out, nil
	}
	incoming, err := j.jj(ctx, false, "log", "--no-graph", "-r", "::"+trunk+" ~ ::@", "-T", `commit_id ++ "\n"`)
	if err != nil {
		return out, err
	}
	out.Incoming = len(lines(incoming))
	if out.Incoming == 0 {
		out.Detail = "up to date with " + trunk
		return out, nil
	}
	baseRev, err := j.jj(ctx, false, "log", "--no-graph", "-r", "roots("+trunk+"..@)-", "-T", `commit_id ++ "\n"`)
	if err != nil {
		return out, err
	}
	bases := lines(baseRev)
	if _, err := j.jj(ctx, true, "rebase", "-b", "@", "-d", trunk, "--skip-emptied"); err != nil {
		return out, fmt.Errorf("rebase onto %s: %w", trunk, err)
	}
	conflicts, err := j.jj(ctx, false, "log", "--no-graph", "-r", "conflicts() & ("+trunk+"..@)", "-T", `change_id ++ "\n"`)
	if err != nil {
		return out, err
	}
	if len(lines(conflicts)) == 0 {
		out.Rebased = true
		out.Detail = fmt.Sprintf("rebased onto %s (%d incoming)", trunk, out.Incoming)
		return out, nil
	}
	if len(bases) != 1 {
		return out, errors.New("rebase conflicted and the local commits had several bases: resolve with `jj resolve` or `jj rebase` by hand")
	}
	if _, err := j.jj(ctx, true, "rebase", "-s", "roots("+trunk+"..@)", "-d", bases[0]); err != nil {
		return out, fmt.Errorf("rebase conflicted and moving the local commits back failed: %w; see `jj op log`", err)
	}
	out.Conflict = true
	out.Detail = fmt.Sprintf("rebase onto %s conflicted; kept the local state (%d upstream commits not included)", trunk, out.Incoming)
	return out, nil
}

// Pending: nothing is untracked (jj snapshots new files into @ by
// itself); modified is what @ changes when @ holds the build (Head is @),
// else nothing: an empty @ means the build is exactly @-.
func (j *jjRepo) Pending(ctx context.Context) (untracked, modified []string, err error) {
	empty, err := j.jj(ctx, false, "log", "--no-graph", "-r", "@", "-T", "empty")
	if err != nil || empty == "true" {
		return nil, nil, err
	}
	out, err := j.jj(ctx, false, "diff", "--name-only", "-r", "@")
	if err != nil {
		return nil, nil, err
	}
	return nil, lines(out), nil
}

func (j *jjRepo) IntentToAdd(ctx context.Context, files []string) error { return nil }

func (j *jjRepo) Changed(ctx context.Context, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	out, err := j.jj(ctx, false, append([]string{"diff", "--name-only", "-r", "@", "--"}, quoteFilesets(paths)...)...)
	if err != nil {
		return nil, err
	}
	return lines(out), nil
}

func quoteFilesets(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = `file:"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
	}
	return out
}

// Commit moves exactly paths out of @ into a new commit (jj commit with
// filesets): the rest of the working copy stays in the new @.
func (j *jjRepo) Commit(ctx context.Context, msg string, paths []string) (string, error) {
	if _, err := j.jj(ctx, true, append([]string{"commit", "-m", msg, "--"}, quoteFilesets(paths)...)...); err != nil {
		return "", err
	}
	return j.jj(ctx, false, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
}

// Push moves the trunk bookmark to @- (the last commit) and pushes it; jj
// refuses conflicted commits by itself.
func (j *jjRepo) Push(ctx context.Context) error {
	trunk, err := j.trunk(ctx)
	if err != nil {
		return err
	}
	b, _, _ := strings.Cut(trunk, "@")
	if _, err := j.jj(ctx, true, "bookmark", "track", trunk); err != nil {
		return err
	}
	if _, err := j.jj(ctx, true, "bookmark", "set", b, "-r", "@-"); err != nil {
		return err
	}
	_, err = j.jj(ctx, true, "git", "push", "--remote", j.remote, "-b", b)
	return err
}
