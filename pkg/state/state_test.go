package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/stretchr/testify/require"
)

func TestDirPrecedence(t *testing.T) {
	env := map[string]string{"STATE_DIRECTORY": "/var/lib/nixdots:/var/lib/other", "XDG_STATE_HOME": "/x", "HOME": "/h"}
	get := func(k string) string { return env[k] }
	require.Equal(t, "/flag", Dir("/flag", get))
	require.Equal(t, "/var/lib/nixdots", Dir("", get))
	delete(env, "STATE_DIRECTORY")
	require.Equal(t, "/x/nixdots", Dir("", get))
	delete(env, "XDG_STATE_HOME")
	require.Equal(t, "/h/.local/state/nixdots", Dir("", get))
}

func TestWriteFileIsPrivateAndReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	p := filepath.Join(dir, "x.json")
	require.NoError(t, WriteJSON(p, map[string]int{"a": 1}))
	require.NoError(t, WriteJSON(p, map[string]int{"a": 2}))
	var v map[string]int
	require.NoError(t, ReadJSON(p, &v))
	require.Equal(t, 2, v["a"])
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	dst, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dst.Mode().Perm())
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temp files left behind")
}

func TestReadJSONCorruptNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "last-sync.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"status": "succ`), 0o600))
	var v map[string]any
	err := ReadJSON(p, &v)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), p)
	require.NotContains(t, err.Error(), "\n")

	err = ReadJSON(filepath.Join(t.TempDir(), "missing.json"), &v)
	require.True(t, errors.Is(err, fs.ErrNotExist))
}

// A writer killed with SIGKILL at a random moment never leaves a partial
// file: the reader sees the old or the new content, whole.
func TestSIGKILLDuringWriteNeverLeavesPartialFile(t *testing.T) {
	if os.Getenv("NIXDOTS_WRITER_CHILD") != "" {
		t.Skip("child mode")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "record.json")
	for round := 0; round < 15; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$")
		cmd.Env = append(os.Environ(), "NIXDOTS_WRITER_CHILD="+p)
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(20+rand.Intn(120)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		var v struct {
			Seq  int
			Fill string
		}
		err := ReadJSON(p, &v)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err, "round %d", round)
		require.Equal(t, strings.Repeat(fmt.Sprint(v.Seq%10), 200000), v.Fill, "round %d: content is whole", round)
	}
}

// TestWriterChild is the child of the SIGKILL test: it rewrites a large
// record as fast as it can until killed.
func TestWriterChild(t *testing.T) {
	p := os.Getenv("NIXDOTS_WRITER_CHILD")
	if p == "" {
		t.Skip("only runs as the child of TestSIGKILLDuringWriteNeverLeavesPartialFile")
	}
	for i := 0; ; i++ {
		_ = WriteJSON(p, map[string]any{"Seq": i, "Fill": strings.Repeat(fmt.Sprint(i%10), 200000)})
	}
}

func TestLockFailsFastNamingHolderThenWaits(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	me := Holder{PID: 4242, Host: "alpha", Command: "chezmoi-sync", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l1, err := Acquire(ctx, dir, SyncLock, 0, me)
	require.NoError(t, err)

	_, err = Acquire(ctx, dir, SyncLock, 0, Holder{PID: 1})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, me, le.Holder)
	require.Contains(t, err.Error(), "pid 4242 on alpha (chezmoi-sync) since 2026-01-02T03:04:05Z")

	busy, h, err := Busy(dir, SyncLock)
	require.NoError(t, err)
	require.True(t, busy)
	require.Equal(t, 4242, h.PID)

	done := make(chan error, 1)
	go func() {
		// Returns once l1 is released; the minute only bounds a release
		// that a loaded machine schedules late.
		l2, err := Acquire(ctx, dir, SyncLock, time.Minute, Holder{PID: 2})
		if err == nil {
			err = l2.Release()
		}
		done <- err
	}()
	time.Sleep(150 * time.Millisecond)
	require.NoError(t, l1.Release())
	require.NoError(t, <-done)
	_, err = os.Stat(filepath.Join(dir, SyncLock))
	require.NoError(t, err, "the lock file is never deleted")
	busy, _, err = Busy(dir, SyncLock)
	require.NoError(t, err)
	require.False(t, busy)
}

func TestLockWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(context.Background(), dir, RebuildLock, 0, Holder{PID: 1})
	require.NoError(t, err)
	defer l.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = Acquire(ctx, dir, RebuildLock, time.Minute, Holder{PID: 2})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A status command probing the lock (Busy) at the instant a run starts must
// not make that run fail as "locked".
func TestBusyProbeNeverBlocksAcquire(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(context.Background(), dir, SyncLock, 0, Holder{PID: 1})
	require.NoError(t, err)
	require.NoError(t, l.Release())
	stop := make(chan struct{})
	// Two monitors polling as fast as they can, yielding between probes
	// (four without yielding starve the lock past the grace period under
	// -race, which no real poller does).
	for g := 0; g < 2; g++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					_, _, _ = Busy(dir, SyncLock)
					runtime.Gosched()
				}
			}
		}()
	}
	defer close(stop)
	for i := 0; i < 400; i++ {
		l, err := Acquire(context.Background(), dir, SyncLock, 0, Holder{PID: 2})
		require.NoError(t, err, "attempt %d", i)
		require.NoError(t, l.Release())
	}
}

func TestStaleTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ".x.json.tmp-123")
	fresh := filepath.Join(dir, ".x.json.tmp-456")
	require.NoError(t, os.WriteFile(old, []byte("partial"), 0o600))
	require.NoError(t, os.WriteFile(fresh, []byte("in flight"), 0o600))
	past := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(old, past, past))
	require.NoError(t, WriteFile(filepath.Join(dir, "x.json"), []byte("{}")))
	_, err := os.Stat(old)
	require.True(t, os.IsNotExist(err), "a killed writer's leftover is removed")
	_, err = os.Stat(fresh)
	require.NoError(t, err, "a concurrent writer's temp file is left alone")
}

func TestStateDirThatIsAFileIsUsageError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	err := Ensure(f)
	require.Error(t, err)
	require.Equal(t, 2, exitcode.FromError(err))
	require.Contains(t, err.Error(), "is not a directory")
	require.Equal(t, 2, exitcode.FromError(Ensure(filepath.Join(f, "sub"))))
}
