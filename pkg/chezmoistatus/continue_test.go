package chezmoistatus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// The hand recipe done (rebase, file fixed), chezmoi-sync --continue not run
// yet: status does not print the recipe again, --check exits 6 (the last
// sync did not succeed, nothing is left to resolve) and names --continue;
// show-conflicts finds nothing to resolve and says the resolution waits for
// --continue. Before the file is fixed (markers on disk) both still report
// the conflict; jj's snapshot (jj st) changes nothing; --continue then
// publishes as they say.
func TestHandResolutionWaitsForContinue(t *testing.T) {
	t.Parallel()
	w := parkedBySync(t)
	b := w.Beta
	r := status(b)
	require.Contains(t, r.Stdout, "1 incoming commit not applied, parked on sync/beta", "a parked run applies nothing that came in")
	require.NotContains(t, r.Stdout, "incoming commit applied")

	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin") // the recipe's rebase
	requireCode(t, 5, status(b, "--check"))
	requireCode(t, 1, b.Exec("", "chezmoi-show-conflicts", "-q"))

	// Half fixed: the closing marker line deleted, the rest left.
	src := filepath.Join(b.SourceDir(), "dot_bashrc")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	var half []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, ">>>>>>>") {
			half = append(half, l)
		}
	}
	require.NoError(t, os.WriteFile(src, []byte(strings.Join(half, "\n")), 0o644))
	requireCode(t, 5, status(b, "--check"))
	requireCode(t, 1, b.Exec("", "chezmoi-show-conflicts", "-q"))

	require.NoError(t, os.WriteFile(filepath.Join(b.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=nvim # or emacs\nalias ll='ls -l'\n"), 0o644))
	for _, snapshot := range []bool{false, true} {
		if snapshot {
			b.Run(b.SourceDir(), "jj", "status")
		}
		r = status(b, "--check")
		requireCode(t, 6, r)
		require.Contains(t, r.Stdout, "next: chezmoi-sync --continue   # publishes the resolution, deletes sync/beta")
		require.NotContains(t, r.Stdout, "jj rebase", "the recipe is done: it must not be printed again")
		require.Contains(t, r.Stdout, "[warn] Conflicts: none left: dot_bashrc resolved in the working copy, not published yet: chezmoi-sync --continue")
		require.Contains(t, r.Stdout, "check: sync-failed (exit 6): sync-failed: the conflicts the last sync parked are resolved in the working copy (dot_bashrc) but not published: run chezmoi-sync --continue")

		r = b.Exec("", "chezmoi-show-conflicts")
		requireCode(t, 0, r)
		require.Contains(t, r.Stdout, "resolved in the working copy, not published yet: dot_bashrc")
		require.Contains(t, r.Stdout, "chezmoi-sync --continue")
		require.NotContains(t, r.Stdout, "jj rebase")
		r = b.Exec("", "chezmoi-show-conflicts", "--files-only")
		requireCode(t, 0, r)
		require.Empty(t, r.Stdout)
	}

	requireCode(t, 0, b.Exec("", "chezmoi-sync", "--continue"))
	requireCode(t, 0, status(b, "--check"))
	require.Contains(t, testharness.RemoteFile(t, w.Remote, "main", "dot_bashrc"), "EDITOR=nvim # or emacs")
}

// parkedBySync: both hosts sync; alpha publishes EDITOR=nvim, then beta's
// EDITOR=emacs on the same line is parked by the real chezmoi-sync.
func parkedBySync(t *testing.T) *conflictfixture.World {
	t.Helper()
	w := conflictfixture.New(t)
	for _, h := range []*testharness.Host{w.Alpha, w.Beta} {
		requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	}
	conflictfixture.EditHome(t, w.Alpha, ".bashrc", "EDITOR=vi", "EDITOR=nvim")
	requireCode(t, 0, w.Alpha.Exec("", "chezmoi-sync"))
	conflictfixture.EditHome(t, w.Beta, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	requireCode(t, 5, w.Beta.Exec("", "chezmoi-sync"))
	return w
}
