package syncstate_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// FuzzStateFiles writes arbitrary bytes as the record, the status word and
// the history log (a crash, a full disk, a hand edit can leave anything),
// then reads them as chezmoi-status does and saves a new run as
// chezmoi-sync does. Reading: a record, "never synced" or a CorruptError
// naming the file, never a panic. Saving must always succeed and leave a
// readable record: a garbled file must never block the next sync.
func FuzzStateFiles(f *testing.F) {
	f.Add([]byte(`{"version":1,"status":"success","start":"2026-11-22T00:00:00Z"}`), []byte("success\n"), []byte(`{"status":"failed"}`+"\n"))
	f.Add([]byte(`{"status":""}`), []byte(""), []byte("not json\n{\"status\":\"success\"}\n"))
	f.Add([]byte(`{"status":"success","start":"yesterday"}`), []byte("\x00\xff"), []byte("{\"status\":\"success\"")) // crash mid-write
	f.Add([]byte(`[]`), []byte("conflicts-preserved"), []byte("\n\n"))
	f.Add([]byte(`{"status":"x","conflicts":[{"paths":null}],"steps":null}`), []byte(" "), []byte{})
	f.Fuzz(func(t *testing.T, record, word, history []byte) {
		dir := fuzzDir(t)
		for name, data := range map[string][]byte{syncstate.RecordFile: record, syncstate.StatusFile: word, syncstate.HistoryFile: history} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := syncstate.Load(dir)
		var ce *state.CorruptError
		switch {
		case err == nil:
			if rec.Status == "" {
				t.Fatal("Load accepted a record without a status")
			}
		case errors.As(err, &ce):
			if ce.Path != filepath.Join(dir, syncstate.RecordFile) {
				t.Fatalf("corrupt error names %q", ce.Path)
			}
		default:
			t.Fatalf("Load: %v (neither a record nor a CorruptError)", err)
		}
		if _, err := syncstate.LoadWord(dir); err != nil {
			t.Fatalf("LoadWord: %v", err)
		}
		past, err := syncstate.History(dir, 5)
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("History: %v", err)
		}
		if len(past) > 5 {
			t.Fatalf("History(5) returned %d", len(past))
		}

		start := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
		if err := syncstate.Save(dir, &syncstate.Record{Status: syncstate.Success, Start: start, Host: "h"}); err != nil {
			t.Fatalf("Save over garbled state: %v", err)
		}
		got, err := syncstate.Load(dir)
		if err != nil || got.Status != syncstate.Success || !got.Start.Equal(start) {
			t.Fatalf("after Save: %+v %v", got, err)
		}
		if w, _ := syncstate.LoadWord(dir); w != syncstate.Success {
			t.Fatalf("status word after Save: %q", w)
		}
		newest, err := syncstate.History(dir, 1)
		if err != nil || len(newest) != 1 || !newest[0].Start.Equal(start) {
			t.Fatalf("history after Save: %+v %v", newest, err)
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
