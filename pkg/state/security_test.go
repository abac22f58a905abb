package state

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

func TestMain(m *testing.M) { testuser.Main(m) }

const precious = "precious content, must not change\n"

// fixture is a state directory next to a victim file, both owned by
// whoever runs the test (root in CI, the test user when re-run as it).
type fixture struct {
	base, state, victim string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{base: base, state: filepath.Join(base, "state"), victim: filepath.Join(base, "victim")}
	require.NoError(t, os.Mkdir(f.state, 0o700))
	require.NoError(t, os.WriteFile(f.victim, []byte(precious), 0o600))
	return f
}

func (f fixture) at(name string) string { return filepath.Join(f.state, name) }

// requireUnsafe checks err is the one-line refusal naming path, exit 10.
func requireUnsafe(t *testing.T, err error, path, reason string) {
	t.Helper()
	require.Error(t, err)
	var ue *UnsafeError
	require.ErrorAs(t, err, &ue, "%v", err)
	require.Equal(t, exitcode.Unsafe, exitcode.FromError(err), "%v", err)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), reason)
	require.NotContains(t, err.Error(), "\n")
}

func (f fixture) requireVictimIntact(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(f.victim)
	require.NoError(t, err)
	require.Equal(t, precious, string(data), "the link's target was written")
	st, err := os.Stat(f.victim)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the link's target was chmodded")
}

func hold(dir string) (*Lock, error) {
	return Acquire(context.Background(), dir, SyncLock, 0, Holder{PID: 7, Host: "h", Command: "test", Since: time.Now()})
}

