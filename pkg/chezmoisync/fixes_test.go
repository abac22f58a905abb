package chezmoisync_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// Regression tests for the bugs the proof work found (docs/proof.md, "Bugs
// found"); each failed before its fix.

// Bug 1: a file edited at home whose source ALSO changed since chezmoi last
// wrote it (here an unapplied edit in the source directory; an incoming
// commit not applied yet is the same case) is captured by a 3-way merge:
// both edits end up in the remote and at home. Before the fix, re-add
// copied the home file over the source and the source's edit was lost.
func TestHomeEditOfChangedSourceFileIsMerged(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	src := filepath.Join(a.SourceDir(), "dot_bashrc")
	require.NoError(t, os.WriteFile(src, []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -l --source-edit'\n"), 0o644))
	editLine(t, a, ".bashrc", 0, "# bashrc, home edit")

	mustSync(t, a)
	rec := record(t, a)
	home := filepath.Join(a.Home, ".bashrc")
	require.Equal(t, []string{home}, rec.Merged, "the file should have been merged")
	require.Empty(t, rec.Unmerged)
	main := testharness.RemoteFile(t, remote, "main", "dot_bashrc")
	require.Contains(t, main, "--source-edit", "the source edit was lost")
	require.Contains(t, main, "home edit", "the home edit was lost")
	require.Equal(t, main, a.ReadHome(".bashrc"), "home should hold the merge")
	require.Equal(t, 0, a.Exec("", "chezmoi", "verify").Code, "home and source state differ after the merge")
	mustSync(t, a) // and the next run has nothing left to do
	require.Empty(t, record(t, a).Captured)
}

// Bug 1, overlapping edits: the same line changed at home and in the
// source cannot be merged. Neither side is overwritten: the home file keeps
// its edit (no conflict markers), the source keeps its own, the record
// names the file in unmerged_files and the next step says chezmoi merge.
func TestOverlappingHomeAndSourceEditsAreBothKept(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=nano\nalias ll='ls -l'\n"), 0o644))
	editLine(t, a, ".bashrc", 1, "export EDITOR=emacs")

	r := mustSync(t, a)
	rec := record(t, a)
	home := filepath.Join(a.Home, ".bashrc")
	require.Equal(t, []string{home}, rec.Unmerged, r.String())
	require.NotContains(t, rec.Captured, home)
	require.Contains(t, rec.NextStep, "chezmoi merge "+home)
	require.Contains(t, r.Stderr+r.Stdout, "changed both at home and in the source directory")
	require.Contains(t, a.ReadHome(".bashrc"), "EDITOR=emacs", "the home edit was overwritten")
	require.False(t, hasConflictMarkers(a.ReadHome(".bashrc")))
	require.Contains(t, a.ReadSource("dot_bashrc"), "EDITOR=nano", "the source edit was overwritten")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "EDITOR=nano")
}

// Bug 1 (a): a push that fails after a clean rebase still applies what
// came in, so the source directory is not left ahead of HOME.
func TestPushFailureStillAppliesIncoming(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	b.WriteHome(".gitconfig", "[core]\n\tpager = less -R\n")
	mustSync(t, b)

	hook := filepath.Join(remote, "hooks", "pre-receive")
	require.NoError(t, os.MkdirAll(filepath.Dir(hook), 0o755))
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'remote: maintenance, try later' >&2\nexit 1\n"), 0o755))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --rejected'")
	r := sync(a)
	rec := record(t, a)
	require.Equal(t, syncstate.PushFailed, rec.Status, r.String())
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = less -R", "what came in was not applied after the failed push")
	require.Equal(t, 0, a.Exec("", "chezmoi", "verify").Code, "home is behind the source after the failed push")

	require.NoError(t, os.Remove(hook))
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--rejected")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = less -R")
}

// killedRebase prepares alpha as a run killed inside `jj rebase` leaves it
// (observed with jj 0.46, see recover.go): alpha has a local commit and has
// fetched beta's commit; the rebased commits exist. stale=false: git HEAD
// already points at the rebased parent but jj never recorded the
// operation; stale=true: the operation is recorded but the files were not
// rewritten. The run marker is in the state directory, as the killed run
// left it.
func killedRebase(t *testing.T, stale bool) (remote string, a *testharness.Host) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	b.WriteHome(".gitconfig", "[core]\n\tpager = less -R\n")
	mustSync(t, b)

	src := a.SourceDir()
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --killed'")
	a.Run("", "chezmoi", "re-add", filepath.Join(a.Home, ".bashrc"))
	a.Run(src, "jj", "commit", "-m", "chore(alpha): sync dotfiles - killed run")
	before := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	a.Run(src, "jj", "git", "fetch")
	op := jjOut(a, "op", "log", "--no-graph", "-n", "1", "-T", "id")
	a.Run(src, "jj", "--ignore-working-copy", "rebase", "-b", "@", "-d", "main@origin")
	if !stale {
		rebased := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
		a.Run(src, "jj", "--ignore-working-copy", "op", "restore", op)
		a.Run(src, "git", "update-ref", "--no-deref", "HEAD", rebased)
	}
	marker, err := json.Marshal(map[string]any{"pid": 999999, "start": time.Now().Add(-time.Minute), "source_dir": src, "parent_before": before})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(a.StateDir(), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(a.StateDir(), "sync-run.json"), marker, 0o600))
	return remote, a
}

