package jj

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/stretchr/testify/require"
)

// Every Client method that changes something carries the Mutates tag, so
// under runner.DryRun (what --dry-run wraps the runner in) it is printed,
// not run: against a real colocated repository with a local commit ahead
// of a real bare remote, the whole list leaves the remote's branches, the
// repository's git refs and jj's operation log exactly as they were, and
// each call is one planned command. A method that lost its tag really
// pushes, commits or rebases here (issue 17: "a dry run that really
// pushes"; mutant sync/dry-run-pushes).
func TestDryRunRunnerChangesNothing(t *testing.T) {
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, map[string]string{"dot_a": "a\n"})
	h := testharness.NewHost(t, "dry")
	h.CloneDotfiles(remote)
	dir := h.SourceDir()
	h.Run(dir, "jj", "git", "init", "--colocate")
	h.Run(dir, "jj", "bookmark", "track", "main@origin")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dot_a"), []byte("local\n"), 0o644))
	h.Run(dir, "jj", "commit", "-m", "local edit")
	h.Run(dir, "jj", "bookmark", "set", "main", "-r", "@-")
	h.Run(dir, "jj", "bookmark", "create", "sync/dry", "-r", "@-")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dot_a"), []byte("not snapshotted\n"), 0o644))

	type snapshot struct{ remote, refs, op string }
	take := func() snapshot {
		return snapshot{
			remote: h.Run(remote, "git", "for-each-ref", "--format=%(refname) %(objectname)"),
			refs:   h.Run(dir, "git", "for-each-ref", "--format=%(refname) %(objectname)"),
			op:     h.Run(dir, "jj", "op", "log", "--ignore-working-copy", "--no-graph", "-n", "1", "-T", `id ++ "\n"`),
		}
	}
	before := take()
	require.NotContains(t, before.remote, h.Run(dir, "git", "rev-parse", "main"), "setup: main must be ahead of the remote")

	var plans bytes.Buffer
	dry := &runner.DryRun{Inner: &runner.Exec{Env: h.Env}, Out: &plans}
	c := &Client{Runner: dry, Dir: dir, IgnoreWorkingCopy: true, NoAutoTrack: true}
	ctx := context.Background()
	calls := map[string]func() error{
		"push":         func() error { _, err := c.Push(ctx, "origin", "main"); return err },
		"push parked":  func() error { _, err := c.Push(ctx, "origin", "sync/dry"); return err },
		"fetch":        func() error { _, err := c.Fetch(ctx, "origin"); return err },
		"commit":       func() error { return c.Commit(ctx, "dry") },
		"new":          func() error { return c.New(ctx) },
		"rebase -b":    func() error { return c.RebaseBranch(ctx, "@", "root()") },
		"rebase -s":    func() error { return c.RebaseSource(ctx, "@-", "root()") },
		"abandon":      func() error { return c.Abandon(ctx, "@-") },
		"bookmark set": func() error { return c.BookmarkSet(ctx, "main", "root()") },
		"bookmark del": func() error { return c.BookmarkDelete(ctx, "main") },
		"track":        func() error { return c.Track(ctx, "main", "origin") },
		"track files":  func() error { return c.TrackFiles(ctx, []string{"dot_new"}) },
		"restore":      func() error { return c.RestoreFrom(ctx, "root()", []string{"dot_a"}) },
		"squash":       func() error { return c.Squash(ctx, "@-", "@", "dry") },
		"describe":     func() error { return c.Describe(ctx, "@", "dry") },
		"metaedit":     func() error { return c.Reidentify(ctx, "@-", true) },
		"config set":   func() error { return c.ConfigSetRepo(ctx, "user.name", "dry") },
		"update-stale": func() error { _, err := c.UpdateStale(ctx); return err },
		"git init":     func() error { return c.GitInit(ctx) },
		"clone":        func() error { return c.GitClone(ctx, remote, filepath.Join(h.Root, "clone"), "origin") },
	}
	for name, call := range calls {
		n := len(dry.Planned)
		require.NoError(t, call(), name)
		require.Len(t, dry.Planned, n+1, "%s: not planned, so it ran (lost its Mutates tag?)", name)
	}
	require.Equal(t, before, take(), "a dry run changed the remote or the repository; planned:\n%s", plans.String())
	require.NoDirExists(t, filepath.Join(h.Root, "clone"))
}
