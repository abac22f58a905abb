package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// pushFailed classifies a failed push: a race or a locked ref goes back
// to the fetch, an untracked remote branch is tracked and pushed again,
// an unreachable remote ends the run push-failed (what came in is still
// applied), anything else fails it.
func (r *run) pushFailed(ctx context.Context, res runner.Result, err error) (outcome, error) {
	if locked(res, err) {
		// The remote's ref is locked: another push holds it right now, or
		// a push killed on this machine (a local remote's receive-pack
		// dies with it) left the lock behind. Retry like a race; a stale
		// lock of a local remote is removed once this run has watched it
		// sit unchanged for staleLockWatch.
		detail := r.remoteName() + " is locked by another push: trying again"
		if lock := r.clearStaleRemoteLock(ctx); lock != "" {
			detail = "removed the stale lock " + lock + " a killed push left on " + r.c.Remote + ": pushing again"
		}
		return r.retry(ctx, detail)
	}
	switch jj.RemoteKind(res, err) {
	case jj.RemoteStale:
		return r.retry(ctx, r.remoteName()+" moved since the fetch (another host pushed): fetching again")
	case jj.RemoteNotTracking:
		if terr := r.track(ctx); terr != nil {
			return outcome{}, terr
		}
		return r.retry(ctx, r.c.Branch+" did not track "+r.remoteName()+": tracking it and pushing again")
	case jj.RemoteUnreachable:
		r.rec.Status = syncstate.PushFailed
		r.rec.PendingPush = len(r.local)
		r.rec.Error = brief.Line(errText(res, err))
		r.rec.NextStep = "your commits are safe locally; the next sync with " + r.c.Remote + " reachable pushes them"
		return outcome{status: ui.Failed, detail: r.c.Remote + " unreachable: " + r.rec.Error, next: "apply"}, nil
	}
	r.rec.Status = syncstate.PushFailed
	r.rec.PendingPush = len(r.local)
	r.rec.Error = brief.Line(errText(res, err))
	r.rec.NextStep = "your commits are safe locally; fix the push error and run chezmoi-sync again"
	r.pushErr = fmt.Errorf("push %s: %w", r.c.Branch, err)
	return outcome{status: ui.Failed, detail: r.rec.Error, next: "apply"}, nil
}

// unparkStep deletes sync/<host> (locally and on the remote) once its
// commits are part of the pushed history: resolved and published.
type unparkStep struct{}

func (unparkStep) name() string { return "unpark" }

func (unparkStep) plan(_ context.Context, r *run) (plan, error) {
	p := r.a.parkedLocal
	switch {
	case r.mode == modeAbort && r.dry:
		return plan{skip: "the abort deletes " + r.park, quiet: true}, nil
	case p == nil && r.a.parkedGone && r.c.AutoPush:
		// Deleted here (--abort, or an unpark whose push failed): the
		// deletion is pushed once the remote is reachable.
		return plan{does: "delete " + r.park + " on " + r.c.Remote + " (deleted here)", changes: true}, nil
	case p == nil:
		return plan{skip: "nothing parked", quiet: true}, nil
	case r.rec.PendingPush > 0 || r.rec.Status != "":
		return plan{skip: r.park + " stays until its commits are published"}, nil
	}
	return plan{does: "delete " + r.park + ": its commits are on " + r.remoteName(), changes: true, marks: true}, nil
}

func (unparkStep) run(ctx context.Context, r *run) (outcome, error) {
	detail := r.park + " deleted: its commits are on " + r.remoteName()
	if r.a.parkedLocal == nil {
		detail = r.park + " deleted"
	} else if err := r.jj.BookmarkDelete(ctx, r.park); err != nil {
		return outcome{}, fmt.Errorf("cannot delete %s: %w", r.park, err)
	}
	r.mutated = true
	switch {
	case r.a.parkedRemote == nil:
	case !r.c.AutoPush:
		detail += " (autoPush off: still on " + r.c.Remote + ")"
	default:
		if res, err := r.jj.Push(ctx, r.c.Remote, r.park); err != nil {
			r.io.Warnf("could not delete %s on %s: %s", r.park, r.c.Remote, brief.Line(errText(res, err)))
			detail += " (still on " + r.c.Remote + ")"
		} else {
			detail += " and on " + r.c.Remote
		}
	}
	return outcome{detail: detail}, nil
}

// staleLockWatch: a ref lock this run watched, unchanged, for this long
// is not held by a live push (git holds one for the ref update; its own
// wait for a ref lock is 100 ms). This run's clock measures it, never the
// lock's mtime: a lock's mtime said "older than a second" of a live push
// that had held it a second (a hook there, a loaded machine), of one on a
// FAT disk (mtimes in 2 s steps) at once, and of one on an NFS server
// whose clock runs ahead (TestLivePushLockIsNeverRemoved).
const staleLockWatch = 10 * time.Second

// staleLockPoll is how often the watch looks.
const staleLockPoll = 100 * time.Millisecond

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
// tests' bare repositories) once this run has watched it stay, unchanged,
// for staleLockWatch (a lock that goes away was a live push's). A push
// killed on this machine kills the remote's receive-pack with it, and its
// lock then blocks every host's push for ever. Removing a lock is safe
// even in the unlikely case a live push still held it: git renames the lock
// over the ref only after checking it still owns it, so that push fails
// (and retries) instead of two values being written. Network remotes are
// never touched. Returns the removed path, or "".
func (r *run) clearStaleRemoteLock(ctx context.Context) string {
	res, err := r.git(ctx, nil, "remote", "get-url", "--", r.c.Remote)
	if err != nil {
		return ""
	}
	dir := localRepoPath(res.Out(), r.workTree)
	if dir == "" {
		return ""
	}
	for _, refs := range []string{filepath.Join(dir, "refs"), filepath.Join(dir, ".git", "refs")} {
		lock := filepath.Join(refs, "heads", filepath.FromSlash(r.c.Branch)+".lock")
		st, err := os.Stat(lock)
		if err != nil || !watchLock(ctx, lock, st) {
			continue
		}
		if os.Remove(lock) == nil {
			return lock
		}
	}
	return ""
}

// watchLock reports whether the lock at path stays the same file, with the
// same size and mtime, for staleLockWatch; false as soon as it goes away
// or changes (a live push finished, or another began), or ctx ends.
func watchLock(ctx context.Context, path string, first os.FileInfo) bool {
	until := time.Now().Add(staleLockWatch) // monotonic: no wall clock involved
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(staleLockPoll):
		}
		cur, err := os.Stat(path)
		if err != nil || !os.SameFile(first, cur) || cur.Size() != first.Size() || !cur.ModTime().Equal(first.ModTime()) {
			return false
		}
		if time.Now().After(until) {
			return true
		}
	}
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
