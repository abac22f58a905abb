package chezmoisync

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// staleLockAge: a ref lock older than this is not held by a live push
// (git holds it for the few milliseconds of the ref update).
const staleLockAge = time.Second

// locked reports a push refused because the remote's ref is locked
// (git: "refs/heads/main (reason: reference already exists)").
func locked(res runner.Result, err error) bool {
	var ee *runner.ExitError
	msg := string(res.Stderr)
	if errors.As(err, &ee) {
		msg += ee.Stderr
	}
	return strings.Contains(msg, "reason: reference already exists")
}

// clearStaleRemoteLock removes refs/heads/<branch>.lock of a remote that
// is a local repository (a path or file:// URL: a USB disk, NFS, the
// tests' bare repositories) when it is older than staleLockAge. A push
// killed on this machine kills the remote's receive-pack with it, and its
// lock then blocks every host's push for ever. Removing a lock is safe
// even in the unlikely case a live push still held it: git renames the lock
// over the ref only after checking it still owns it, so that push fails
// (and retries) instead of two values being written. Network remotes are
// never touched. Returns the removed path, or "".
func (s *syncer) clearStaleRemoteLock(ctx context.Context) string {
	res, err := s.git(ctx, nil, "remote", "get-url", "--", s.c.Remote)
	if err != nil {
		return ""
	}
	dir := localRepoPath(res.Out(), s.rec.SourceDir)
	if dir == "" {
		return ""
	}
	for _, refs := range []string{filepath.Join(dir, "refs"), filepath.Join(dir, ".git", "refs")} {
		lock := filepath.Join(refs, "heads", filepath.FromSlash(s.c.Branch)+".lock")
		st, err := os.Stat(lock)
		if err != nil || time.Since(st.ModTime()) < staleLockAge {
			continue
		}
		if os.Remove(lock) == nil {
			return lock
		}
	}
	return ""
}

// localRepoPath is the directory of a remote URL that names a local
// repository, or "".
func localRepoPath(u, base string) string {
	switch {
	case strings.HasPrefix(u, "file://"):
		p, err := url.Parse(u)
		if err != nil {
			return ""
		}
		u = p.Path
	case strings.Contains(u, "://"):
		return "" // ssh://, https://, git://
	case strings.Contains(u, ":") && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "."):
		if i, j := strings.Index(u, ":"), strings.Index(u, "/"); j < 0 || i < j {
			return "" // scp-like host:path
		}
	}
	if u == "" {
		return ""
	}
	if !filepath.IsAbs(u) {
		u = filepath.Join(base, u)
	}
	if st, err := os.Stat(u); err != nil || !st.IsDir() {
		return ""
	}
	return u
}