// Bug 2: the next run after a run killed inside jj rebase publishes both
// edits; before the fix it committed the stale files as a change (a revert
// of beta's commit) and pushed it, or failed on the stale working copy.
func TestRecoversFromRunKilledInsideRebase(t *testing.T) {
	for _, stale := range []bool{false, true} {
		name := "head-moved"
		if stale {
			name = "stale-working-copy"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			remote, a := killedRebase(t, stale)
			r := mustSync(t, a)
			require.Contains(t, r.Stdout+r.Stderr, "was interrupted")
			main := testharness.RemoteFile(t, remote, "main", "dot_gitconfig")
			require.Contains(t, main, "pager = less -R", "beta's edit was reverted on main:\n%s", r)
			require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--killed")
			require.Contains(t, a.ReadHome(".gitconfig"), "pager = less -R")
			require.NotContains(t, a.Run(remote, "git", "log", "--format=%s", "main"), "chore(alpha): sync dotfiles - 20", "an extra sync commit (the revert) was pushed")
			_, err := os.Stat(filepath.Join(a.StateDir(), "sync-run.json"))
			require.True(t, os.IsNotExist(err), "the run marker is left behind")
		})
	}
}

// Bug 2, last guard: a jj command run by hand after the kill imports the
// moved HEAD before chezmoi-sync can repair it, so the working copy
// already holds the revert. The sync recognises it (the files are exactly
// as before the killed rebase) and does not commit it.
func TestRevertSnapshottedAfterKillIsNotCommitted(t *testing.T) {
	t.Parallel()
	remote, a := killedRebase(t, false)
	a.Run(a.SourceDir(), "jj", "status") // imports git HEAD, snapshots the stale files
	r := mustSync(t, a)
	require.Contains(t, r.Stdout+r.Stderr, "dropped from the working copy")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = less -R", "beta's edit was reverted on main:\n%s", r)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--killed")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = less -R")
}

// Bug 5: a new dotfile over jj's default 1 MiB snapshot limit is synced
// (before the fix it stayed untracked and the run said success).
func TestLargeNewDotfileIsSynced(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	big := make([]byte, 3<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	path := filepath.Join(a.Home, ".big")
	require.NoError(t, os.WriteFile(path, big, 0o644))
	a.Run("", "chezmoi", "add", path)
	mustSync(t, a)
	require.True(t, testharness.RemoteFile(t, remote, "main", "dot_big") == string(big), "the 3 MiB file is not in the remote")
	_, err = os.Stat(filepath.Join(a.StateDir(), "sync-run.json"))
	require.True(t, os.IsNotExist(err), "the run marker is left behind")
	require.False(t, strings.Contains(jjOut(a, "status"), "dot_big"), "dot_big is still untracked")
}

// Bug 5, the other half: a new file over the limit fails the run, naming
// the file, instead of reporting success with the file left behind.
func TestNewFileOverTheLimitFailsTheRun(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	path := filepath.Join(a.Home, ".too big")
	require.NoError(t, os.WriteFile(path, make([]byte, 200_000), 0o644))
	a.Run("", "chezmoi", "add", path)
	r := sync(a, "--max-new-file-size", "100000")
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, `"dot_too big"`, "the refused file is not named")
	rec := record(t, a)
	require.Equal(t, syncstate.Failed, rec.Status)
	require.Contains(t, rec.NextStep, "--max-new-file-size")
	require.NotEqual(t, 0, a.Exec(remote, "git", "cat-file", "-e", "main:dot_too big").Code)
	require.Equal(t, 2, sync(a, "--max-new-file-size", "0").Code)
	mustSync(t, a) // the default limit takes it
	require.Equal(t, 0, a.Exec(remote, "git", "cat-file", "-e", "main:dot_too big").Code)
}

// A `jj git fetch` killed inside git leaves refs/remotes/origin/main.lock
// behind; every later fetch then failed ("reference already exists") and
// the sync stayed fetch-failed for ever (seen as a flake of the faults
// suite's KillNine/during-fetch). The next run removes the stale lock and
// fetches again.
func TestStaleRemoteRefLockFromKilledFetch(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	b.WriteHome(".gitconfig", "[core]\n\tpager = less -R\n")
	mustSync(t, b)
	lock := filepath.Join(a.SourceDir(), ".git", "refs", "remotes", "origin", "main.lock")
	require.NoError(t, os.WriteFile(lock, []byte(strings.Repeat("0", 40)+"\n"), 0o644))
	r := mustSync(t, a)
	require.Equal(t, syncstate.Success, record(t, a).Status, r.String())
	require.Contains(t, r.Stderr, "main.lock")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = less -R")
}

