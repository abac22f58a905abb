package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/reflock"
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
		// dies with it) left the lock behind. Retry like a race; a lock of
		// a local remote is removed only once it is proven abandoned
		// (pkg/reflock: a live push's lock removed loses a commit).
		lock, v := r.clearStaleRemoteLock(ctx)
		switch {
		case lock != "" && v.Stale:
			r.lockHeld = nil
			return r.retry(ctx, "removed the stale lock "+lock+" a killed push left on "+r.c.Remote+" (no push holds it): pushing again")
		case lock != "":
			r.lockHeld = &heldLock{path: lock, why: v.Why, network: v.Network}
			return r.retry(ctx, r.remoteName()+" is locked ("+v.Why+"): trying again")
		}
		return r.retry(ctx, r.remoteName()+" is locked by another push: trying again")
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

// heldLock is a remote ref lock the last push met and could not prove
// abandoned: the run's end names it.
type heldLock struct {
	path, why string
	network   bool
}

// clearStaleRemoteLock judges refs/heads/<branch>.lock of a remote that is
// a local repository (a path or file:// URL: a USB disk, NFS, the tests'
// bare repositories) and removes it when pkg/reflock proves it abandoned:
// a push killed on this machine kills the remote's receive-pack with it,
// and its lock then blocks every host's push for ever. Network remotes
// are never touched. Returns the lock found ("" when none) and the
// verdict.
func (r *run) clearStaleRemoteLock(ctx context.Context) (string, reflock.Verdict) {
	res, err := r.git(ctx, nil, "remote", "get-url", "--", r.c.Remote)
	if err != nil {
		return "", reflock.Verdict{}
	}
	dir := localRepoPath(res.Out(), r.workTree)
	if dir == "" {
		return "", reflock.Verdict{}
	}
	for _, gitDir := range []string{dir, filepath.Join(dir, ".git")} {
		lock := filepath.Join(gitDir, "refs", "heads", filepath.FromSlash(r.c.Branch)+".lock")
		if _, err := os.Stat(lock); err != nil {
			continue
		}
		v := reflock.Judge(ctx, lock, gitDir)
		if v.Stale && os.Remove(lock) != nil {
			v = reflock.Verdict{Why: "it could not be removed"}
		}
		return lock, v
	}
	return "", reflock.Verdict{}
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
	// git finds a local repository named without its ".git" too
	// (`git clone /srv/dotfiles` for /srv/dotfiles.git).
	for _, p := range []string{u, u + ".git"} {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}
