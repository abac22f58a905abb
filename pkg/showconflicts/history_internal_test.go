package showconflicts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Two runs killed in one second leave kept/<host>/<time> and
// kept/<host>/<time>-2 (chezmoi-sync never reuses a name): the bookmark
// names hold the second alone, so the counter says which is newer.
func TestUnrecordedKeptOfOneSecondNewestFirst(t *testing.T) {
	at := time.Date(2026, 11, 30, 22, 30, 0, 0, time.UTC)
	doc := &HistoryDoc{History: []HistoryEntry{
		{Kind: "kept", Start: at, Bookmark: "kept/h/20261130T223000Z"},
		{Kind: "kept", Start: at, Bookmark: "kept/h/20261130T223000Z-10"},
		{Kind: "kept", Start: at, Bookmark: "kept/h/20261130T223000Z-2"},
		{Kind: "kept", Start: at.Add(-time.Second), Bookmark: "kept/h/20261130T222959Z-3"},
	}}
	doc.sortNewestFirst()
	var got []string
	for _, e := range doc.History {
		got = append(got, e.Bookmark)
	}
	require.Equal(t, []string{"kept/h/20261130T223000Z-10", "kept/h/20261130T223000Z-2", "kept/h/20261130T223000Z", "kept/h/20261130T222959Z-3"}, got)
}