// A push killed on this machine kills a local remote's receive-pack too,
// leaving refs/heads/main.lock in the remote: every later push failed
// ("reason: reference already exists", seen as a flake of the faults
// suite's KillNine/during-push). A lock that sits unchanged while the run
// watches it (reflock.Watch) and no push holds is removed and the push retried; one that
// goes away (a live push) is waited for like a push race.
func TestStaleLockOnLocalRemoteIsCleared(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	lock := filepath.Join(remote, "refs", "heads", "main.lock")
	require.NoError(t, os.WriteFile(lock, nil, 0o644))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --unlocked'")
	r := mustSync(t, a)
	rec := record(t, a)
	require.Equal(t, syncstate.Success, rec.Status, r.String())
	require.True(t, rec.Pushed)
	require.Contains(t, r.Stdout, "stale lock", r.String())
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--unlocked")
	_, err := os.Stat(lock)
	require.True(t, os.IsNotExist(err))
}

// A live push on another host holds the local remote's ref lock longer
// than a second (a reference-transaction hook there, a loaded machine; on
// a FAT disk the lock's mtime is truncated to 2 s steps, on NFS it is the
// server's clock): its lock was taken for a killed push's and removed, so
// the other push's ref update failed (or published this host's value as
// its own). A lock is removed only after this run watched it unchanged
// for reflock.Watch; one that goes away is a live push, waited for.
func TestLivePushLockIsNeverRemoved(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	ref := filepath.Join(remote, "refs", "heads", "main")
	head, err := os.ReadFile(ref)
	require.NoError(t, err)
	// The other host's push: its lock holds the ref's next value (here
	// the same) and has been held for 2 s.
	lock := ref + ".lock"
	require.NoError(t, os.WriteFile(lock, head, 0o644))
	held := time.Now().Add(-2 * time.Second)
	require.NoError(t, os.Chtimes(lock, held, held))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --live'")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, "", "chezmoi-sync", "--verbose")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	var out testharness.SyncBuffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	// Once this run has started its push (refused: the ref is locked),
	// the other push ends the way git ends one: its lock renamed over
	// the ref.
	finished := make(chan error, 1)
	started := false
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !started && strings.HasPrefix(sc.Text(), "+ ") && strings.Contains(sc.Text(), " git push") {
			started = true
			go func() {
				time.Sleep(1500 * time.Millisecond)
				finished <- os.Rename(lock, ref)
			}()
		}
	}
	require.NoError(t, cmd.Wait(), "%s\n%s", out.String(), log.String())
	require.NoError(t, <-finished, "the live push's lock was removed under it:\n%s", out.String())
	require.NotContains(t, out.String(), "stale lock")
	rec := record(t, a)
	require.Equal(t, syncstate.Success, rec.Status, out.String())
	require.True(t, rec.Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--live")
}

// (attack 4, F1) A push that holds the remote's ref lock longer than the
// watch (a slow reference-transaction hook in the remote): the lock was
// taken for a killed push's and removed; the other host then pushed with
// a new lock, and the slow push renamed that lock (by path) over main:
// the slow host said "pushed" while its commit was not on main. A lock a
// running receive-pack works under is never removed; the waiting host
// gives up (push-failed, exit 0, naming the lock) and its next sync
// publishes; both commits end up on main.
func TestSlowLivePushKeepsItsLock(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	// The first transaction after the hook is installed holds its locks
	// 16 s: longer than the watch, so only the running receive-pack can
	// tell the lock is alive.
	hook := filepath.Join(remote, "hooks", "reference-transaction")
	count := filepath.Join(t.TempDir(), "count")
	script := fmt.Sprintf(`#!/bin/sh
# test-only: a slow hook while alpha's push holds refs/heads/main.lock
[ "$1" = prepared ] || exit 0
[ -e %[1]q ] && exit 0
: > %[1]q
sleep 16
`, count)
	require.NoError(t, os.WriteFile(hook, []byte(script), 0o755))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --slow-alpha'")
	b.WriteHome(".gitconfig", "[core]\n\tpager = beta-while-locked\n")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var aOut testharness.SyncBuffer
	ca := a.Command(ctx, "", "chezmoi-sync")
	ca.Stdout, ca.Stderr = &aOut, &aOut
	require.NoError(t, ca.Start())
	lock := filepath.Join(remote, "refs", "heads", "main.lock")
	require.Eventually(t, func() bool { _, err := os.Stat(lock); return err == nil }, 2*time.Minute, 50*time.Millisecond, "alpha's push never took the lock")

	rb := syncCode(t, b, 0)
	require.NotContains(t, rb.Stdout, "stale lock", "a live push's lock was removed")
	require.NoError(t, ca.Wait(), aOut.String())
	require.Equal(t, syncstate.Success, record(t, a).Status, aOut.String())
	if rec := record(t, b); rec.Status == syncstate.PushFailed {
		require.Contains(t, rec.Error, "stayed locked", rb.String())
		require.Contains(t, rec.Error, "receive-pack", rb.String())
		mustSync(t, b)
	}
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--slow-alpha", "alpha's pushed commit is not on main:\n%s\n%s", aOut.String(), rb.String())
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "beta-while-locked")
}
