package chezmoisync_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// 1. Disjoint edits on two hosts converge. The seed's order (fetch, rebase,
// re-add) loses the first host's edit on the second host; this must not.
func TestDisjointEditsConverge(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")

	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	b.WriteHome(".gitconfig", "[core]\n\tpager = less -R\n")

	mustSync(t, a)
	ra := record(t, a)
	require.Equal(t, syncstate.Success, ra.Status)
	require.True(t, ra.Pushed)
	require.Len(t, ra.Captured, 1)

	mustSync(t, b)
	rb := record(t, b)
	require.Equal(t, syncstate.Success, rb.Status)
	require.Equal(t, 1, rb.Incoming)
	require.True(t, rb.Pushed)
	mustSync(t, a)

	for _, h := range []*testharness.Host{a, b} {
		require.Contains(t, h.ReadHome(".bashrc"), "alias ll='ls -la'", h.Name)
		require.Contains(t, h.ReadHome(".gitconfig"), "pager = less -R", h.Name)
	}
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "alias ll='ls -la'")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = less -R")
	log := b.Run(remote, "git", "log", "--format=%s", "main")
	require.Regexp(t, `chore\(alpha\): sync dotfiles - \d{4}-\d\d-\d\dT`, log)
	require.Regexp(t, `chore\(beta\): sync dotfiles - `, log)
}

