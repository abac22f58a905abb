package reflock

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIsReceivePack(t *testing.T) {
	for cmd, want := range map[string]bool{
		"git-receive-pack\x00/srv/dotfiles.git\x00":            true,
		"/usr/lib/git-core/git-receive-pack\x00/srv/d.git\x00": true,
		"git\x00receive-pack\x00/srv/d.git\x00":                true,
		"git\x00upload-pack\x00/srv/d.git\x00":                 false,
		"sh\x00-c\x00git-receive-pack '/srv/d.git'\x00":        false, // its child is the one
		"vi\x00git-receive-pack\x00":                           false,
		"":                                                     false,
	} {
		require.Equal(t, want, isReceivePack([]byte(cmd)), "%q", cmd)
	}
}

// fakeProc makes a /proc with pid 1 and the given processes (cmdline,
// cwd) and points the package at it.
func fakeProc(t *testing.T, procs map[string][2]string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "1"), 0o755))
	for pid, p := range procs {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, pid), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, pid, "cmdline"), []byte(p[0]), 0o644))
		require.NoError(t, os.Symlink(p[1], filepath.Join(dir, pid, "cwd")))
	}
	old := procDir
	procDir = dir
	t.Cleanup(func() { procDir = old })
}

// A receive-pack counts only in the repository it works in: pushes into
// other repositories on the machine do not keep this one's lock.
func TestReceivePackIn(t *testing.T) {
	repo, other := t.TempDir(), t.TempDir()
	fakeProc(t, map[string][2]string{
		"100": {"git-receive-pack\x00" + other + "\x00", other},
		"200": {"git\x00upload-pack\x00" + repo + "\x00", repo},
	})
	_, ok := receivePackIn(repo)
	require.False(t, ok)

	fakeProc(t, map[string][2]string{"300": {"git-receive-pack\x00../r.git\x00", repo}})
	pid, ok := receivePackIn(repo)
	require.True(t, ok)
	require.Equal(t, 300, pid)
}

// A /proc that hides other users' processes proves nothing: a push is
// assumed to run.
func TestHiddenProcessesProveNothing(t *testing.T) {
	old := procDir
	procDir = t.TempDir() // no "1": hidepid
	t.Cleanup(func() { procDir = old })
	_, ok := receivePackIn(t.TempDir())
	require.True(t, ok)
}

// Stale only after the whole watch with the lock unchanged and no push
// running; a lock rewritten during the watch, or a push running, is live.
func TestJudge(t *testing.T) {
	oldW, oldP := Watch, Poll
	Watch, Poll = 300*time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { Watch, Poll = oldW, oldP })
	repo := t.TempDir()
	lock := filepath.Join(repo, "main.lock")
	require.NoError(t, os.WriteFile(lock, []byte("x\n"), 0o644))
	if _, network := networkFS(repo); network {
		t.Skip("the temporary directory is on a network file system")
	}

	fakeProc(t, nil)
	require.True(t, Judge(context.Background(), lock, repo).Stale)

	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = os.WriteFile(lock, []byte("xy\n"), 0o644)
	}()
	v := Judge(context.Background(), lock, repo)
	require.False(t, v.Stale)
	require.Contains(t, v.Why, "changed")

	fakeProc(t, map[string][2]string{"42": {"git-receive-pack\x00.\x00", repo}})
	v = Judge(context.Background(), lock, repo)
	require.False(t, v.Stale)
	require.Contains(t, v.Why, "pid 42")

	require.NoError(t, os.Remove(lock))
	require.False(t, Judge(context.Background(), lock, repo).Stale)
}
