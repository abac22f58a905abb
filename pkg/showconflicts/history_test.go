package showconflicts_test

import (
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// (attack 3, F12) --history lists the sides not taken newest first by
// time, whatever order the history file holds; an entry without a time
// comes last.
func TestHistoryNewestFirst(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, start := range []time.Time{old.Add(time.Hour), {}, old} {
		rec := &syncstate.Record{Start: start, Host: "h", Status: syncstate.Success,
			Kept: &syncstate.Kept{Bookmark: "kept/h/x", Commit: "0123456789abcdef0123456789abcdef01234567"}}
		require.NoError(t, syncstate.Save(dir, rec))
	}
	doc, err := showconflicts.History(dir, "/src")
	require.NoError(t, err)
	require.Len(t, doc.History, 3)
	require.Equal(t, old.Add(time.Hour), doc.History[0].Start)
	require.Equal(t, old, doc.History[1].Start)
	require.True(t, doc.History[2].Start.IsZero())
}