// 2. The same line edited on two hosts: nothing lost, main clean, the second
// host's edit parked on sync/<host>, its home untouched; after resolving,
// the next sync publishes the edit and deletes the bookmark.
func TestConflictIsParkedThenResolved(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")

	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	b.WriteHome(".gitconfig", "[core]\n\tpager = most\n") // a disjoint edit in the same commit
	mustSync(t, a)

	r := sync(b)
	require.Equal(t, 5, r.Code, r.String())
	require.Contains(t, r.Stdout, "next:")
	rec := record(t, b)
	require.Equal(t, syncstate.ConflictsPreserved, rec.Status)
	require.Equal(t, "sync/beta", rec.Parked)
	require.NotEmpty(t, rec.Conflicts)
	require.Contains(t, rec.Conflicts[0].Paths, "dot_bashrc")

	// Remote main: alpha's edit, conflict-free; beta's edit parked on sync/beta.
	mainBashrc := testharness.RemoteFile(t, remote, "main", "dot_bashrc")
	require.Contains(t, mainBashrc, "ls -la")
	require.False(t, hasConflictMarkers(mainBashrc))
	parked := testharness.RemoteFile(t, remote, "sync/beta", "dot_bashrc")
	require.Contains(t, parked, "ls -lh")
	require.False(t, hasConflictMarkers(parked))
	require.Contains(t, testharness.RemoteFile(t, remote, "sync/beta", "dot_gitconfig"), "pager = most")
	// beta's home and source keep beta's edit, no markers.
	require.Contains(t, b.ReadHome(".bashrc"), "ls -lh")
	require.False(t, hasConflictMarkers(b.ReadHome(".bashrc")))
	require.False(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
	require.Contains(t, b.ReadSource("dot_bashrc"), "ls -lh")
	// No conflicted commit is left in beta's visible history.
	require.Empty(t, jjOut(b, "log", "--no-graph", "-r", "conflicts()", "-T", "commit_id"))

	// A rerun parks again but does not push the same content again.
	parkedID := remoteRef(t, b, remote, "refs/heads/sync/beta")
	r = sync(b)
	require.Equal(t, 5, r.Code, r.String())
	require.Equal(t, parkedID, remoteRef(t, b, remote, "refs/heads/sync/beta"))
	require.Contains(t, r.Stdout, "unchanged on origin")

	// Resolve the way the next-step message says.
	src := b.SourceDir()
	b.Run(src, "jj", "rebase", "-b", "@", "-d", "main@origin")
	require.True(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -lah'\n"), 0o644))
	b.Run(src, "jj", "squash")

	mustSync(t, b)
	rec = record(t, b)
	require.Equal(t, syncstate.Success, rec.Status)
	require.True(t, rec.Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "alias ll='ls -lah'")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = most")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	require.Empty(t, jjOut(b, "bookmark", "list", "exact:sync/beta"))
	require.Contains(t, b.ReadHome(".bashrc"), "alias ll='ls -lah'")

	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "alias ll='ls -lah'")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = most")
}

// 3. Remote unreachable: exit 0, fetch-failed, commit kept; --exit-code
// gives 4; the next run with the remote back pushes it.
func TestOfflineKeepsCommitAndPushesLater(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a) // initialises jj

	moved := remote + ".away"
	require.NoError(t, os.Rename(remote, moved))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --color'")
	r := sync(a)
	require.Equal(t, 0, r.Code, r.String())
	rec := record(t, a)
	require.Equal(t, syncstate.FetchFailed, rec.Status)
	require.NotEmpty(t, rec.Error)
	require.Contains(t, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "description"), "chore(alpha): sync dotfiles")
	require.Contains(t, a.ReadSource("dot_bashrc"), "--color")
	require.NotEqual(t, rec.BeforeLocal, rec.AfterLocal)
	require.Equal(t, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"), rec.AfterLocal)

	r = sync(a, "--exit-code")
	require.Equal(t, 4, r.Code, r.String())
	require.Equal(t, syncstate.FetchFailed, record(t, a).Status)

	require.NoError(t, os.Rename(moved, remote))
	mustSync(t, a)
	rec = record(t, a)
	require.Equal(t, syncstate.Success, rec.Status)
	require.True(t, rec.Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--color")
	require.False(t, rec.LastSuccess.IsZero())
}

// 4. Push race: another host pushes between our fetch and our push. A git
// reference-transaction hook in alpha's colocated repository (git runs it
// for the fetch jj starts) pushes gamma's prepared commit once, right after
// alpha's fetch committed its refs: alpha's push then meets a moved remote.
func TestPushRaceIsRetried(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)

	g := testharness.NewHost(t, "gamma")
	gdir := filepath.Join(g.Root, "clone")
	g.Run("", "git", "clone", "-q", remote, gdir)
	require.NoError(t, os.WriteFile(filepath.Join(gdir, "dot_gitconfig"), []byte("[core]\n\tpager = bat\n"), 0o644))
	g.Run(gdir, "git", "commit", "-qam", "gamma edit")

	marker := filepath.Join(a.Root, "race-fired")
	hook := fmt.Sprintf(`#!/bin/sh
# test-only: simulate another host pushing right after our fetch
[ "$1" = committed ] || exit 0
[ -e %[1]q ] && exit 0
: > %[1]q
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX GIT_QUARANTINE_PATH
cd %[2]q && git push -q origin main
`, marker, gdir)
	hookPath := filepath.Join(a.SourceDir(), ".git", "hooks", "reference-transaction")
	require.NoError(t, os.MkdirAll(filepath.Dir(hookPath), 0o755))
	require.NoError(t, os.WriteFile(hookPath, []byte(hook), 0o755))

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --race'")
	// One race, one retry allowed: it is enough.
	mustSync(t, a, "--push-retries", "1")
	_, err := os.Stat(marker)
	require.NoError(t, err, "the race hook never fired")
	rec := record(t, a)
	require.Equal(t, syncstate.Success, rec.Status)
	require.Equal(t, 1, rec.PushRetries)
	require.True(t, rec.Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--race")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = bat")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = bat")

	// One race and no retry allowed: push-failed at once, the commit kept
	// for the next run, which publishes it.
	g.Run(gdir, "git", "pull", "-q", "--rebase", "origin", "main")
	require.NoError(t, os.WriteFile(filepath.Join(gdir, "dot_gitconfig"), []byte("[core]\n\tpager = most\n"), 0o644))
	g.Run(gdir, "git", "commit", "-qam", "gamma edit 2")
	require.NoError(t, os.Remove(marker))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --race2'")
	mustSync(t, a, "--push-retries", "0")
	_, err = os.Stat(marker)
	require.NoError(t, err, "the race hook never fired")
	rec = record(t, a)
	require.Equal(t, syncstate.PushFailed, rec.Status, rec.Error)
	require.Equal(t, 0, rec.PushRetries)
	require.Contains(t, rec.Error, "gave up after 0 push retries")
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--race2")
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--race2")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = most")
}