// The attacks of issue 14 on a state directory, each refused with nothing
// written. TestUnsafeStateAsUser runs the same as an unprivileged user.
func TestUnsafeStateIsRefused(t *testing.T) {
	t.Parallel()
	t.Run("lock linked to a file is not truncated", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.Symlink(f.victim, f.at(SyncLock)))
		_, err := hold(f.state)
		requireUnsafe(t, err, f.at(SyncLock), "symbolic link (to "+f.victim+")")
		f.requireVictimIntact(t)
		busy, _, err := Busy(f.state, SyncLock)
		requireUnsafe(t, err, f.at(SyncLock), "symbolic link")
		require.False(t, busy)
	})
	t.Run("lock linked nowhere is not created", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		target := filepath.Join(f.base, "created-through-link")
		require.NoError(t, os.Symlink(target, f.at(SyncLock)))
		_, err := hold(f.state)
		requireUnsafe(t, err, f.at(SyncLock), "symbolic link")
		require.NoFileExists(t, target)
	})
	t.Run("lock linked to a directory", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		d := filepath.Join(f.base, "d")
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Symlink(d, f.at(RebuildLock)))
		_, err := Acquire(context.Background(), f.state, RebuildLock, 0, Holder{})
		requireUnsafe(t, err, f.at(RebuildLock), "symbolic link")
		entries, _ := os.ReadDir(d)
		require.Empty(t, entries)
	})
	t.Run("history linked to a file is not appended through", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.Symlink(f.victim, f.at("sync-history.jsonl")))
		h, err := OpenDir(f.state)
		require.NoError(t, err)
		defer h.Close()
		_, err = h.OpenFile("sync-history.jsonl", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		requireUnsafe(t, err, f.at("sync-history.jsonl"), "symbolic link")
		f.requireVictimIntact(t)
	})
	t.Run("record linked to a file is neither read nor replaced", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.WriteFile(f.victim, []byte(precious), 0o600))
		require.NoError(t, os.Symlink(f.victim, f.at("last-sync.json")))
		var v map[string]any
		requireUnsafe(t, ReadJSON(f.at("last-sync.json"), &v), f.at("last-sync.json"), "symbolic link")
		requireUnsafe(t, WriteJSON(f.at("last-sync.json"), map[string]int{"a": 1}), f.at("last-sync.json"), "symbolic link")
		st, err := os.Lstat(f.at("last-sync.json"))
		require.NoError(t, err)
		require.NotZero(t, st.Mode()&fs.ModeSymlink, "the link was replaced")
		f.requireVictimIntact(t)
		requireNoTemps(t, f.state)
	})
	t.Run("state directory linked to a directory", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		real := filepath.Join(f.base, "real")
		require.NoError(t, os.Mkdir(real, 0o700))
		link := filepath.Join(f.base, "linked")
		require.NoError(t, os.Symlink(real, link))
		requireUnsafe(t, WriteFile(filepath.Join(link, "last-sync-status"), []byte("success\n")), link, "symbolic link")
		_, err := hold(link)
		requireUnsafe(t, err, link, "symbolic link")
		_, err = OpenDirReadOnly(link)
		requireUnsafe(t, err, link, "symbolic link")
		entries, _ := os.ReadDir(real)
		require.Empty(t, entries)
	})
	t.Run("state directory linked nowhere is not created", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		target := filepath.Join(f.base, "nowhere")
		link := filepath.Join(f.base, "dangling")
		require.NoError(t, os.Symlink(target, link))
		requireUnsafe(t, Ensure(link), link, "symbolic link")
		requireUnsafe(t, WriteFile(filepath.Join(link, "x.json"), []byte("{}")), link, "symbolic link")
		require.NoDirExists(t, target)
	})
	t.Run("pipe at a state file never blocks", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, name := range []string{"last-sync.json", SyncLock} {
			require.NoError(t, syscall.Mkfifo(f.at(name), 0o600))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			var v map[string]any
			requireUnsafe(t, ReadJSON(f.at("last-sync.json"), &v), f.at("last-sync.json"), "named pipe")
			requireUnsafe(t, WriteFile(f.at("last-sync.json"), []byte("{}")), f.at("last-sync.json"), "named pipe")
			_, err := hold(f.state)
			requireUnsafe(t, err, f.at(SyncLock), "named pipe")
			_, _, err = Busy(f.state, SyncLock)
			requireUnsafe(t, err, f.at(SyncLock), "named pipe")
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("blocked on a FIFO")
		}
		st, err := os.Lstat(f.at("last-sync.json"))
		require.NoError(t, err)
		require.NotZero(t, st.Mode()&fs.ModeNamedPipe, "the pipe was replaced")
	})
	t.Run("directory at a state file", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.Mkdir(f.at(SyncLock), 0o700))
		_, err := hold(f.state)
		requireUnsafe(t, err, f.at(SyncLock), "a directory, not a regular file")
	})
	t.Run("hard link is not appended through", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.Link(f.victim, f.at("rebuild-history.jsonl")))
		h, err := OpenDir(f.state)
		require.NoError(t, err)
		defer h.Close()
		_, err = h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
		requireUnsafe(t, err, f.at("rebuild-history.jsonl"), "2 hard links")
		f.requireVictimIntact(t)
	})
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702} {
		t.Run("directory writable by others "+mode.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			require.NoError(t, os.Chmod(f.state, mode))
			_, err := hold(f.state)
			requireUnsafe(t, err, f.state, "group or others may write it")
			requireUnsafe(t, WriteFile(f.at("x.json"), []byte("{}")), f.state, "group or others may write it")
			_, err = OpenDirReadOnly(f.state)
			requireUnsafe(t, err, f.state, "group or others may write it")
			entries, _ := os.ReadDir(f.state)
			require.Empty(t, entries, "something was written into it")
			st, _ := os.Stat(f.state)
			require.Equal(t, mode, st.Mode().Perm(), "refused, not silently changed")
		})
	}
	t.Run("file writable by others", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		require.NoError(t, os.WriteFile(f.at("last-sync.json"), []byte(`{"a":1}`), 0o600))
		require.NoError(t, os.Chmod(f.at("last-sync.json"), 0o666))
		var v map[string]any
		requireUnsafe(t, ReadJSON(f.at("last-sync.json"), &v), f.at("last-sync.json"), "mode 0666")
		requireUnsafe(t, WriteFile(f.at("last-sync.json"), []byte("{}")), f.at("last-sync.json"), "mode 0666")
		data, _ := os.ReadFile(f.at("last-sync.json"))
		require.Equal(t, `{"a":1}`, string(data))
	})
	t.Run("inside a directory others may write", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		open := filepath.Join(f.base, "open")
		require.NoError(t, os.Mkdir(open, 0o700))
		require.NoError(t, os.Chmod(open, 0o777))
		requireUnsafe(t, Ensure(filepath.Join(open, "state")), filepath.Join(open, "state"), "inside "+open)
		require.NoDirExists(t, filepath.Join(open, "state"), "created in a directory anyone may write")
		require.NoError(t, os.Mkdir(filepath.Join(open, "made"), 0o700))
		requireUnsafe(t, Ensure(filepath.Join(open, "made")), filepath.Join(open, "made"), "no sticky bit")
		// Sticky, like /tmp: others cannot rename what is ours.
		require.NoError(t, os.Chmod(open, 0o777|os.ModeSticky))
		require.NoError(t, Ensure(filepath.Join(open, "made")))
	})
}

