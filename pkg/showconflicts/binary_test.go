package showconflicts_test

import (
	"testing"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// A binary file both hosts changed: parked by the real chezmoi-sync, and
// then replayed onto the remote branch (the hand recipe's rebase: a jj
// conflicted commit). Both times it is named a binary file, never "0
// hunks" or sides of "0 lines".
func TestBinaryFileConflict(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	a, b := w.Alpha, w.Beta
	for _, h := range []*testharness.Host{a, b} {
		requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	}
	a.WriteHome(".blob.bin", "base\x00\x01\x02\n")
	a.Run("", "chezmoi", "add", a.Home+"/.blob.bin")
	requireCode(t, 0, a.Exec("", "chezmoi-sync"))
	requireCode(t, 0, b.Exec("", "chezmoi-sync"))
	a.WriteHome(".blob.bin", "alpha\x00\x01\x02\n")
	requireCode(t, 0, a.Exec("", "chezmoi-sync"))
	b.WriteHome(".blob.bin", "beta\x00\x01\x02\n")
	requireCode(t, 5, b.Exec("", "chezmoi-sync"))

	check := func(kind string) {
		t.Helper()
		out, _ := scanJSON(t, b, 1)
		require.Len(t, out.Conflicts, 1)
		require.Equal(t, kind, out.Conflicts[0].Kind)
		f := out.Conflicts[0].Files[0]
		require.Equal(t, "dot_blob.bin", f.Path)
		require.True(t, f.Binary, "%+v", f)
		require.Zero(t, f.Hunks)
		require.Len(t, f.Sides, 2)
		r := show(b)
		requireCode(t, 1, r)
		require.Contains(t, r.Stdout, "dot_blob.bin (binary file: a side is taken whole)")
		require.NotContains(t, r.Stdout, "0 hunks")
		require.NotContains(t, r.Stdout, "0 lines")
		require.NotContains(t, r.Stdout, `\x00`)
	}
	check("parked")
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
	check("commit")
}
