package chezmoistatus_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

// Root reading a user's state directory with --wait while the user's sync
// holds sync.lock: both readers wait for it to be let go and then answer,
// without taking the lock (root may not write the user's lock file: that
// was exit 10) and without changing anything in the user's directory.
func TestWaitAsRootOnAUsersStateDirectory(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	u := testuser.New(t)
	dir := filepath.Join(u.Dir(t), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	lockPath := filepath.Join(dir, state.SyncLock)
	require.NoError(t, os.WriteFile(lockPath, nil, 0o600))
	require.NoError(t, os.Chown(dir, u.UID, u.GID))
	require.NoError(t, os.Chown(lockPath, u.UID, u.GID))
	before := testuser.Snapshot(t, dir)

	for _, cmd := range [][]string{
		{"chezmoi-status", "--state-dir", dir, "--wait", "30s"},
		{"chezmoi-show-conflicts", "--state-dir", dir, "--wait", "30s"},
	} {
		// The user's sync holds the lock (as flock would) and lets go soon.
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		require.NoError(t, err)
		require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
		go func() {
			time.Sleep(700 * time.Millisecond)
			_ = f.Close()
		}()
		r := h.Exec("", cmd[0], cmd[1:]...)
		require.Equal(t, 0, r.Code, "%v: %s", cmd, r)
		require.NotContains(t, r.Stdout, "Sync running", "it waited for the sync")
	}
	require.Equal(t, before, testuser.Snapshot(t, dir), "root changed the user's state directory")
}
