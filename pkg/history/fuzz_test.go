package history_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/state"
)

// FuzzLoad feeds the rebuild history arbitrary bytes: Load returns entries
// or a CorruptError naming the file, never a panic. When Load accepts the
// file, appending one entry (the next rebuild) must keep it loadable with
// that entry last: rebuild-rollback depends on it.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-20T10:00:00Z","host":"a","generation":41,"outcome":"success","source":"rebuild-smart"}` + "\n"))
	f.Add([]byte("{\"outcome\":\"success\"}\n{\"generation\":\"x\"}\n"))
	f.Add([]byte("\n\n   \n"))
	f.Add([]byte("\x00\xff\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := fuzzDir(t)
		if err := os.WriteFile(filepath.Join(dir, history.FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		entries, err := history.Load(dir)
		if err != nil {
			var ce *state.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v (not a CorruptError)", err)
			}
			return
		}
		e := history.Entry{Time: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), Host: "h", Generation: 42, Outcome: history.OutcomeSuccess, Source: "rebuild-smart"}
		if err := history.Append(dir, e); err != nil {
			t.Fatal(err)
		}
		after, err := history.Load(dir)
		if err != nil {
			t.Fatalf("history accepted before an append is unreadable after it: %v\nbefore: %q", err, data)
		}
		if len(after) != len(entries)+1 || after[len(after)-1].Generation != 42 {
			t.Fatalf("after append: %d entries (was %d), last %+v", len(after), len(entries), after[len(after)-1])
		}
	})
}

// fuzzDir is a scratch directory on tmpfs when there is one: the state
// writers fsync, and on a disk that limits the fuzzer to a few runs a
// second.
func fuzzDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "nixdots-fuzz-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
