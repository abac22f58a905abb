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
