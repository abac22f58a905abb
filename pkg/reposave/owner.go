package reposave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// MixedOwnerError reports a repository whose parts belong to different
// users: a .git or .jj (or what it points to: a worktree's git directory, a
// workspace's repository, jj's git store) that is not the working copy
// owner's. Nothing is moved in it: whoever ran git or jj there would write
// into another user's files (bad input, exit 2).
type MixedOwnerError struct {
	Root   string
	Owners []PathOwner
}

// PathOwner is one path of a repository and the user owning it.
type PathOwner struct {
	Path string
	UID  uint32
}

func (e *MixedOwnerError) Error() string {
	var parts []string
	for _, o := range e.Owners {
		parts = append(parts, fmt.Sprintf("%s is %s's", o.Path, UserName(o.UID)))
	}
	return fmt.Sprintf("the repository %s belongs to more than one user (%s): rebuild-rollback moves no repository whose parts are another user's; nothing was changed", e.Root, strings.Join(parts, ", "))
}

// ExitCode implements exitcode.Coder.
func (e *MixedOwnerError) ExitCode() int { return exitcode.Usage }

// Owner is the user owning the repository: its working copy directory and
// every directory git or jj writes when the repository moves — .git and .jj
// (the link and what it points to), a linked worktree's git directory and
// its common directory, a jj workspace's repository, and the git store of
// jj's backend. All must belong to one user, else a *MixedOwnerError. It
// runs no tool: it is safe to call on a repository of anyone's.
func (r *Repo) Owner() (uint32, error) {
	var owners []PathOwner
	add := func(p string, follow bool) (fs.FileInfo, error) {
		stat := os.Lstat
		if follow {
			stat = os.Stat
		}
		info, err := stat(p)
		if err != nil {
			return nil, err
		}
		owners = append(owners, PathOwner{Path: p, UID: info.Sys().(*syscall.Stat_t).Uid})
		return info, nil
	}
	both := func(p string) (fs.FileInfo, error) {
		if _, err := add(p, false); err != nil {
			return nil, err
		}
		return add(p, true)
	}
	if _, err := both(r.Root); err != nil {
		return 0, err
	}
	if err := r.gitOwners(both); err != nil {
		return 0, err
	}
	if err := r.jjOwners(both); err != nil {
		return 0, err
	}
	for _, o := range owners[1:] {
		if o.UID != owners[0].UID {
			return 0, &MixedOwnerError{Root: r.Root, Owners: distinct(owners)}
		}
	}
	return owners[0].UID, nil
}

// gitOwners adds .git and, for a linked worktree (.git is a file naming
// its git directory), that directory and its common directory.
func (r *Repo) gitOwners(both func(string) (fs.FileInfo, error)) error {
	dotgit := filepath.Join(r.Root, ".git")
	info, err := both(dotgit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	gitDir := dotgit
	if !info.IsDir() {
		target, err := pointer(dotgit, "gitdir:")
		if err != nil {
			return err
		}
		gitDir = target
		if _, err := both(gitDir); err != nil {
			return err
		}
	}
	if common, err := pointer(filepath.Join(gitDir, "commondir"), ""); err == nil {
		if _, err := both(common); err != nil {
			return err
		}
	}
	return nil
}

// jjOwners adds .jj, its working copy state, its repository (a
// workspace's .jj/repo is a file naming the repository's) and the git
// store jj's backend writes (.jj/repo/store/git_target).
func (r *Repo) jjOwners(both func(string) (fs.FileInfo, error)) error {
	dotjj := filepath.Join(r.Root, ".jj")
	if _, err := both(dotjj); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, p := range []string{"working_copy", "repo"} {
		if _, err := both(filepath.Join(dotjj, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	repo := filepath.Join(dotjj, "repo")
	if target, err := pointer(repo, ""); err == nil {
		repo = target
		if _, err := both(repo); err != nil {
			return err
		}
	}
	if target, err := pointer(filepath.Join(repo, "store", "git_target"), ""); err == nil {
		if _, err := both(target); err != nil {
			return err
		}
	}
	return nil
}

// pointer reads a file that names another path (git's "gitdir: X" file and
// commondir, jj's workspace repo file and git_target), relative to the
// file's directory unless absolute. A directory (or no file) is not a
// pointer: fs.ErrNotExist.
func pointer(file, prefix string) (string, error) {
	info, err := os.Lstat(file)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fs.ErrNotExist
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(data)), prefix))
	if p == "" {
		return "", fmt.Errorf("%s names no path", file)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(file), p)
	}
	return filepath.Clean(p), nil
}

// distinct keeps the first path of each owner, for the message.
func distinct(owners []PathOwner) []PathOwner {
	seen := map[uint32]bool{}
	var out []PathOwner
	for _, o := range owners {
		if !seen[o.UID] {
			seen[o.UID] = true
			out = append(out, o)
		}
	}
	return out
}

// UserName is uid's login name, else the number.
func UserName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}
