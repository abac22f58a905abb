package chezmoistatus

import (
	"bytes"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/stretchr/testify/require"
)

// Home edits the last sync left uncaptured (the source changed too) are
// shown with what to do, since they exist only in HOME until merged.
func TestRenderShowsUnmergedHomeEdits(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	rep := &Report{Synced: true, LastSync: &syncstate.Record{Status: syncstate.Success, Start: now, Host: "alpha", Unmerged: []string{".bashrc"}}}
	render(ui.New(&out, &out, ui.Options{}), rep, now, false)
	require.Contains(t, out.String(), "[warn] Unmerged: home edits not captured, the source changed too (run chezmoi merge FILE, then chezmoi-sync): .bashrc")

	out.Reset()
	rep.LastSync.Unmerged = nil
	render(ui.New(&out, &out, ui.Options{}), rep, now, false)
	require.NotContains(t, out.String(), "Unmerged")
}

// The last-sync line says what the run did, and only that: a failed run
// that did nothing says nothing, a successful no-op says so, a dry run's
// record says what it would have done.
func TestDidWhat(t *testing.T) {
	cases := []struct {
		name string
		rec  syncstate.Record
		want string
	}{
		{"no-op success", syncstate.Record{Status: syncstate.Success}, "nothing to sync"},
		{"failure that did nothing", syncstate.Record{Status: syncstate.Failed}, ""},
		{"fetch failed after committing", syncstate.Record{Status: syncstate.FetchFailed, Captured: []string{"a"}, Committed: "0123456789abcdef", PendingPush: 1},
			"1 file captured, committed 0123456789ab, 1 commit waiting to push"},
		{"full sync", syncstate.Record{Status: syncstate.Success, Captured: []string{"a", "b"}, Committed: "c", Pushed: true, Incoming: 3},
			"2 files captured, committed c, pushed, 3 incoming commits applied"},
		{"parked", syncstate.Record{Status: syncstate.ConflictsPreserved, Parked: "sync/beta", Skipped: []string{".x"}},
			"parked on sync/beta, 1 home file not overwritten"},
		{"parked: what was fetched was not applied", syncstate.Record{Status: syncstate.ConflictsPreserved, Incoming: 1, Parked: "sync/beta",
			Steps: []syncstate.Step{{Name: "rebase", Status: "failed"}, {Name: "apply", Status: "ok"}}}, "1 incoming commit not applied, parked on sync/beta"},
		{"failed before apply", syncstate.Record{Status: syncstate.Failed, Incoming: 2, Steps: []syncstate.Step{{Name: "rebase", Status: "failed"}}}, "2 incoming commits not applied"},
		{"push failed, applied anyway", syncstate.Record{Status: syncstate.PushFailed, Incoming: 1, Steps: []syncstate.Step{{Name: "push", Status: "failed"}, {Name: "apply", Status: "ok"}}}, "1 incoming commit applied"},
		{"dry run no-op", syncstate.Record{Status: syncstate.Success, DryRun: true}, "would do nothing"},
		{"dry run", syncstate.Record{Status: syncstate.Success, DryRun: true, Captured: []string{"a"}}, "would have: 1 file captured"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, didWhat(&tc.rec), tc.name)
	}
}
