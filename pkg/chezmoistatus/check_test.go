package chezmoistatus

import (
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

func TestEvaluatePrecedence(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	rec := func(status string) *syncstate.Record { return &syncstate.Record{Status: status, Error: "boom"} }
	tests := []struct {
		name     string
		rep      Report
		corrupt  bool
		scanFail bool
		maxAge   time.Duration
		code     int
		status   string
		problems int
	}{
		{"healthy", Report{Synced: true, LastSync: rec(syncstate.Success), LastSuccess: ago(time.Minute)}, false, false, time.Hour, 0, Healthy, 0},
		{"no max age means no staleness", Report{Synced: true, LastSync: rec(syncstate.Success), LastSuccess: ago(1000 * time.Hour)}, false, false, 0, 0, Healthy, 0},
		{"never synced is stale", Report{}, false, false, 0, 7, Stale, 1},
		{"old success is stale", Report{Synced: true, LastSync: rec(syncstate.Success), LastSuccess: ago(2 * time.Hour)}, false, false, time.Hour, 7, Stale, 1},
		{"failed beats stale", Report{Synced: true, LastSync: rec(syncstate.FetchFailed), LastSuccess: ago(2 * time.Hour)}, false, false, time.Hour, 6, SyncFailed, 2},
		{"failed without any success and a max age", Report{Synced: true, LastSync: rec(syncstate.PushFailed)}, false, false, time.Hour, 6, SyncFailed, 2},
		{"conflicts beat failed and stale", Report{Synced: true, LastSync: rec(syncstate.ConflictsPreserved), Conflicts: 1, ConflictFiles: []string{"dot_x"}, LastSuccess: ago(2 * time.Hour)}, false, false, time.Hour, 5, Conflicts, 3},
		{"conflicts on a healthy record (resolution started by hand)", Report{Synced: true, LastSync: rec(syncstate.Success), Conflicts: 1, LastSuccess: ago(time.Minute)}, false, false, 0, 5, Conflicts, 1},
		{"resolved but not yet synced", Report{Synced: true, LastSync: rec(syncstate.ConflictsPreserved), LastSuccess: ago(time.Minute)}, false, false, 0, 6, SyncFailed, 1},
		{"record says conflicts, repository unreadable", Report{Synced: true, LastSync: rec(syncstate.ConflictsPreserved)}, false, true, 0, 5, Conflicts, 3},
		{"repository unreadable is not healthy", Report{Synced: true, LastSync: rec(syncstate.Success), LastSuccess: ago(time.Minute)}, false, true, 0, 1, Unreadable, 1},
		{"repository unreadable beats waiting edits and a failed sync", Report{Synced: true, LastSync: rec(syncstate.FetchFailed), Drift: &Drift{Waiting: []chezmoi.Waiting{{Path: ".x"}}}, LastSuccess: ago(time.Minute)}, false, true, 0, 1, Unreadable, 3},
		{"corrupt record", Report{}, true, false, time.Hour, 6, SyncFailed, 1},
		{"edits waiting (recorded) is not healthy and not failed", Report{Synced: true, LastSync: &syncstate.Record{Status: syncstate.EditsWaiting, Waiting: []syncstate.Waiting{{Path: "/h/.profile", Kind: "template"}}}, LastSuccess: ago(time.Minute)}, false, false, 0, 12, EditsWaiting, 1},
		{"edits waiting now (drift)", Report{Synced: true, LastSync: rec(syncstate.Success), LastSuccess: ago(time.Minute), Drift: &Drift{Waiting: []chezmoi.Waiting{{Path: ".profile", Kind: "template"}}}}, false, false, 0, 12, EditsWaiting, 1},
		{"conflicts beat waiting edits", Report{Synced: true, LastSync: rec(syncstate.EditsWaiting), Conflicts: 1, Drift: &Drift{Waiting: []chezmoi.Waiting{{Path: ".x"}}}, LastSuccess: ago(time.Minute)}, false, false, 0, 5, Conflicts, 2},
		{"waiting edits beat a failed sync", Report{Synced: true, LastSync: rec(syncstate.FetchFailed), Drift: &Drift{Waiting: []chezmoi.Waiting{{Path: ".x"}}}, LastSuccess: ago(time.Minute)}, false, false, 0, 12, EditsWaiting, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := tt.rep
			c := evaluate(checkInput{rep: &rep, recordCorrupt: tt.corrupt, scanFailed: tt.scanFail, maxAge: tt.maxAge, now: now})
			require.Equal(t, tt.code, c.Code, c.Problems)
			require.Equal(t, tt.status, c.Status)
			require.Len(t, c.Problems, tt.problems, c.Problems)
		})
	}
}
