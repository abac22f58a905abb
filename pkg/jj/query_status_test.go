package jj

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/stretchr/testify/require"
)

func TestParseStatusCommits(t *testing.T) {
	out := `{"commit":{"commit_id":"4e18","parents":["0324"],"change_id":"uwzr","description":"chore(b): sync\n\nbody\n","author":{"name":"b","email":"b@x","timestamp":"2026-11-22T01:01:41+01:00"},"committer":{"name":"b","email":"b@x","timestamp":"2026-11-22T00:01:41Z"}},"conflict":true,"empty":false,"wc":true,"bookmarks":[{"name":"sync/b","target":["4e18"]}]}
{"commit":{"commit_id":"0000","parents":[],"change_id":"zzzz","description":"","author":{"name":"","email":"","timestamp":"1970-01-01T00:00:00Z"},"committer":{"name":"","email":"","timestamp":"1970-01-01T00:00:00Z"}},"conflict":false,"empty":true,"wc":false,"bookmarks":[]}
`
	got, err := ParseStatusCommits(out)
	require.NoError(t, err)
	require.Equal(t, []StatusCommit{
		{ChangeID: "uwzr", CommitID: "4e18", Parents: []string{"0324"}, Description: "chore(b): sync", Author: "b", Email: "b@x",
			Time: time.Date(2026, 11, 22, 0, 1, 41, 0, time.UTC), Conflict: true, WorkingCopy: true, Bookmarks: []string{"sync/b"}},
		{ChangeID: "zzzz", CommitID: "0000", Parents: []string{}, Time: time.Unix(0, 0).UTC(), Empty: true, Bookmarks: []string{}},
	}, got)

	_, err = ParseStatusCommits("not json\n")
	require.ErrorContains(t, err, "cannot parse jj log output")
}

func TestParseStatusBookmarks(t *testing.T) {
	out := "main\t\tabc\tfalse\tfalse\nmain\tgit\tabc\tfalse\ttrue\nmain\torigin\tabc\tfalse\ttrue\nsync/b\t\t\ttrue\tfalse\n"
	got, err := ParseStatusBookmarks(out)
	require.NoError(t, err)
	require.Equal(t, []StatusBookmark{
		{Name: "main", CommitID: "abc"},
		{Name: "main", Remote: "origin", CommitID: "abc", Tracked: true},
		{Name: "sync/b", Conflict: true},
	}, got)
	_, err = ParseStatusBookmarks("only\ttwo\n")
	require.Error(t, err)
}

func TestStatusRevsetString(t *testing.T) {
	require.Equal(t, `"a \"b\" \\c"`, StatusRevsetString(`a "b" \c`))
}

// The queries against a real colocated repository, and proof that they
// leave no trace: no new jj operation, even with an edited working copy.
func TestStatusQueryRealRepo(t *testing.T) {
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, map[string]string{"dot_a": "a\n", "dot_b c": "x\n"})
	h := testharness.NewHost(t, "q")
	h.CloneDotfiles(remote)
	dir := h.SourceDir()
	require.False(t, HasStatusRepo(dir))
	h.Run(dir, "jj", "git", "init", "--colocate")
	h.Run(dir, "jj", "bookmark", "track", "main@origin")
	require.True(t, HasStatusRepo(dir))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dot_a"), []byte("edited\n"), 0o644))
	h.Run(dir, "jj", "commit", "-m", "local edit")
	h.Run(dir, "jj", "bookmark", "create", "sync/q", "-r", "@-")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dot_a"), []byte("not snapshotted\n"), 0o644))
	ops := h.Run(dir, "jj", "op", "log", "--ignore-working-copy", "--no-graph", "-T", `id ++ "\n"`)

	q := &StatusQuery{Runner: &runner.Exec{Env: h.Env}, Dir: dir}
	ctx := context.Background()
	cs, err := q.Commits(ctx, "main@origin..@", 0)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.True(t, cs[0].WorkingCopy)
	require.True(t, cs[0].Empty, "the edit after the commit is not snapshotted")
	require.Equal(t, "local edit", cs[1].Description)
	require.Equal(t, []string{"sync/q"}, cs[1].Bookmarks)
	limited, err := q.Commits(ctx, "::@", 1)
	require.NoError(t, err)
	require.Len(t, limited, 1)

	classes := []StatusClass{{"up", `remote_bookmarks(exact:"main", exact:"origin")`}, {"mine", "main@origin..@"}, {"quote\"d", "@"}}
	all, err := q.Classified(ctx, "::@ ~ root()", classes)
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, map[string]bool{"up": false, "mine": true, "quote\"d": true}, all[0].In)
	require.Equal(t, map[string]bool{"up": false, "mine": true, "quote\"d": false}, all[1].In)
	require.Equal(t, map[string]bool{"up": true, "mine": false, "quote\"d": false}, all[2].In)

	bms, err := q.Bookmarks(ctx, "sync/*")
	require.NoError(t, err)
	require.Equal(t, []StatusBookmark{{Name: "sync/q", CommitID: cs[1].CommitID}}, bms)

	content, err := q.FileShow(ctx, "@-", "dot_a")
	require.NoError(t, err)
	require.Equal(t, "edited\n", content)
	content, err = q.FileShow(ctx, "main@origin", "dot_b c")
	require.NoError(t, err)
	require.Equal(t, "x\n", content)

	paths, err := q.ConflictedPaths(ctx, "@-")
	require.NoError(t, err)
	require.Nil(t, paths)

	require.Equal(t, ops, h.Run(dir, "jj", "op", "log", "--ignore-working-copy", "--no-graph", "-T", `id ++ "\n"`), "queries added an operation")
	require.Equal(t, "not snapshotted\n", h.ReadSource("dot_a"))
}
