package securitytest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/internal/testuser"
)

// plant puts one kind of unsafe entry at path (whose directory is the
// test user's own): a link, a FIFO, a directory, a file others may write,
// a file with a second hard link. It returns the reason the refusal names.
// The entry is made beside path and swapped in with one rename (an exchange
// when something is there), so a run waiting on the lock never finds path
// missing or half made: it would rightly create and take a fresh lock file.
func plant(t *testing.T, kind, path, victim string) string {
	t.Helper()
	tmp := path + ".plant"
	_ = os.RemoveAll(tmp)
	var reason string
	switch kind {
	case "link":
		require.NoError(t, os.Symlink(victim, tmp))
		reason = "symbolic link"
	case "fifo":
		require.NoError(t, syscall.Mkfifo(tmp, 0o600))
		reason = "named pipe"
	case "dir":
		require.NoError(t, os.Mkdir(tmp, 0o700))
		reason = "a directory"
	case "0666":
		require.NoError(t, os.WriteFile(tmp, []byte("{}\n"), 0o600))
		require.NoError(t, os.Chmod(tmp, 0o666))
		reason = "mode 0666"
	case "hardlink":
		other := victim + ".copy"
		_ = os.Remove(other)
		require.NoError(t, os.WriteFile(other, []byte("{}\n"), 0o600))
		require.NoError(t, os.Link(other, tmp))
		reason = "hard links"
	default:
		t.Fatalf("unknown kind %s", kind)
	}
	if _, err := os.Lstat(path); err == nil {
		require.NoError(t, unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE))
		require.NoError(t, os.RemoveAll(tmp)) // what was at path
	} else {
		require.NoError(t, os.Rename(tmp, path))
	}
	return reason
}

var plantKinds = []string{"link", "fifo", "dir", "0666", "hardlink"}

// Every state file chezmoi-sync will write is checked right after the lock
// is taken: a planted one is refused with exit 10 and one line before
// anything is synced (the edit is neither committed nor pushed), and the
// planted entry stays as it was.
func TestSyncRefusesUnsafeStateBeforeWork(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	h := testharness.NewHost(t, "alpha").WithBinaries()
	h.CloneDotfiles(remote)
	r := h.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	h.WriteHome(".bashrc", h.ReadHome(".bashrc")+"export NOT_BEFORE_THE_CHECK=1\n")
	victim := filepath.Join(h.Root, "victim")
	require.NoError(t, os.WriteFile(victim, []byte(precious), 0o600))
	refs := testharness.RemoteRefs(t, remote)
	head := h.Run(h.SourceDir(), "git", "rev-parse", "HEAD")
	for _, name := range []string{"last-sync.json", "last-sync-status", "sync-history.jsonl", "sync-run.json", "sync-colocation.json", "sync-index"} {
		for _, kind := range plantKinds {
			path := filepath.Join(h.StateDir(), name)
			reason := plant(t, kind, path, victim)
			before, _ := os.Lstat(path)
			r := h.Exec("", "chezmoi-sync", "--json")
			require.Equal(t, 10, r.Code, "%s as %s:\n%s", name, kind, r)
			line := strings.TrimSpace(r.Stderr)
			require.NotContains(t, line, "\n", "%s as %s: one line", name, kind)
			require.Contains(t, line, path)
			require.Contains(t, line, reason)
			require.Contains(t, r.Stdout, `"exit_code": 10`, "the --json error object")
			require.Equal(t, refs, testharness.RemoteRefs(t, remote), "%s as %s: pushed before the refusal", name, kind)
			require.Equal(t, head, h.Run(h.SourceDir(), "git", "rev-parse", "HEAD"))
			after, err := os.Lstat(path)
			require.NoError(t, err)
			require.Equal(t, before.Mode(), after.Mode(), "%s as %s: the planted entry changed", name, kind)
			data, _ := os.ReadFile(victim)
			require.Equal(t, precious, string(data))
			require.NoError(t, os.RemoveAll(path))
		}
	}
	// Nothing planted: the same run syncs (so the refusals above mattered).
	r = h.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "NOT_BEFORE_THE_CHECK")
}

// --wait re-opens the lock file with the same refusal rules each time: a
// lock replaced while a second run waits is refused (exit 10, one line),
// never followed, locked through, or reported as a raw error.
func TestWaitRechecksTheLock(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	h := testharness.NewHost(t, "alpha").WithBinaries()
	state := h.StateDir()
	require.NoError(t, os.MkdirAll(state, 0o700))
	lock := filepath.Join(state, "sync.lock")
	victim := filepath.Join(h.Root, "victim")
	require.NoError(t, os.WriteFile(victim, []byte(precious), 0o600))
	for _, kind := range plantKinds {
		_ = os.RemoveAll(lock)
		require.NoError(t, os.WriteFile(lock, nil, 0o600))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		holder := exec.CommandContext(ctx, "flock", "-x", lock, "sleep", "60")
		require.NoError(t, holder.Start())
		waitHeld(t, lock)
		waiter := h.Command(ctx, "", "chezmoi-sync", "--wait", "30s", "--source-dir", h.Root)
		var stderr strings.Builder
		waiter.Stderr = &stderr
		require.NoError(t, waiter.Start())
		time.Sleep(300 * time.Millisecond) // it waits on the held lock
		reason := plant(t, kind, lock, victim)
		err := waiter.Wait()
		cancel()
		_ = holder.Wait()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		line := strings.TrimSpace(stderr.String())
		require.Equal(t, 10, code, "%s: %s", kind, line)
		require.NotContains(t, line, "\n")
		require.Contains(t, line, lock)
		require.Contains(t, line, reason)
		data, _ := os.ReadFile(victim)
		require.Equal(t, precious, string(data))
	}
}

