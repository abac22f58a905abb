package chezmoisync

import (
	"context"
	"testing"

	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/stretchr/testify/require"
)

type countingRunner struct{ ran []runner.Cmd }

func (c *countingRunner) Run(_ context.Context, cmd runner.Cmd) (runner.Result, error) {
	c.ran = append(c.ran, cmd)
	return runner.Result{}, nil
}

// In a dry run only read-only invocations reach the real runner, whatever
// their Mutates tag says: a query that forgot its tag cannot push.
func TestDryGuardLetsOnlyReadsThrough(t *testing.T) {
	inner := &countingRunner{}
	g := dryGuard{inner: inner}
	jjFlags := []string{"--no-pager", "--color=never", "--ignore-working-copy", "--config", "snapshot.auto-track=none()"}
	allowed := []runner.Cmd{
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "log", "-r", "@")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "diff", "--from", "a", "--to", "b", "--name-only")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "resolve", "--list", "-r", "x")},
		{Name: "jj", Args: []string{"--ignore-working-copy", "op", "log", "-n", "1"}},
		{Name: "jj", Args: []string{"config", "list", "user"}},
		{Name: "chezmoi", Args: []string{"--no-tty", "--source", "/s", "status", "--path-style", "absolute"}},
		{Name: "chezmoi", Args: []string{"--source", "/s", "managed", "--include=all"}},
		{Name: "chezmoi", Args: []string{"state", "get-bucket", "--bucket", "entryState"}},
		{Name: "git", Args: []string{"ls-remote", "--", "origin", "refs/heads/main"}},
		{Name: "git", Args: []string{"ls-files", "--others", "--exclude-standard", "-z"}},
		{Name: "git", Args: []string{"config", "--get", "user.name"}},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "--config", "ui.conflict-marker-style=git", "file", "show", "-r", "@", "--", "root-file:\"x\"")},
		// The parked conflict's files: merge-tree into a scratch object directory.
		{Name: "git", Args: []string{"--git-dir", "/s/.git", "merge-tree", "--write-tree", "a", "b"}, Env: []string{"GIT_OBJECT_DIRECTORY=/tmp/x"}},
	}
	for _, c := range allowed {
		_, err := g.Run(context.Background(), c)
		require.NoError(t, err, "%s", c)
	}
	refused := []runner.Cmd{
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "git", "push", "--remote", "origin", "-b", "main")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "git", "fetch")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "commit", "-m", "x")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "rebase", "-b", "@", "-d", "main")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "bookmark", "set", "main", "-r", "@-")},
		{Name: "jj", Args: []string{"status"}}, // snapshots without --ignore-working-copy
		{Name: "jj", Args: []string{"config", "set", "--repo", "a", "b"}},
		{Name: "chezmoi", Args: []string{"--source", "/s", "apply", "--error-on-conflict"}},
		{Name: "chezmoi", Args: []string{"re-add", "--", "/h/.x"}},
		{Name: "chezmoi", Args: []string{"add", "--", "/h/.x"}},
		{Name: "git", Args: []string{"update-ref", "--no-deref", "HEAD", "abc"}},
		{Name: "git", Args: []string{"push", "origin", "main"}},
		{Name: "sh", Args: []string{"-c", "true"}},
		{Name: "chezmoi", Args: []string{"status"}, Mutates: true},
		{Name: "git", Args: []string{"--git-dir", "/s/.git", "merge-tree", "--write-tree", "a", "b"}}, // into the repository's objects
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "resolve", "-r", "@", "--tool", ":ours")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "restore", "--from", "x", "--into", "y")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "new", "--no-edit", "x", "-m", "y")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "abandon", "x")},
		{Name: "jj", Args: append(append([]string{}, jjFlags...), "squash", "--from", "x", "--into", "@")},
	}
	for _, c := range refused {
		_, err := g.Run(context.Background(), c)
		require.Error(t, err, "%s got through a dry run", c)
	}
	require.Len(t, inner.ran, len(allowed))
}
