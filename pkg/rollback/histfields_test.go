package rollback_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

// The history is not only the running user's to write (root reads a
// user's through --read-state-dir), so what a terminal would act on in its
// fields — a commit, a source, failed checks, a flake path — is escaped in
// the human output of --list and of a rollback's plan and errors; --json
// keeps the exact strings.
func TestHistoryFieldsAreEscapedForTheTerminal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	evilCommit := "\x1b]0;owned\x07\x1b[2J"
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	f.appendHistory(history.Entry{Time: at, Host: "alpha", Commit: evilCommit, Generation: 3, Toplevel: f.tops[2],
		Action: "switch", Outcome: history.OutcomeChecksFailed, Source: "rebuild-smart", FailedChecks: []string{"units: \x1b[31mx.service"}})
	f.appendHistory(history.Entry{Time: at.Add(time.Hour), Host: "alpha", Commit: f.commits[2],
		Action: "switch", Outcome: history.OutcomeFailed, Source: "evil\x1b[2J"})
	f.appendHistory(history.Entry{Time: at.Add(2 * time.Hour), Host: "alpha", Flake: f.repo, Commit: evilCommit, Generation: 2, Toplevel: f.tops[1],
		Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"})

	r := f.mustRun("--list")
	require.NotContains(t, r.Stdout, "\x1b")
	require.NotContains(t, r.Stdout, "\x07")
	require.Contains(t, r.Stdout, `\x1b]0;owned`)
	require.Contains(t, r.Stdout, `evil\x1b[2J`)
	require.Contains(t, r.Stdout, `failed checks: units: \x1b[31mx.service`)
	// --json keeps the exact strings.
	doc := listJSON(t, f)
	var commits []string
	for _, e := range doc.Entries {
		commits = append(commits, e.Commit)
	}
	require.Contains(t, commits, evilCommit)

	// The plan names the commit; the error about it is escaped too.
	r = f.mustRun("--system-only", "--to", "2", "--dry-run")
	require.NotContains(t, r.Stdout+r.Stderr, "\x1b")
	require.Contains(t, r.Stdout, `back to generation 2, commit \x1b]0;owned`)
	r = f.run("--to", "2", "--dry-run")
	require.Equal(t, 2, r.Code, r.String())
	require.NotContains(t, r.Stdout+r.Stderr, "\x1b")
	require.Contains(t, r.Stderr, `\x1b]0;owned`)
}

// LOW 17: a history file with more than one hard link is refused when it is
// read (--list, a rollback, a dry run), as it is when it is written
// (--record): exit 10, one line naming it, nothing changed. Whatever else
// that file is, it is not this history.
func TestHardLinkedHistoryIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	hist := filepath.Join(f.h.StateDir(), history.FileName)
	require.NoError(t, os.Link(hist, filepath.Join(f.h.Root, "another-name")))
	before := f.snapshot()
	for _, args := range [][]string{{"--list"}, {"--list", "--json"}, {}, {"--dry-run"}, {"--to", "2"}, {"--record", f.tops[0]}} {
		r := f.run(args...)
		require.Equal(t, 10, r.Code, "%v: %s", args, r)
		require.Contains(t, r.Stderr, hist, args)
		require.Contains(t, r.Stderr, "hard links", args)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
		require.Equal(t, before, f.snapshot(), "%v changed something", args)
	}
	require.Empty(t, f.calls())
	// The file of its own again: read as before.
	require.NoError(t, os.Remove(filepath.Join(f.h.Root, "another-name")))
	f.mustRun("--list")
}
