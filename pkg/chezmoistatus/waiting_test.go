package chezmoistatus_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

type driftWaiting struct {
	Drift struct {
		Capturable []string `json:"capturable"`
		Waiting    []struct{ Path, Kind, Next string }
	} `json:"drift"`
	Check struct{ Code int }
}

// A home edit made while a conflict was parked overlaps the resolution:
// the sync cannot merge it and leaves it waiting. Status agrees: the edit
// waits (exit 12), it is not "captured by the next sync".
func TestUnmergedEditWaits(t *testing.T) {
	t.Parallel()
	w := parkedBySync(t)
	b := w.Beta
	conflictfixture.EditHome(t, b, ".bashrc", "EDITOR=emacs", "EDITOR=micro") // while parked
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
	require.NoError(t, os.WriteFile(filepath.Join(b.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=merged\nalias ll='ls -l'\n"), 0o644))
	r := b.Exec("", "chezmoi-sync")
	require.Contains(t, r.Stdout+r.Stderr, "overlap", r.String())

	r = status(b, "--check")
	requireCode(t, 12, r)
	require.NotContains(t, r.Stdout, "(the next sync captures them)")
	require.Contains(t, r.Stdout, "[warn] Last sync: edits-waiting", "waiting edits are not a failed sync")
	require.Contains(t, r.Stdout, "[warn] Waiting: .bashrc (unmerged): changed both at home and in the source directory")
	var doc driftWaiting
	decode(t, status(b, "--json"), &doc)
	require.Empty(t, doc.Drift.Capturable)
	require.Len(t, doc.Drift.Waiting, 1)
	require.Equal(t, "unmerged", doc.Drift.Waiting[0].Kind)
}

// A home file whose real content holds conflict-marker lines is never
// captured by the sync; status says it waits (exit 12), and its advice
// never tells the user to delete lines unconditionally.
func TestHomeFileWithMarkerLinesWaits(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	h.WriteHome(".mergedemo", "# git demo\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n")
	h.Run("", "chezmoi", "add", h.Home+"/.mergedemo")
	requireCode(t, 0, status(h, "--check"))
	h.WriteHome(".mergedemo", h.ReadHome(".mergedemo")+"# more\n")

	r := status(h, "--check")
	requireCode(t, 12, r)
	require.NotContains(t, r.Stdout, "(the next sync captures them)")
	var doc driftWaiting
	decode(t, status(h, "--json"), &doc)
	require.Empty(t, doc.Drift.Capturable)
	require.Len(t, doc.Drift.Waiting, 1)
	got := doc.Drift.Waiting[0]
	require.Equal(t, ".mergedemo", got.Path)
	require.Equal(t, "markers", got.Kind)
	require.Contains(t, got.Next, "if they are the file's real content, delete nothing")
	require.False(t, strings.HasPrefix(got.Next, "delete"), got.Next)
}

func decode(t *testing.T, r testharness.Result, v any) {
	t.Helper()
	require.Equal(t, 0, r.Code, r.String())
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), v), r.Stdout)
}
