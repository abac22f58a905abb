package state

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// WriteFile's promise is "after a crash, the old content or the new, never
// a partial file; and once it returned, the new one". No file's content
// shows whether that holds (the page cache hides it until the power
// fails), so the test watches the system calls of a real write with
// strace: the temporary file is fsynced before the rename that publishes
// it, and the directory is fsynced after the rename, before WriteFile
// returns. Either fsync missing is a mutant that survives every other
// test (state/temp-not-fsynced, state/dir-not-fsynced).
func TestWriteFileIsDurable(t *testing.T) {
	if os.Getenv("NIXDOTS_DURABLE_CHILD") != "" {
		t.Skip("child mode")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "record.json")
	require.NoError(t, WriteFile(p, []byte("old\n")))
	calls := testharness.Trace(t, append(os.Environ(), "NIXDOTS_DURABLE_CHILD="+p),
		[]string{"fsync", "fdatasync", "rename", "renameat", "renameat2"},
		os.Args[0], "-test.run=^TestDurableWriterChild$", "-test.count=1")
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "new\n", string(got), "the child did not write")

	tmpName := regexp.MustCompile(`"(\.record\.json\.tmp-[^"]+)",[^,]*, "record\.json"$`)
	rename, tmp := -1, ""
	for i, c := range calls {
		if m := tmpName.FindStringSubmatch(c.Args); strings.HasPrefix(c.Name, "rename") && m != nil {
			rename, tmp = i, m[1]
		}
	}
	require.GreaterOrEqual(t, rename, 0, "no rename of a temporary file over record.json: %v", calls)
	synced := func(from, to int, path string) bool {
		for _, c := range calls[from:to] {
			if (c.Name == "fsync" || c.Name == "fdatasync") && c.On(path) {
				return true
			}
		}
		return false
	}
	require.True(t, synced(0, rename, filepath.Join(dir, tmp)),
		"the temporary file %s was not fsynced before the rename: a crash can publish an empty record\n%v", tmp, calls)
	require.True(t, synced(rename+1, len(calls), dir),
		"the directory was not fsynced after the rename: a crash can bring the old record back\n%v", calls)
}

// TestDurableWriterChild is TestWriteFileIsDurable's traced process.
func TestDurableWriterChild(t *testing.T) {
	p := os.Getenv("NIXDOTS_DURABLE_CHILD")
	if p == "" {
		t.Skip("only runs as the child of TestWriteFileIsDurable")
	}
	require.NoError(t, WriteFile(p, []byte("new\n")))
}
