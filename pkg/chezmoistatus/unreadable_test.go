package chezmoistatus_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// A repository jj cannot read (a corrupt working-copy state, the operation
// heads gone) is never "healthy": --check exits 1 naming the cause and what
// to do, the text says so instead of "Conflicts: none" or "never fetched",
// and show-conflicts keeps exiting 2.
func TestUnreadableRepositoryIsNotHealthy(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	for name, breakIt := range map[string]func(h *testharness.Host){
		"corrupt working-copy state": func(h *testharness.Host) {
			require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), ".jj", "working_copy", "checkout"), []byte("garbage\n"), 0o644))
		},
		"no operation head": func(h *testharness.Host) {
			heads, err := filepath.Glob(filepath.Join(h.SourceDir(), ".jj", "repo", "op_heads", "heads", "*"))
			require.NoError(t, err)
			require.NotEmpty(t, heads)
			for _, f := range heads {
				require.NoError(t, os.Remove(f))
			}
		},
	} {
		h := w.Beta
		if name == "no operation head" {
			h = w.Alpha
		}
		conflictfixture.InitJJ(h)
		conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.Success, Start: time.Now()})
		requireCode(t, 0, status(h, "--check"))
		breakIt(h)

		r := status(h, "--check")
		requireCode(t, 1, r)
		require.Contains(t, r.Stdout, "[failed] Repository: jj cannot read it", name)
		require.Contains(t, r.Stdout, "next: check it with jj status and git status in "+h.SourceDir(), name)
		require.Contains(t, r.Stdout, "check: unreadable (exit 1): unreadable: the repository cannot be read", name)
		require.NotContains(t, r.Stdout, "Conflicts: none", name)
		require.NotContains(t, r.Stdout, "never fetched", name)
		requireCode(t, 0, status(h)) // shown: the report itself worked

		r = status(h, "--json")
		requireCode(t, 0, r)
		var doc struct {
			RepositoryError string `json:"repository_error"`
			Check           struct {
				Code   int
				Status string
			}
		}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc))
		require.NotEmpty(t, doc.RepositoryError, name)
		require.Equal(t, 1, doc.Check.Code, name)
		require.Equal(t, "unreadable", doc.Check.Status, name)

		requireCode(t, 2, h.Exec("", "chezmoi-show-conflicts", "-q"))
	}
}
