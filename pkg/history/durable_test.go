package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// Append returns only once the record is on disk: rebuild-smart then says
// the build is recorded, and rebuild-rollback relies on it after a crash.
// strace shows it: the write of the line to rebuild-history.jsonl is
// followed by an fsync of that file (mutant history/append-not-fsynced).
func TestAppendIsDurable(t *testing.T) {
	if os.Getenv("NIXDOTS_HISTORY_CHILD") != "" {
		t.Skip("child mode")
	}
	dir := t.TempDir()
	calls := testharness.Trace(t, append(os.Environ(), "NIXDOTS_HISTORY_CHILD="+dir),
		[]string{"write", "pwrite64", "fsync", "fdatasync"},
		os.Args[0], "-test.run=^TestHistoryAppendChild$", "-test.count=1")
	es, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, es, 1, "the child did not append")

	file := filepath.Join(dir, FileName)
	last, synced := -1, false
	for i, c := range calls {
		onFile := c.On(file)
		switch {
		case (c.Name == "write" || c.Name == "pwrite64") && onFile:
			last, synced = i, false
		case (c.Name == "fsync" || c.Name == "fdatasync") && onFile && last >= 0:
			synced = true
		}
	}
	require.GreaterOrEqual(t, last, 0, "no write to %s seen: %v", FileName, calls)
	require.True(t, synced, "the appended record was not fsynced: %v", calls)
}

// TestHistoryAppendChild is TestAppendIsDurable's traced process.
func TestHistoryAppendChild(t *testing.T) {
	dir := os.Getenv("NIXDOTS_HISTORY_CHILD")
	if dir == "" {
		t.Skip("only runs as the child of TestAppendIsDurable")
	}
	require.NoError(t, Append(dir, Entry{Time: time.Now().UTC(), Host: "a", Generation: 7, Outcome: OutcomeSuccess, Source: "rebuild-smart"}))
}