// What the suite creates is 0700/0600 whatever the umask; existing files
// lose read bits their directory does not share; a directory others may
// enter (root's, for the nixdots group) shares the files meant to be read.
func TestModesCreatedAndTightened(t *testing.T) {
	// Not parallel: the umask is the process's. This one takes the owner's
	// write bit too, so only an explicit chmod gives the promised modes.
	f := newFixture(t)
	deep := filepath.Join(f.base, "a", "b", "state")
	old := syscall.Umask(0o277)
	err := WriteFile(filepath.Join(deep, "last-sync.json"), []byte("{}"))
	var l *Lock
	if err == nil {
		l, err = hold(deep)
	}
	syscall.Umask(old)
	require.NoError(t, err)
	require.NoError(t, l.Release())
	for _, d := range []string{filepath.Join(f.base, "a"), filepath.Join(f.base, "a", "b"), deep} {
		requireMode(t, d, 0o700)
	}
	requireMode(t, filepath.Join(deep, "last-sync.json"), 0o600)
	requireMode(t, filepath.Join(deep, SyncLock), 0o600)

	// A loose file in a private directory is tightened when opened to write.
	require.NoError(t, os.WriteFile(f.at("rebuild-history.jsonl"), nil, 0o644))
	h, err := OpenDir(f.state)
	require.NoError(t, err)
	fh, err := h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	require.NoError(t, h.Close())
	requireMode(t, f.at("rebuild-history.jsonl"), 0o600)
	// Reading never changes anything.
	require.NoError(t, os.Chmod(f.at("rebuild-history.jsonl"), 0o644))
	_, err = ReadFile(f.at("rebuild-history.jsonl"))
	require.NoError(t, err)
	requireMode(t, f.at("rebuild-history.jsonl"), 0o644)

	// A directory others may enter is not shared: a loose lock and history
	// are tightened to 0600 (another user reading the lock could hold it).
	for _, mode := range []os.FileMode{0o755, 0o750, 0o711} {
		require.NoError(t, os.Chmod(f.state, mode))
		require.NoError(t, os.Chmod(f.at("rebuild-history.jsonl"), 0o644))
		require.NoError(t, os.WriteFile(f.at(SyncLock), nil, 0o644))
		require.NoError(t, os.Chmod(f.at(SyncLock), 0o644))
		l, err = hold(f.state)
		require.NoError(t, err)
		require.NoError(t, l.Release())
		h, err = OpenDir(f.state)
		require.NoError(t, err)
		fh, err = h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		require.NoError(t, h.Close())
		requireMode(t, f.at(SyncLock), 0o600)
		requireMode(t, f.at("rebuild-history.jsonl"), 0o600)
	}
	if !testuser.IsRoot() {
		return
	}
	// The module's layout (root's, setgid, 2750): lock and history readable
	// by the group, never by others; the private files still 0600.
	require.NoError(t, os.Chmod(f.state, 0o755|os.ModeSetgid))
	require.NoError(t, os.Chmod(f.at("rebuild-history.jsonl"), 0o644))
	l, err = hold(f.state)
	require.NoError(t, err)
	require.NoError(t, l.Release())
	requireMode(t, f.at(SyncLock), 0o640)
	h, err = OpenDir(f.state)
	require.NoError(t, err)
	fh, err = h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	require.NoError(t, h.WriteFiles(0o600, File{Name: "last-sync.json", Data: []byte("{}")}))
	require.NoError(t, h.Close())
	requireMode(t, f.at("rebuild-history.jsonl"), 0o640)
	requireMode(t, f.at("last-sync.json"), 0o600)
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, st.Mode().Perm(), path)
}

func requireNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp-", "temp file left behind")
	}
}

// The lock file is written over in place, never truncated: what was longer
// in it stays as long; the holder record is still read back.
func TestLockFileIsNeverTruncated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := bytes.Repeat([]byte("an older, longer record of another version\n"), 50)
	require.NoError(t, os.WriteFile(f.at(SyncLock), old, 0o600))
	size := func() int64 {
		st, err := os.Stat(f.at(SyncLock))
		require.NoError(t, err)
		return st.Size()
	}
	me := Holder{PID: 4242, Host: "alpha", Command: "chezmoi-sync", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l, err := Acquire(context.Background(), f.state, SyncLock, 0, me)
	require.NoError(t, err)
	require.Equal(t, int64(len(old)), size(), "truncated on acquire")
	_, err = Acquire(context.Background(), f.state, SyncLock, 0, Holder{PID: 1})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, me, le.Holder)
	require.NoError(t, l.Release())
	require.Equal(t, int64(len(old)), size(), "truncated on release")
	require.Equal(t, Holder{}, ReadHolder(f.at(SyncLock)), "the record is blanked on release")
}

