package statindex

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
}

// Every kind of change a person or a program makes to a file is seen:
// content of another size, content of the same size (mtime), a mode change
// (ctime), an atomic replace by rename (inode), deletion, appearance, a new
// entry in a directory, a file turned into a symlink.
func TestChangedSeesEveryKindOfChange(t *testing.T) {
	dir := t.TempDir()
	a, b, gone := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "later")
	old := time.Now().Add(-time.Hour)
	cases := map[string]func(){
		"size":      func() { write(t, a, "longer\n") },
		"same size": func() { write(t, a, "ONE\n") },
		"chmod":     func() { require.NoError(t, os.Chmod(a, 0o600)) },
		"replace": func() {
			tmp := a + ".tmp"
			write(t, tmp, "one\n")
			require.NoError(t, os.Chtimes(tmp, old, old))
			require.NoError(t, os.Rename(tmp, a))
		},
		"delete":     func() { require.NoError(t, os.Remove(a)) },
		"appear":     func() { write(t, gone, "x") },
		"dir entry":  func() { write(t, filepath.Join(dir, "new-in-dir"), "x") },
		"to symlink": func() { require.NoError(t, os.Remove(a)); require.NoError(t, os.Symlink("b", a)) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			write(t, a, "one\n")
			write(t, b, "two\n")
			_ = os.Remove(gone)
			_ = os.Remove(filepath.Join(dir, "new-in-dir"))
			paths := []string{a, b, gone, dir}
			ix := Snapshot(paths, nil)
			require.Equal(t, "", ix.Changed(Snapshot(paths, nil)), "unchanged files reported")
			change()
			require.NotEqual(t, "", ix.Changed(Snapshot(paths, nil)), "change not seen")
		})
	}
}

// The racy case git's index guards against: a file rewritten with the
// same size inside the same timestamp tick keeps its mtime, size and ctime.
// The entry was racily clean when taken, so its content hash is compared.
func TestRacilyCleanIsComparedByContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "aaaa")
	ix := Snapshot([]string{p}, nil)
	require.Equal(t, []string{p}, ix.Racily())
	require.NotEmpty(t, ix.Entries[0].Hash)
	st, err := os.Lstat(p)
	require.NoError(t, err)
	write(t, p, "bbbb")
	// Put the timestamps back: what a write in the same tick looks like.
	require.NoError(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
	now := Snapshot([]string{p}, nil)
	now.Entries[0].Ctime = ix.Entries[0].Ctime // ctime cannot be set; pretend the same tick
	require.Equal(t, p, ix.Changed(now), "a same-tick rewrite went unnoticed")

	write(t, p, "aaaa")
	require.NoError(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
	now = Snapshot([]string{p}, nil)
	now.Entries[0].Ctime = ix.Entries[0].Ctime
	now.Entries[0].Hash = ""
	require.Equal(t, "", ix.Changed(now), "same content reported as changed")

	// Old enough entries carry no hash and compare by stat alone.
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(p, old, old))
	ix = Snapshot([]string{p}, nil)
	ix.Written += int64(10 * time.Second)
	ix.Entries[0].Ctime -= int64(time.Hour)
	require.Empty(t, ix.Racily())
}

func TestMarshalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "with space and ünï")
	write(t, p, "x")
	ix := Snapshot([]string{p, filepath.Join(dir, "missing"), p}, map[string]string{"home": "/h", "auto": "a b c"})
	require.Len(t, ix.Entries, 2, "duplicates kept")
	got, err := Unmarshal(ix.Marshal())
	require.NoError(t, err)
	require.Equal(t, ix, got)
	require.Equal(t, []string{filepath.Join(dir, "missing"), p}, got.Paths())
	for _, bad := range []string{"", "statindex 1\n", "statindex 2\nwritten x\n", "statindex 2\nwritten 5\n0 1 2\n", "statindex 2\n"} {
		_, err := Unmarshal([]byte(bad))
		require.ErrorIs(t, err, ErrFormat, "%q", bad)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(Snapshot([]string{"/nonexistent"}, map[string]string{"a": "b"}).Marshal())
	f.Add([]byte("statindex 2\nwritten 1\n1 0 0 0 0 0 0 - /x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := Unmarshal(data)
		if err != nil {
			return
		}
		again, err := Unmarshal(ix.Marshal())
		if err != nil {
			t.Fatalf("re-encoded index does not parse: %v", err)
		}
		if len(again.Entries) != len(ix.Entries) {
			t.Fatalf("%d entries, then %d", len(ix.Entries), len(again.Entries))
		}
	})
}