// 5. Two runs at once on one host: the second fails fast naming the holder,
// or waits with --wait; the repository never ends up corrupted.
func TestConcurrentRunsOnOneHost(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)

	lock, err := state.Acquire(context.Background(), a.StateDir(), state.SyncLock, 0,
		state.Holder{PID: 4242, Host: "alpha", Command: "chezmoi-sync", Since: time.Now()})
	require.NoError(t, err)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --lock'")
	r := sync(a)
	require.Equal(t, 3, r.Code, r.String())
	require.Contains(t, r.Stderr, "pid 4242")
	require.Contains(t, a.ReadSource("dot_bashrc"), "ls -l'", "a refused run must not capture")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, "", "chezmoi-sync", "--wait", "60s")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, lock.Release())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
	}
	require.NoError(t, cmd.Wait())

	// Truly concurrent runs: every one ends in 0 or 3, never corrupts.
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --both'")
	cmds := make([]chan int, 3)
	for i := range cmds {
		cmds[i] = make(chan int, 1)
		go func(ch chan int) { ch <- sync(a).Code }(cmds[i])
	}
	ok := 0
	for _, ch := range cmds {
		code := <-ch
		require.Contains(t, []int{0, 3}, code)
		if code == 0 {
			ok++
		}
	}
	require.GreaterOrEqual(t, ok, 1)
	mustSync(t, a)
	require.NotContains(t, jjOut(a, "bookmark", "list", "--all-remotes"), "??")
	require.Empty(t, jjOut(a, "log", "--no-graph", "-r", "conflicts()", "-T", "commit_id"))
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--both")
	require.Equal(t, syncstate.Success, record(t, a).Status)
}

// 6. A no-op sync creates no jj operation, no commit and pushes nothing.
func TestNoOpSync(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	ops := opCount(t, a)
	head := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	remoteHead := remoteRef(t, a, remote, "refs/heads/main")

	r := mustSync(t, a, "--verbose")
	require.Equal(t, ops, opCount(t, a), "a no-op sync created a jj operation")
	require.Equal(t, head, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"))
	require.Equal(t, remoteHead, remoteRef(t, a, remote, "refs/heads/main"))
	rec := record(t, a)
	require.Equal(t, syncstate.Success, rec.Status)
	require.False(t, rec.Pushed)
	require.Empty(t, rec.Committed)
	require.Equal(t, head, rec.BeforeLocal)
	require.Equal(t, head, rec.AfterLocal)
	// The jj check, the fetch and the incoming check: no chezmoi at all
	// (the stat index says no managed file changed), no source-path
	// (chezmoi has no config file here).
	require.Equal(t, 3, countCommands(r.Stderr), "subprocesses on the no-op path:\n%s", r.Stderr)
	require.NotContains(t, r.Stderr, "+ chezmoi")
	require.NotContains(t, r.Stderr, " apply")
	require.NotContains(t, r.Stderr, " push")

	// With a chezmoi config file (which may move the source directory),
	// chezmoi is asked once (dump-config); what it said is kept with the
	// stat index, so the next no-op run asks nobody again.
	a.WriteHome(".config/chezmoi/chezmoi.toml", "[data]\n  email = \"alpha@example.test\"\n")
	r = mustSync(t, a, "--verbose")
	require.Contains(t, r.Stderr, "dump-config")
	r = mustSync(t, a, "--verbose")
	require.Equal(t, 3, countCommands(r.Stderr), "subprocesses on the no-op path with a chezmoi config:\n%s", r.Stderr)
	require.Equal(t, ops, opCount(t, a), "a no-op sync created a jj operation")

	// --json: stdout is exactly the record; the human lines go to stderr.
	r = mustSync(t, a, "--json")
	var got syncstate.Record
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got), r.Stdout)
	require.Equal(t, syncstate.Success, got.Status)
	require.Equal(t, "alpha", got.Host)
	require.Equal(t, head, got.AfterLocal)
	require.NotEmpty(t, got.Steps)
	require.Contains(t, r.Stderr, "chezmoi-sync: success")

	// An edit of the same size after all this: the stat index sees it (its
	// mtime), so the next run scans and captures it.
	editLine(t, a, ".bashrc", 2, "alias ll='ls -L'")
	mustSync(t, a)
	require.Len(t, record(t, a).Captured, 1, "an edit after a no-op run was missed")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -L")
}