// Another user's state: root uses only root-owned state, never writes or
// creates anything of a user's, and may read it.
func TestOtherUsersStateAsRoot(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	u := testuser.New(t)
	userDir := u.Dir(t)
	state := filepath.Join(userDir, "state")
	require.NoError(t, os.Mkdir(state, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(state, "last-sync-status"), []byte("success\n"), 0o600))
	require.NoError(t, os.Chown(state, u.UID, u.GID))
	require.NoError(t, os.Chown(filepath.Join(state, "last-sync-status"), u.UID, u.GID))
	before := testuser.Snapshot(t, userDir)

	_, err := hold(state)
	requireUnsafe(t, err, state, "owned by "+u.Name)
	require.Contains(t, err.Error(), "root uses only root-owned state")
	requireUnsafe(t, WriteFile(filepath.Join(state, "last-sync.json"), []byte("{}")), state, "owned by")
	requireUnsafe(t, Ensure(filepath.Join(userDir, "new", "state")), filepath.Join(userDir, "new", "state"), "inside "+userDir)
	// Read-only, root may read a user's state (chezmoi-status of theirs).
	data, err := ReadFile(filepath.Join(state, "last-sync-status"))
	require.NoError(t, err)
	require.Equal(t, "success\n", string(data))
	busy, _, err := Busy(state, SyncLock)
	require.NoError(t, err)
	require.False(t, busy)
	require.Equal(t, before, testuser.Snapshot(t, userDir), "root changed the user's directory")

	// A user's file in root's own directory is refused too.
	f := newFixture(t)
	require.NoError(t, os.WriteFile(f.at("rebuild-history.jsonl"), nil, 0o600))
	require.NoError(t, os.Chown(f.at("rebuild-history.jsonl"), u.UID, u.GID))
	h, err := OpenDir(f.state)
	require.NoError(t, err)
	defer h.Close()
	_, err = h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
	requireUnsafe(t, err, f.at("rebuild-history.jsonl"), "owned by "+u.Name)
}

// A device node at a state file (made in a temp dir, never a real /dev
// node) is refused without being opened.
func TestDeviceNodeAsRoot(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	f := newFixture(t)
	// The numbers of /dev/null: opening it would do nothing harmful if a
	// mistake let it happen.
	require.NoError(t, syscall.Mknod(f.at("rebuild-history.jsonl"), syscall.S_IFCHR|0o600, 1<<8|3))
	h, err := OpenDir(f.state)
	require.NoError(t, err)
	defer h.Close()
	_, err = h.OpenFile("rebuild-history.jsonl", os.O_RDWR|os.O_APPEND, 0o644)
	requireUnsafe(t, err, f.at("rebuild-history.jsonl"), "a character device")
	requireUnsafe(t, ReplaceFile(f.at("rebuild-history.jsonl"), []byte("x"), 0o644), f.at("rebuild-history.jsonl"), "a character device")
	st, err := os.Lstat(f.at("rebuild-history.jsonl"))
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&fs.ModeCharDevice, "the device node was replaced")
}

