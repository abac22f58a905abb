package reposave

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ParseStatusZ parses `git status --porcelain=v1 -z` output into the number
// of changed paths and the untracked ones. A rename or copy entry is
// followed by its source path, which is skipped.
func ParseStatusZ(out []byte) (changes int, untracked []string) {
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		xy, path := f[:2], f[3:]
		changes++
		if xy == "??" {
			untracked = append(untracked, path)
		}
		if xy[0] == 'R' || xy[0] == 'C' {
			i++
		}
	}
	return changes, untracked
}

func (r *Repo) gitDir(ctx context.Context) (string, error) {
	res, err := r.git(ctx, false, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

func (r *Repo) inspectGit(ctx context.Context) (*State, error) {
	st := &State{Kind: Git}
	res, err := r.git(ctx, false, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return nil, fmt.Errorf("read HEAD of %s: %w", r.Root, err)
	}
	st.Head = res.Out()
	if res, err := r.git(ctx, false, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		st.Branch = res.Out()
	}
	res, err = r.git(ctx, false, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return nil, fmt.Errorf("git status in %s: %w", r.Root, err)
	}
	st.Changes, st.Untracked = ParseStatusZ(res.Stdout)
	gd, err := r.gitDir(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct{ file, what string }{
		{"rebase-merge", "rebase"}, {"rebase-apply", "rebase"}, {"MERGE_HEAD", "merge"},
		{"CHERRY_PICK_HEAD", "cherry-pick"}, {"REVERT_HEAD", "revert"}, {"BISECT_LOG", "bisect"},
	} {
		if exists(filepath.Join(gd, p.file)) {
			st.InProgress = p.what
			break
		}
	}
	if st.Branch == "" {
		// A detached HEAD that no ref contains would become unreachable
		// (reflog only) once HEAD moves: it is work to save, too.
		res, err := r.git(ctx, false, "for-each-ref", "--count=1", "--contains", st.Head, "--format=%(refname)", "refs/heads", "refs/tags", "refs/remotes")
		if err != nil {
			return nil, err
		}
		st.Unreachable = res.Out() == ""
	}
	return st, nil
}

const zeroOID = "0000000000000000000000000000000000000000"

func (r *Repo) moveGit(ctx context.Context, target string, now time.Time) (*Result, error) {
	st, err := r.inspectGit(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Check(r.Root); err != nil {
		return nil, err
	}
	out := &Result{Kind: Git, Root: r.Root, From: st.Head, To: target, Branch: st.Branch}
	back := "git switch " + st.Branch
	if st.Branch == "" {
		back = "git switch --detach " + Short(st.Head)
	}
	save := ""
	switch {
	case st.Changes > 0:
		c, err := r.saveDirty(ctx, st, now)
		if err != nil {
			return nil, fmt.Errorf("save uncommitted work in %s (nothing was changed): %w", r.Root, err)
		}
		save = c
	case st.Unreachable && st.Head != target:
		save = st.Head
	}
	if save != "" {
		name, err := r.createBranch(ctx, save, now)
		if err != nil {
			return nil, fmt.Errorf("save uncommitted work in %s (nothing was changed): %w", r.Root, err)
		}
		out.SavedTo, out.SavedCommit = name, save
		if st.Changes > 0 {
			out.Restore = back + " && git restore --source=" + name + " --worktree -- ."
		} else {
			out.Restore = "git switch --detach " + name
		}
	}
	if st.Head == target && st.Changes == 0 {
		return out, nil
	}
	// Everything the move overwrites is in the saved commit now; --force
	// lets checkout replace modified files and untracked files that the
	// target tracks.
	if _, err := r.git(ctx, true, "checkout", "--quiet", "--force", "--detach", target); err != nil {
		return out, fmt.Errorf("git checkout %s in %s: %w", Short(target), r.Root, err)
	}
	out.Moved = true
	if len(st.Untracked) > 0 {
		// The saved untracked files would otherwise stay in the tree and the
		// next rebuild-smart would add them to the build (intent-to-add).
		args := []string{"clean", "--quiet", "--force", "--"}
		for _, p := range st.Untracked {
			args = append(args, ":(literal)"+p)
		}
		if _, err := r.git(ctx, true, args...); err != nil {
			return out, fmt.Errorf("remove saved untracked files in %s (they are in %s): %w", r.Root, out.SavedTo, err)
		}
	}
	return out, nil
}

// saveDirty commits the working tree as it is — tracked changes, deletions
// and untracked files — through a private index, so the user's index is
// never written. When the index itself holds something else (a staged
// version later edited again), it is committed too and becomes the second
// parent, the way git stash keeps it.
func (r *Repo) saveDirty(ctx context.Context, st *State, now time.Time) (string, error) {
	gd, err := r.gitDir(ctx)
	if err != nil {
		return "", err
	}
	suffix := strconv.Itoa(os.Getpid())
	work := filepath.Join(gd, "rebuild-rollback-index-"+suffix)
	staged := filepath.Join(gd, "rebuild-rollback-staged-"+suffix)
	defer os.Remove(work)
	defer os.Remove(staged)
	env := []string{"GIT_INDEX_FILE=" + work}
	if _, err := r.gitEnv(ctx, env, "read-tree", "HEAD"); err != nil {
		return "", err
	}
	if _, err := r.gitEnv(ctx, env, "add", "--all", "--", "."); err != nil {
		return "", err
	}
	res, err := r.gitEnv(ctx, env, "write-tree")
	if err != nil {
		return "", err
	}
	workTree := res.Out()
	parents := []string{"-p", st.Head}
	if tree, ok := r.stagedTree(ctx, staged); ok {
		headTree, err := r.git(ctx, false, "rev-parse", "HEAD^{tree}")
		if err == nil && tree != headTree.Out() && tree != workTree {
			res, err := r.commitTree(ctx, tree, []string{"-p", st.Head}, "rebuild-rollback: staged changes at "+now.UTC().Format(time.RFC3339))
			if err == nil {
				parents = append(parents, "-p", res)
			}
		}
	}
	msg := fmt.Sprintf("rebuild-rollback: uncommitted work at %s\n\nSaved before moving %s from %s.", now.UTC().Format(time.RFC3339), r.Root, Short(st.Head))
	return r.commitTree(ctx, workTree, parents, msg)
}

// stagedTree writes the user's index as a tree, from a copy of it so that
// even the cache-tree update lands in the copy.
func (r *Repo) stagedTree(ctx context.Context, copyPath string) (string, bool) {
	// --git-path honours GIT_INDEX_FILE and linked worktrees.
	res, err := r.git(ctx, false, "rev-parse", "--path-format=absolute", "--git-path", "index")
	if err != nil {
		return "", false
	}
	data, err := os.ReadFile(res.Out())
	if err != nil || os.WriteFile(copyPath, data, 0o600) != nil {
		return "", false
	}
	res, err = r.gitEnv(ctx, []string{"GIT_INDEX_FILE=" + copyPath}, "write-tree")
	if err != nil {
		return "", false
	}
	return res.Out(), true
}

func (r *Repo) commitTree(ctx context.Context, tree string, parents []string, msg string) (string, error) {
	args := []string{}
	// commit-tree needs an identity; a machine without one still must be
	// able to save work, under a name that says who made the commit.
	if res, err := r.git(ctx, false, "config", "user.email"); err != nil || res.Out() == "" {
		args = append(args, "-c", "user.name=rebuild-rollback", "-c", "user.email=rebuild-rollback@localhost")
	}
	args = append(args, "commit-tree", tree)
	args = append(args, parents...)
	args = append(args, "-m", msg)
	res, err := r.git(ctx, true, args...)
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// createBranch makes refs/heads/rollback/<time> at commit, never moving an
// existing branch (two rollbacks in the same second get -2, -3, ...).
func (r *Repo) createBranch(ctx context.Context, commit string, now time.Time) (string, error) {
	base := "rollback/" + now.UTC().Format("20060102-150405")
	var lastErr error
	for i := 1; i <= 20; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := r.git(ctx, false, "rev-parse", "--verify", "--quiet", "refs/heads/"+name); err == nil {
			continue
		}
		_, err := r.git(ctx, true, "update-ref", "-m", "rebuild-rollback: save uncommitted work", "refs/heads/"+name, commit, zeroOID)
		if err == nil {
			return name, nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("no free branch name %s-N: %w", base, lastErr)
}