// --dry-run changes nothing in the repository, the home directory or the
// remote, and still shows the plan.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 0, "# bashrc from beta")
	mustSync(t, b)

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --dry'")
	before := snapshot(t, a, remote)
	recBefore, err := os.ReadFile(filepath.Join(a.StateDir(), syncstate.RecordFile))
	require.NoError(t, err)

	r := sync(a, "--dry-run")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "[plan] capture")
	require.Contains(t, r.Stdout, "would re-add 1 file: "+filepath.Join(a.Home, ".bashrc"))
	require.Contains(t, r.Stdout, "would fetch origin")
	require.Contains(t, r.Stdout, "has new commits")
	require.Contains(t, r.Stdout, "would push 1 commit")
	require.Contains(t, r.Stdout, "chezmoi-sync (dry run): would capture 1, would commit, would rebase, would push 1 commit, would apply (nothing was changed)")
	require.NotContains(t, r.Stdout, "success")
	require.Equal(t, before, snapshot(t, a, remote))
	recAfter, err := os.ReadFile(filepath.Join(a.StateDir(), syncstate.RecordFile))
	require.NoError(t, err)
	require.Equal(t, string(recBefore), string(recAfter), "dry run rewrote the state record")

	// The real run then does what the plan said.
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "# bashrc from beta")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--dry")
}

// snapshot is everything a dry run must leave alone.
func snapshot(t *testing.T, h *testharness.Host, remote string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintln(&b, opCount(t, h))
	fmt.Fprintln(&b, jjOut(h, "log", "--no-graph", "-r", "all()", "-T", `commit_id ++ "\n"`))
	fmt.Fprintln(&b, jjOut(h, "bookmark", "list", "--all-remotes"))
	fmt.Fprintln(&b, h.Run(remote, "git", "for-each-ref"))
	for _, f := range []string{".bashrc", ".gitconfig", ".config/app/config.toml"} {
		fmt.Fprintln(&b, h.ReadHome(f))
	}
	for _, f := range []string{"dot_bashrc", "dot_gitconfig"} {
		fmt.Fprintln(&b, h.ReadSource(f))
	}
	return b.String()
}

// A missing source directory with a repository URL is cloned, colocated,
// and applied.
func TestCloneWhenMissing(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	h := testharness.NewHost(t, "delta").WithBinaries()
	mustSync(t, h, "--repo-url", remote)
	require.DirExists(t, filepath.Join(h.SourceDir(), ".jj"))
	require.Contains(t, h.ReadHome(".bashrc"), "alias ll='ls -l'")
	editLine(t, h, ".bashrc", 2, "alias ll='ls -l --clone'")
	mustSync(t, h)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--clone")
}