// The same attacks as an unprivileged user, in a directory of that user's;
// and root's state, which that user may read but never write.
func TestUnsafeStateAsUser(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("the child runs the tests themselves")
	}
	testuser.RequireRoot(t)
	u := testuser.New(t)
	rootState := filepath.Join(testuser.Shared(t), "root-state")
	require.NoError(t, os.Mkdir(rootState, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rootState, "rebuild-history.jsonl"), []byte("{}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(rootState, RebuildLock), nil, 0o644))
	before := testuser.Snapshot(t, rootState)
	out := runAsUser(t, u, "^(TestUnsafeStateIsRefused|TestModesCreatedAndTightened|TestLockFileIsNeverTruncated|TestReplaceFileOnlyReplacesRegularFiles|TestRootStateAsUserChild)$",
		"NIXDOTS_TEST_ROOT_STATE="+rootState)
	for _, name := range []string{"TestUnsafeStateIsRefused", "TestModesCreatedAndTightened", "TestLockFileIsNeverTruncated", "TestReplaceFileOnlyReplacesRegularFiles", "TestRootStateAsUserChild"} {
		require.Contains(t, out, "--- PASS: "+name, "did not run as the user")
	}
	require.Contains(t, out, "uid="+strconv.Itoa(u.UID))
	require.Equal(t, before, testuser.Snapshot(t, rootState), "the user changed root's state")
}

// TestRootStateAsUserChild runs as the test user (TestUnsafeStateAsUser):
// root's state directory is read, never written.
func TestRootStateAsUserChild(t *testing.T) {
	dir := os.Getenv("NIXDOTS_TEST_ROOT_STATE")
	if dir == "" {
		t.Skip("only runs as the test user, started by TestUnsafeStateAsUser")
	}
	t.Logf("uid=%d", os.Geteuid())
	_, err := Acquire(context.Background(), dir, RebuildLock, 0, Holder{})
	requireUnsafe(t, err, dir, "owned by root")
	requireUnsafe(t, WriteFile(filepath.Join(dir, "rebuild-history.jsonl"), []byte("x")), dir, "owned by root")
	data, err := ReadFile(filepath.Join(dir, "rebuild-history.jsonl"))
	require.NoError(t, err)
	require.Equal(t, "{}\n", string(data))
	busy, _, err := Busy(dir, RebuildLock)
	require.NoError(t, err)
	require.False(t, busy)
}

const childEnv = "NIXDOTS_STATE_TEST_CHILD"

// runAsUser re-runs this test binary as u, running the tests matching
// pattern with a TMPDIR of u's.
func runAsUser(t *testing.T, u *testuser.User, pattern string, env ...string) string {
	t.Helper()
	tmp := u.Dir(t)
	cmd := u.Command(append(append(os.Environ(), "TMPDIR="+tmp, childEnv+"=1"), env...), tmp,
		testuser.TestBinary(t), "-test.run", pattern, "-test.v", "-test.count=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, err, "as %s:\n%s", u.Name, out.String())
	return out.String()
}

// The metrics file: written beside and renamed, so only a regular file is
// ever replaced; anything else at the path is refused and left as it is.
func TestReplaceFileOnlyReplacesRegularFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := filepath.Join(f.base, "textfile")
	prom := filepath.Join(dir, "x.prom")
	require.NoError(t, ReplaceFile(prom, []byte("a 1\n"), 0o644))
	requireMode(t, dir, 0o755)
	requireMode(t, prom, 0o644)
	require.NoError(t, ReplaceFile(prom, []byte("a 2\n"), 0o644))
	data, _ := os.ReadFile(prom)
	require.Equal(t, "a 2\n", string(data))

	link := filepath.Join(dir, "link.prom")
	require.NoError(t, os.Symlink(f.victim, link))
	requireUnsafe(t, ReplaceFile(link, []byte("a 1\n"), 0o644), link, "symbolic link (to "+f.victim+")")
	f.requireVictimIntact(t)
	dangling := filepath.Join(dir, "dangling.prom")
	nowhere := filepath.Join(f.base, "nowhere")
	require.NoError(t, os.Symlink(nowhere, dangling))
	requireUnsafe(t, ReplaceFile(dangling, []byte("a 1\n"), 0o644), dangling, "symbolic link")
	require.NoFileExists(t, nowhere)
	sub := filepath.Join(dir, "sub.prom")
	require.NoError(t, os.Mkdir(sub, 0o755))
	requireUnsafe(t, ReplaceFile(sub, []byte("a 1\n"), 0o644), sub, "a directory")
	fifo := filepath.Join(dir, "fifo.prom")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	done := make(chan error, 1)
	go func() { done <- ReplaceFile(fifo, []byte("a 1\n"), 0o644) }()
	select {
	case err := <-done:
		requireUnsafe(t, err, fifo, "named pipe")
	case <-time.After(10 * time.Second):
		t.Fatal("blocked on a FIFO")
	}
	for p, want := range map[string]fs.FileMode{link: fs.ModeSymlink, dangling: fs.ModeSymlink, sub: fs.ModeDir, fifo: fs.ModeNamedPipe} {
		st, err := os.Lstat(p)
		require.NoError(t, err)
		require.Equal(t, want, st.Mode().Type(), "%s was replaced", p)
	}
	requireNoTemps(t, dir)
}
