package history

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

func TestAppendLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	require.True(t, errors.Is(err, fs.ErrNotExist))
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, Append(dir, Entry{Time: now, Host: "a", Generation: 41, Outcome: OutcomeSuccess, Source: "rebuild-smart"}))
	require.NoError(t, Append(dir, Entry{Time: now, Host: "a", Generation: 42, Outcome: OutcomeFailed, Source: "rebuild-smart"}))
	es, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, 41, es[0].Generation)
	require.True(t, es[0].Successful())
	require.False(t, es[1].Successful())
}

func TestTruncatedLastLineIgnoredGarbledLineIsError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Append(dir, Entry{Generation: 1, Outcome: OutcomeSuccess}))
	p := filepath.Join(dir, FileName)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.WriteString(`{"generation": 2, "outc`) // a crash mid-append
	f.Close()
	es, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, es, 1)

	require.NoError(t, os.WriteFile(p, []byte("{\"generation\":1}\nnot json\n"), 0o600))
	_, err = Load(dir)
	var ce *state.CorruptError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "line 2")
	require.Contains(t, err.Error(), p)
}

// After a crash mid-append, the next Append must still leave a readable
// history that holds the new entry.
func TestAppendAfterTornLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte(`{"generation": 1, "outc`), 0o600))
	require.NoError(t, Append(dir, Entry{Generation: 2, Outcome: OutcomeSuccess}))
	es, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Equal(t, 2, es[0].Generation)
}

// A history planted as a link is neither appended through nor read.
func TestPlantedLinkIsRefused(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	victim := filepath.Join(base, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("{\"outcome\":\"success\"}\n"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, FileName)))
	err := Append(dir, Entry{Time: time.Now(), Outcome: OutcomeActivated})
	var ue *state.UnsafeError
	require.ErrorAs(t, err, &ue)
	_, err = Load(dir)
	require.ErrorAs(t, err, &ue)
	data, _ := os.ReadFile(victim)
	require.Equal(t, "{\"outcome\":\"success\"}\n", string(data))
}

// TestSuccessfulOutcomes: only builds that were switched to are ones a
// rollback may go back to; a build declined at --ask was never activated.
func TestSuccessfulOutcomes(t *testing.T) {
	for outcome, want := range map[string]bool{
		OutcomeSuccess: true, OutcomeUnitsFailed: true, OutcomeActivated: true,
		OutcomeFailed: false, OutcomeDeclined: false, OutcomeRolledBack: false,
		OutcomeChecksFailed: false, OutcomeDeleted: false,
	} {
		if got := (Entry{Outcome: outcome}).Successful(); got != want {
			t.Errorf("Entry{Outcome: %q}.Successful() = %v, want %v", outcome, got, want)
		}
	}
}
