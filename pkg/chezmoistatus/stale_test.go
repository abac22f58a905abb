package chezmoistatus_test

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

type parkedDoc struct {
	Parked []struct {
		Name, Remote, Next string
		Stale              bool
		Ahead              int
	}
}

// A parked bookmark with nothing left in it (0 commits ahead) is not shown
// forever without a word: status says how it goes away, and doing that
// makes it go away. This host's own: the next chezmoi-sync deletes it here
// and on the remote. Another host's copy on the remote: the git command
// that deletes it.
func TestStaleParkedBookmarkSaysWhatToDo(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	a, b := w.Alpha, w.Beta
	for _, h := range []*testharness.Host{a, b} {
		requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	}
	// A park of gamma's whose commits are all on main, and one of beta's.
	a.Run(a.SourceDir(), "git", "push", "-q", "origin", "main:refs/heads/sync/gamma")
	b.Run(b.SourceDir(), "jj", "git", "fetch")
	b.Run(b.SourceDir(), "jj", "bookmark", "create", "sync/beta", "-r", "main@origin")

	r := status(b, "--check")
	requireCode(t, 0, r) // nothing in them: not unhealthy
	require.Contains(t, r.Stdout, "    sync/beta: nothing left in it: the next chezmoi-sync deletes it here and on origin")
	require.Contains(t, r.Stdout, "    sync/gamma@origin: nothing left in it (its commits are on main@origin): delete it on origin with git -C "+b.SourceDir()+" push origin --delete sync/gamma")
	var doc parkedDoc
	decode(t, status(b, "--json"), &doc)
	require.Len(t, doc.Parked, 2)
	var gammaNext string
	for _, p := range doc.Parked {
		require.True(t, p.Stale, p.Name)
		require.Zero(t, p.Ahead)
		if p.Name == "sync/gamma" {
			gammaNext = p.Next
		}
	}

	// Do what it says.
	requireCode(t, 0, b.Exec("", "chezmoi-sync"))
	cmd := strings.Fields(gammaNext[strings.Index(gammaNext, "git -C"):])
	b.Run("", cmd[0], cmd[1:]...)
	r = status(b, "--fetch")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Parked:")
	require.NotContains(t, strings.Join(testharness.RemoteRefs(t, w.Remote), " "), "sync/")
}

// What troubleshooting.md says to do when the parked edit is not wanted:
// chezmoi-sync --abort. It leaves no parked bookmark behind, here or on the
// remote, so no host reports it afterwards.
func TestAbortLeavesNoParkedBookmark(t *testing.T) {
	t.Parallel()
	w := parkedBySync(t)
	a, b := w.Alpha, w.Beta
	require.Contains(t, strings.Join(testharness.RemoteRefs(t, w.Remote), " "), "sync/beta")

	requireCode(t, 0, b.Exec("", "chezmoi-sync", "--abort"))
	r := status(b, "--check")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Parked:")
	require.NotContains(t, strings.Join(testharness.RemoteRefs(t, w.Remote), " "), "sync/")
	requireCode(t, 0, a.Exec("", "chezmoi-sync"))
	requireCode(t, 0, a.Exec("", "chezmoi-show-conflicts", "--all-hosts"))
	r = status(a, "--check")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Parked:")
}
