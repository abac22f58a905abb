package chezmoistatus_test

import (
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// A hostile commit message and author (another host wrote them) and a
// record holding terminal escapes: neither chezmoi-status nor
// chezmoi-show-conflicts lets an escape reach the terminal; they show it
// escaped (\x1b) instead.
func TestTerminalEscapesFromTheRepositoryAreShownEscaped(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	w.ConflictingEdits()
	h := w.Beta
	const evil = "\x1b]0;pwned\x07\x1b[2J"
	h.Run(h.SourceDir(), "jj", "metaedit", "-r", "@-", "-m", "sync "+evil+" dotfiles", "--author", "Mallory "+evil+" <m@example.com>")
	change := conflictfixture.Park(t, h)
	// An earlier run's resolution, for --history.
	conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.Success, Start: time.Now().Add(-time.Hour), Action: "resolve",
		Resolutions: []syncstate.Resolution{{Path: "dot_" + evil, How: "take-remote", Took: "remote", Discarded: "local",
			DiscardedCommit: "0123456789abcdef0123456789abcdef01234567", Bookmark: "kept/beta/" + evil}}})
	conflictfixture.Save(t, h, syncstate.Record{
		Status: syncstate.ConflictsPreserved, Start: time.Now(), Parked: "sync/beta", PendingPush: 1,
		Conflicts: []syncstate.Conflict{{ChangeID: change, Paths: []string{"dot_bashrc"}}},
		Error:     "boom " + evil, NextStep: "next " + evil,
	})

	for _, cmd := range [][]string{
		{"chezmoi-status"}, {"chezmoi-status", "--check"},
		{"chezmoi-show-conflicts"}, {"chezmoi-show-conflicts", "--all-hosts"}, {"chezmoi-show-conflicts", "--history"},
	} {
		r := h.Exec("", cmd[0], cmd[1:]...)
		require.Contains(t, []int{0, 1, 5}, r.Code, "%v: %s", cmd, r)
		require.NotContains(t, r.Stdout+r.Stderr, "\x1b", "%v let an escape through:\n%s", cmd, r)
		require.NotContains(t, r.Stdout+r.Stderr, "\x07", "%v", cmd)
		require.Contains(t, r.Stdout, `\x1b]0;pwned\x07\x1b[2J`, "%v shows it escaped", cmd)
	}
}