// Check agrees with Changed on the cases Changed is tested with.
func TestCheckAgreesWithChanged(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write(t, p, "aaaa")
	ix := Snapshot([]string{p, dir}, nil)
	changed, racy := ix.Check()
	require.Equal(t, "", changed)
	require.True(t, racy)
	st, err := os.Lstat(p)
	require.NoError(t, err)
	write(t, p, "bbbb")
	require.NoError(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
	changed, _ = ix.Check()
	require.NotEqual(t, "", changed, "a rewrite with the same size and mtime went unnoticed")
	// The same tick: ctime equal too (it cannot be set back, so the index
	// is given the new one). Only the racy entry's content hash tells.
	for i := range ix.Entries {
		if ix.Entries[i].Path == p {
			ix.Entries[i].Ctime = Stat(p).Ctime
		}
	}
	changed, _ = ix.Check()
	require.Equal(t, p, changed, "a same-tick rewrite went unnoticed: a racy entry must be compared by content")
	require.NoError(t, os.Remove(p))
	changed, _ = ix.Check()
	require.NotEqual(t, "", changed, "a deletion went unnoticed")
}

// An edit that puts the mtime back (cp -p, touch -r, an editor keeping
// the times) to a file that was not racy when indexed: size, mtime and
// inode are as they were, only the ctime says the file changed.
func TestRestoredMtimeIsSeenByCtime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "aaaa")
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(p, old, old))
	ix := Snapshot([]string{p}, nil)
	// Taken long after the last change: not racy, no content hash.
	ix.Written += int64(10 * time.Second)
	ix.Entries[0].Hash = ""
	require.Empty(t, ix.Racily())
	changed, _ := ix.Check()
	require.Equal(t, "", changed)
	write(t, p, "bbbb")
	require.NoError(t, os.Chtimes(p, old, old))
	changed, _ = ix.Check()
	require.Equal(t, p, changed, "an edit with the mtime put back went unnoticed")
	require.Equal(t, p, ix.Changed(Snapshot([]string{p}, nil)))
}

func BenchmarkCheck5000(b *testing.B) {
	dir := b.TempDir()
	var paths []string
	for i := 0; i < 5000; i++ {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	ix := Snapshot(paths, nil)
	ix.Written += int64(10 * time.Second)
	for i := range ix.Entries {
		ix.Entries[i].Hash = ""
	}
	data := ix.Marshal()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := Unmarshal(data)
		if err != nil {
			b.Fatal(err)
		}
		if c, _ := got.Check(); c != "" {
			b.Fatal(c)
		}
	}
}

// A file system that keeps coarse timestamps truncates them: FAT and exFAT
// keep mtimes in 2 s steps, ext3 and some NFS servers in whole seconds, and
// the kernel reads a clock that runs a tick behind. A file written just
// after a step and indexed late in it was stamped up to one step (plus a
// tick) before the snapshot; an edit after the snapshot, in the same step,
// with the same size, gets the same stamps. Such an entry must count as
// racy, or the edit is never synced (the next no-op sync trusts the stat).
func TestCoarseTimestampsAreRacy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "aaaa")
	step := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC) // an even second
	for name, c := range map[string]struct{ stamped, written time.Time }{
		// FAT: written at 06.2, stamped 06; indexed at 07.9.
		"2 s steps": {step, step.Add(1900 * time.Millisecond)},
		// Whole seconds and a clock a tick behind: written at 05.99,
		// stamped 05; indexed at 06.005; edited at 06.007, when the
		// kernel's clock still read 05.997: stamped 05 again.
		"1 s steps, coarse clock": {step.Add(-time.Second), step.Add(5 * time.Millisecond)},
	} {
		t.Run(name, func(t *testing.T) {
			write(t, p, "aaaa")
			e := Stat(p)
			e.Mtime, e.Ctime = c.stamped.UnixNano(), c.stamped.UnixNano()
			ix := &Index{Written: c.written.UnixNano(), Entries: []Entry{e}}
			if ix.racy(e) { // as Snapshot does
				ix.Entries[0].Hash = Hash(e)
			}
			write(t, p, "bbbb")
			cur := Stat(p)
			cur.Mtime, cur.Ctime = e.Mtime, e.Ctime // the same stamps: the same step
			now := &Index{Written: c.written.Add(time.Second).UnixNano(), Entries: []Entry{cur}}
			require.Equal(t, p, ix.Changed(now), "an edit in the same timestamp step as the index went unnoticed")
		})
	}
}

// An edit between Recheck's comparison and its new snapshot is reported,
// never taken into the new index unseen (the next no-op sync would trust
// the new stat and the edit would stay unsynced).
func TestRecheckNeverAdoptsAnUnseenEdit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "aaaa")
	ix := Snapshot([]string{p}, nil)
	require.Equal(t, []string{p}, ix.Racily(), "just written: racy")
	changed, fresh := ix.Recheck()
	require.Equal(t, "", changed)
	require.NotNil(t, fresh, "a clean racy index is taken again")

	defer func(f func()) { afterCheck = f }(afterCheck)
	afterCheck = func() { write(t, p, "a longer edit\n") }
	changed, fresh = ix.Recheck()
	require.Equal(t, p, changed, "an edit made during the recheck went unnoticed")
	require.Nil(t, fresh)
	afterCheck = func() {}
	changed, _ = ix.Recheck()
	require.Equal(t, p, changed)
}