// A working copy that already holds a conflict is refused: exit 5, nothing
// captured or committed.
func TestRefusesExistingConflicts(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -1'")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -2'")
	require.Equal(t, 5, sync(b).Code)
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin") // conflict, unresolved
	editLine(t, b, ".gitconfig", 1, "\tpager = cat")
	ops := opCount(t, b)

	r := sync(b)
	require.Equal(t, 5, r.Code, r.String())
	require.Contains(t, r.Stdout, "unresolved conflicts")
	require.Equal(t, ops, opCount(t, b), "a refused run changed the repository")
	require.NotContains(t, b.ReadSource("dot_gitconfig"), "pager = cat")
	rec := record(t, b)
	require.Equal(t, syncstate.ConflictsPreserved, rec.Status)
	require.NotEmpty(t, rec.Conflicts)
}

// Options come from flags, CHEZMOI_SYNC_* and the config file, in that order.
func TestOptionPrecedence(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	cfg := filepath.Join(a.Home, ".config", "nixdots", "config.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(cfg), 0o755))
	require.NoError(t, os.WriteFile(cfg, []byte(`{"chezmoiSync": {"autoPush": false, "hostname": "from config"}}`), 0o600))
	a.Setenv("CHEZMOI_SYNC_HOSTNAME", "")

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --cfg'")
	mustSync(t, a)
	rec := record(t, a)
	require.False(t, rec.Pushed, "config autoPush=false ignored")
	require.Equal(t, 1, rec.PendingPush)
	require.Equal(t, "from-config", rec.Host)
	require.Contains(t, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "description"), "chore(from-config)")

	a.Setenv("CHEZMOI_SYNC_AUTO_PUSH", "true") // env beats config
	mustSync(t, a)
	require.True(t, record(t, a).Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--cfg")

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --flag'")
	mustSync(t, a, "--no-auto-push") // flag beats env
	require.False(t, record(t, a).Pushed)
}

// An edit made in the source directory (chezmoi edit without apply) is not
// reverted by the capture: a plain `chezmoi re-add` would copy the
// unchanged home file over it; chezmoi-sync re-adds only home edits.
func TestSourceEditIsNotReverted(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_gitconfig"), []byte("[core]\n\tpager = delta\n"), 0o644))
	editLine(t, a, ".bashrc", 0, "# home edit")
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = delta")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "# home edit")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager = delta", "the source edit was not applied")
}

// SIGTERM in the middle of a run (here: during the fetch, held open by a
// reference-transaction hook that sleeps) stops it cleanly: exit 130, state
// interrupted, the lock released, the captured commit kept, and the next
// run completes the sync.
func TestInterruptedRun(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	started := filepath.Join(a.Root, "fetch-started")
	// The hook holds the push for 300 s: a run that stopped within a
	// minute of SIGTERM did not wait for it (the minute is for a loaded
	// machine under -race; 30 s of hook and a 10 s bound were too close).
	hook := fmt.Sprintf("#!/bin/sh\n# test-only: hold the first ref update with content (the push; the fetch comes first and finds nothing)\nin=$(cat)\n[ -z \"$in\" ] && exit 0\n[ -e %[1]q ] && exit 0\n: > %[1]q\nsleep 300\n", started)
	hookPath := filepath.Join(a.SourceDir(), ".git", "hooks", "reference-transaction")
	require.NoError(t, os.MkdirAll(filepath.Dir(hookPath), 0o755))
	require.NoError(t, os.WriteFile(hookPath, []byte(hook), 0o755))

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --term'")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, "", "chezmoi-sync")
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the fetch never started")
		time.Sleep(20 * time.Millisecond)
	}
	begin := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	require.Error(t, err)
	require.Equal(t, 130, cmd.ProcessState.ExitCode())
	require.Less(t, time.Since(begin), time.Minute, "the run did not stop promptly")
	rec := record(t, a)
	require.Equal(t, syncstate.Interrupted, rec.Status)
	require.Contains(t, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "description"), "chore(alpha)")

	mustSync(t, a) // the lock was released; the hook lets this fetch through
	require.Equal(t, syncstate.Success, record(t, a).Status)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--term")
}