// waitHeld waits until path is exclusively locked by someone.
func waitHeld(t *testing.T, path string) {
	t.Helper()
	// Two seconds were not always enough for flock to start on a loaded
	// machine; it takes the lock the moment it runs.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if exec.Command("flock", "-n", "-s", path, "true").Run() != nil {
			return
		}
	}
	t.Fatal("the lock was never taken")
}

// A state directory others may enter (a `mkdir -p` under umask 022 made
// it 0755) shares nothing: the lock and history files the binaries create
// there, or find there 0644, are 0600, so no other user can read them or
// hold a shared flock on a lock to keep every run at exit 3.
func TestLooseStateDirSharesNothing(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	victim, other := testuser.New(t), testuser.New(t)
	r := newRunner(t, victim)
	r.must("chmod", "0755", r.home, r.state)
	r.must("sh", "-c", `umask 022; : > "$1/sync.lock"; : > "$1/rebuild.lock"`, "sh", r.state)
	res := r.run("rebuild-rollback", "--record", "/nix/store/x-nixos-system")
	require.Equal(t, 0, res.code, "%+v", res)
	r.run("chezmoi-sync")     // no source directory: fails, after taking its lock
	r.run("rebuild-rollback") // no system to go back to: fails, after taking its lock
	for _, f := range []string{"sync.lock", "rebuild.lock", "rebuild-history.jsonl"} {
		st, err := os.Stat(filepath.Join(r.state, f))
		require.NoError(t, err, f)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	// The other user can no longer open the lock to hold it.
	cmd := other.Command([]string{"PATH=/usr/bin:/bin"}, "/", "flock", "-n", "-s", filepath.Join(r.state, "sync.lock"), "true")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "another user took a shared lock on the victim's sync.lock")
	require.Contains(t, string(out), "Permission denied")
}

// Reads are checked like writes and bounded: a state file with a second
// hard link is refused (exit 10) by the commands that only read it; a state
// file far larger than any state file (a sparse 1 TB record) is refused as
// corrupt without being read; a --config that is a FIFO, a device, a
// directory or huge is one line and exit 2, at once.
func TestBoundedAndCheckedReads(t *testing.T) {
	t.Parallel()
	r := newRunner(t, nil)
	hist := filepath.Join(r.state, "rebuild-history.jsonl")
	r.must("sh", "-c", `printf '{"outcome":"success"}\n' > "$1" && ln "$1" "$2"`, "sh", hist, filepath.Join(r.home, "other-name"))
	requireRefused(t, r.run("rebuild-rollback", "--list"), hist, "hard links")
	require.NoError(t, os.Remove(hist))

	rec := filepath.Join(r.state, "last-sync.json")
	f, err := os.Create(rec)
	require.NoError(t, err)
	// 1 TB: reading it (zeros at memory speed) takes minutes, so a run of
	// a minute (a loaded machine under -race) did not read it; 3 GB took a
	// second or two and against 10 s the bound measured the load.
	require.NoError(t, f.Truncate(1<<40))
	require.NoError(t, f.Close())
	start := time.Now()
	res := r.run("chezmoi-status", "--json")
	require.Less(t, time.Since(start), time.Minute, "the 1 TB record was read")
	require.Contains(t, res.stderr, rec)
	require.Contains(t, res.stderr, "more than any state file holds")
	require.NoError(t, os.Remove(rec))

	fifo := filepath.Join(r.home, "config.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	huge := filepath.Join(r.home, "huge.json")
	f, err = os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<30))
	require.NoError(t, f.Close())
	for cfg, why := range map[string]string{fifo: "not a regular file (a named pipe)", "/dev/zero": "not a regular file (a character device)",
		r.home: "not a regular file (a directory)", huge: "1073741824 bytes, more than a config file holds"} {
		res := r.run("chezmoi-status", "--config", cfg)
		require.Equal(t, 2, res.code, "%s: %+v", cfg, res)
		require.True(t, strings.HasPrefix(res.stderr, "chezmoi-status: config file "+cfg+" is "+why), "%s: %s", cfg, res.stderr)
		require.NotContains(t, strings.TrimSpace(res.stderr), "\n")
	}
}
