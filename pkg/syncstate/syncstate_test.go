package syncstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

func TestSaveWritesWordRecordAndHistory(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, Save(dir, &Record{Status: Success, Start: t0, Host: "alpha"}))
	require.NoError(t, Save(dir, &Record{Status: FetchFailed, Start: t0.Add(time.Hour), Host: "alpha"}))

	word, err := LoadWord(dir)
	require.NoError(t, err)
	require.Equal(t, FetchFailed, word)
	r, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, FetchFailed, r.Status)
	require.Equal(t, t0, r.LastSuccess.UTC(), "last success carried forward")
	require.NotNil(t, r.Conflicts)

	h, err := History(dir, 10)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, FetchFailed, h[0].Status, "newest first")
}

func TestLoadNeverSyncedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	require.True(t, errors.Is(err, fs.ErrNotExist))

	require.NoError(t, os.WriteFile(filepath.Join(dir, RecordFile), []byte("{not json"), 0o600))
	_, err = Load(dir)
	var ce *state.CorruptError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), filepath.Join(dir, RecordFile))

	// The next successful run rewrites it.
	require.NoError(t, Save(dir, &Record{Status: Success, Start: time.Now()}))
	r, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, Success, r.Status)
}

func TestHistoryIsBounded(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < HistoryKeep+5; i++ {
		require.NoError(t, appendIn(t, dir, &Record{Status: Success, DurationMS: int64(i)}))
	}
	h, err := History(dir, 0)
	require.NoError(t, err)
	require.Len(t, h, HistoryKeep)
	require.Equal(t, int64(HistoryKeep+4), h[0].DurationMS)
}

func TestHistoryFileIsTrimmedPastThreshold(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("x", 8*1024)
	n := historyTrimBytes/len(big) + HistoryKeep/2
	for i := 0; i < n; i++ {
		require.NoError(t, appendIn(t, dir, &Record{Status: Failed, Error: big, DurationMS: int64(i)}))
	}
	lines, err := readHistory(dir)
	require.NoError(t, err)
	require.LessOrEqual(t, len(lines), HistoryKeep+historyTrimBytes/len(big))
	st, err := os.Stat(filepath.Join(dir, HistoryFile))
	require.NoError(t, err)
	require.LessOrEqual(t, st.Size(), int64(historyTrimBytes+len(big)+1024))
	h, err := History(dir, 1)
	require.NoError(t, err)
	require.Equal(t, int64(n-1), h[0].DurationMS, "newest kept")
}

// Past the size threshold the file is cut down to the last HistoryKeep
// records exactly (records small enough that the count, not the size,
// is the limit).
func TestHistoryTrimKeepsHistoryKeepRecords(t *testing.T) {
	dir := t.TempDir()
	pad := strings.Repeat("y", 2000) // 200 records stay well under half the threshold
	prev := int64(0)
	for i := 0; ; i++ {
		require.Less(t, i, 2*historyTrimBytes/len(pad), "the file was never trimmed")
		require.NoError(t, appendIn(t, dir, &Record{Status: Failed, Error: pad, DurationMS: int64(i)}))
		st, err := os.Stat(filepath.Join(dir, HistoryFile))
		require.NoError(t, err)
		if st.Size() >= prev {
			prev = st.Size()
			continue
		}
		lines, err := readHistory(dir)
		require.NoError(t, err)
		require.Len(t, lines, HistoryKeep, "records kept by the trim")
		h, err := History(dir, 1)
		require.NoError(t, err)
		require.Equal(t, int64(i), h[0].DurationMS, "newest kept")
		return
	}
}

func TestAppendAfterTornLineKeepsNewRecord(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, HistoryFile), []byte(`{"status":"succ`), 0o600))
	require.NoError(t, appendIn(t, dir, &Record{Status: PushFailed}))
	h, err := History(dir, 5)
	require.NoError(t, err)
	require.Len(t, h, 1)
	require.Equal(t, PushFailed, h[0].Status)
}

// appendIn appends r to the log of dir, as Save does.
func appendIn(t *testing.T, dir string, r *Record) error {
	t.Helper()
	h, err := state.OpenDir(dir)
	require.NoError(t, err)
	defer h.Close()
	return appendHistory(h, r)
}

// A sync-history.jsonl (or record) planted as a link is refused: its target
// is neither appended to nor replaced, and the refusal names the file.
func TestSaveRefusesPlantedLinks(t *testing.T) {
	for _, name := range []string{HistoryFile, RecordFile, StatusFile} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "state")
			require.NoError(t, os.Mkdir(dir, 0o700))
			victim := filepath.Join(base, "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious\n"), 0o600))
			require.NoError(t, os.Symlink(victim, filepath.Join(dir, name)))
			err := Save(dir, &Record{Status: Success, Start: time.Now()})
			var ue *state.UnsafeError
			require.ErrorAs(t, err, &ue)
			require.Contains(t, err.Error(), filepath.Join(dir, name))
			data, _ := os.ReadFile(victim)
			require.Equal(t, "precious\n", string(data))
			if name == HistoryFile {
				_, err = History(dir, 1)
				require.ErrorAs(t, err, &ue, "read through the link")
			}
		})
	}
}