// The network fails between fetch and push (a reference-transaction hook
// moves the remote away right after our fetch): push-failed, exit 0 (4 with
// --exit-code), the commit kept; the next run pushes it.
func TestPushFailureIsPushedNextRun(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	marker := filepath.Join(a.Root, "cut")
	hook := fmt.Sprintf("#!/bin/sh\n# test-only: the network goes away after the fetch\n[ \"$1\" = committed ] || exit 0\n[ -e %[1]q ] && exit 0\n: > %[1]q\nmv %[2]q %[2]q.away\n", marker, remote)
	hookPath := filepath.Join(a.SourceDir(), ".git", "hooks", "reference-transaction")
	require.NoError(t, os.MkdirAll(filepath.Dir(hookPath), 0o755))
	require.NoError(t, os.WriteFile(hookPath, []byte(hook), 0o755))

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --cut'")
	r := sync(a, "--exit-code")
	require.Equal(t, 4, r.Code, r.String())
	rec := record(t, a)
	require.Equal(t, syncstate.PushFailed, rec.Status)
	require.False(t, rec.Pushed)
	require.Equal(t, 1, rec.PendingPush)
	require.NotEmpty(t, rec.NextStep)
	require.Contains(t, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "description"), "chore(alpha)")

	require.NoError(t, os.Rename(remote+".away", remote))
	mustSync(t, a)
	rec = record(t, a)
	require.Equal(t, syncstate.Success, rec.Status)
	require.True(t, rec.Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--cut")
}

// Three hosts, edits on disjoint lines of one file and in another file,
// syncing in turn: after two rounds every home and the remote hold all
// three edits, with one commit per host and edit.
func TestThreeHostsConverge(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	hosts := []*testharness.Host{newHost(t, remote, "alpha"), newHost(t, remote, "beta"), newHost(t, remote, "gamma")}
	editLine(t, hosts[0], ".bashrc", 0, "# bashrc (alpha)")
	editLine(t, hosts[1], ".bashrc", 2, "alias ll='ls -l --beta'")
	editLine(t, hosts[2], ".config/app/config.toml", 1, "font = 14")
	for round := 0; round < 2; round++ {
		for _, h := range hosts {
			mustSync(t, h)
		}
	}
	for _, h := range hosts {
		require.Equal(t, "# bashrc (alpha)\nexport EDITOR=vi\nalias ll='ls -l --beta'\n", h.ReadHome(".bashrc"), h.Name)
		require.Contains(t, h.ReadHome(".config/app/config.toml"), "font = 14", h.Name)
		require.Equal(t, syncstate.Success, record(t, h).Status, h.Name)
	}
	log := hosts[0].Run(remote, "git", "log", "--format=%s", "main")
	require.Len(t, strings.Split(log, "\n"), 4, log)
}

// With autoCommit off the captured edit stays in the working-copy commit:
// rebased along with incoming changes, never pushed; turning it on later
// commits and pushes it.
func TestAutoCommitOff(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	editLine(t, b, ".config/app/config.toml", 0, `theme = "light"`)
	mustSync(t, b)

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --wip'")
	r := mustSync(t, a, "--no-auto-commit")
	require.Contains(t, r.Stdout, "autoCommit is off")
	rec := record(t, a)
	require.False(t, rec.Pushed)
	require.Empty(t, rec.Committed)
	require.Equal(t, 1, rec.Incoming)
	require.Contains(t, a.ReadHome(".config/app/config.toml"), `theme = "light"`)
	require.Contains(t, a.ReadSource("dot_bashrc"), "--wip")
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--wip")
	require.Equal(t, "false", jjOut(a, "log", "--no-graph", "-r", "@", "-T", "empty"))

	mustSync(t, a)
	require.True(t, record(t, a).Pushed)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--wip")
}
