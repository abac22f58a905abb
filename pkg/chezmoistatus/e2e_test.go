package chezmoistatus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// The whole loop with the real chezmoi-sync: both hosts sync, edit the same
// line, beta's sync parks its edit; status and show-conflicts report it;
// following show-conflicts' recipe and syncing again publishes the edit and
// leaves both commands reporting a healthy host.
func TestEndToEndWithChezmoiSync(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	a, b := w.Alpha, w.Beta
	runSync := func(h *testharness.Host) testharness.Result { return h.Exec("", "chezmoi-sync") }
	for _, h := range []*testharness.Host{a, b} {
		r := runSync(h)
		require.Equal(t, 0, r.Code, r.String())
		requireCode(t, 0, status(h, "--check"))
	}

	conflictfixture.EditHome(t, a, ".bashrc", "EDITOR=vi", "EDITOR=nvim")
	requireCode(t, 0, runSync(a))
	conflictfixture.EditHome(t, b, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	r := runSync(b)
	require.NotEqual(t, 0, r.Code, "a parked conflict is reported by the sync: %s", r)
	rec, err := syncstate.Load(b.StateDir())
	require.NoError(t, err)
	require.Equal(t, syncstate.ConflictsPreserved, rec.Status, r.String())

	// chezmoi-status: conflicts, parked bookmark, exit 5 under --check.
	r = status(b, "--check")
	requireCode(t, 5, r)
	require.Contains(t, r.Stdout, "[failed] Last sync: conflicts-preserved")
	require.Contains(t, r.Stdout, "[failed] Conflicts: 1 (dot_bashrc)")
	require.Contains(t, r.Stdout, "Parked: sync/beta (this host")

	// chezmoi-show-conflicts: exit 1, both sides, the recipe.
	r = b.Exec("", "chezmoi-show-conflicts", "--json")
	require.Equal(t, 1, r.Code, r.String())
	var out showconflicts.Output
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out))
	require.Equal(t, []string{"dot_bashrc"}, out.Files)
	c := out.Conflicts[0]
	require.Equal(t, "sync/beta", c.Bookmark)
	require.Equal(t, "export EDITOR=nvim", c.Files[0].Sides[0].Preview)
	require.Equal(t, "export EDITOR=emacs", c.Files[0].Sides[1].Preview)
	require.NotContains(t, b.ReadHome(".bashrc"), "<<<<<<<", "no markers at home")

	// Follow the recipe's first line, keeping beta's side.
	line := c.Resolve[0]
	require.True(t, strings.HasPrefix(line, "chezmoi-sync --keep-local ~/.bashrc"), line)
	args := strings.Fields(strings.SplitN(line, "#", 2)[0])
	res := b.Exec("", args[0], args[1:]...)
	require.Equal(t, 0, res.Code, "%s: %s", line, res)
	requireCode(t, 0, b.Exec("", "chezmoi-show-conflicts"))
	r = status(b, "--check")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Parked:", "the sync deleted sync/beta once published")
	require.Equal(t, "# bashrc\nexport EDITOR=emacs\nalias ll='ls -l'\n", testharness.RemoteFile(t, w.Remote, "main", "dot_bashrc"))

	requireCode(t, 0, runSync(a))
	requireCode(t, 0, a.Exec("", "chezmoi-show-conflicts", "--all-hosts"))
	requireCode(t, 0, status(a, "--check"))
	require.Contains(t, a.ReadHome(".bashrc"), "EDITOR=emacs")
}

// A real chezmoi-sync, held in the middle of its fetch by a git
// reference-transaction hook (jj's git fetch fires it): status and
// show-conflicts answer at once and name it; --wait waits for it.
func TestEndToEndDuringRealSync(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	mark, release := filepath.Join(h.Root, "sync-in-fetch"), filepath.Join(h.Root, "release-sync")
	hook := filepath.Join(h.SourceDir(), ".git", "hooks", "reference-transaction")
	require.NoError(t, os.MkdirAll(filepath.Dir(hook), 0o755))
	require.NoError(t, os.WriteFile(hook, []byte(`#!/bin/sh
[ "$1" = prepared ] || exit 0
touch '`+mark+`'
while [ ! -e '`+release+`' ]; do sleep 0.05; done
`), 0o755))

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, "", "chezmoi-sync")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = os.WriteFile(release, nil, 0o644) }()
	require.Eventually(t, func() bool { _, err := os.Stat(mark); return err == nil }, 3*time.Minute, 20*time.Millisecond, "the sync never reached its fetch")

	start := time.Now()
	r := status(h)
	requireCode(t, 0, r)
	machine, err := os.Hostname() // the lock names the machine, not the sync's --hostname
	require.NoError(t, err)
	require.Contains(t, r.Stdout, fmt.Sprintf("[warn] Sync running: pid %d on %s (chezmoi-sync)", cmd.Process.Pid, machine))
	r = h.Exec("", "chezmoi-show-conflicts")
	requireCode(t, 0, r)
	require.Contains(t, r.Stderr, fmt.Sprintf("a sync is running (pid %d", cmd.Process.Pid))
	requireCode(t, 3, status(h, "--wait", "200ms"))
	// Three runs of real tools; one blocked behind the sync would wait
	// for the release below, i.e. forever. The bound is for a loaded
	// machine under -race, not a measure of speed.
	require.Less(t, time.Since(start), 2*time.Minute, "nothing blocked behind the sync")

	require.NoError(t, os.WriteFile(release, nil, 0o644))
	r = status(h, "--wait", "60s", "--check")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Sync running")
	require.NoError(t, <-done, out.String())
}

// fetch-failed and push-failed produced by the real chezmoi-sync.
func TestEndToEndRemoteUnreachable(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	moved := w.Remote + ".away"
	require.NoError(t, os.Rename(w.Remote, moved))
	conflictfixture.EditHome(t, h, ".gitconfig", "pager = less", "pager = delta")
	r := h.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, "a systemd unit must not fail offline: %s", r)

	r = status(h, "--check")
	requireCode(t, 6, r)
	require.Contains(t, r.Stdout, "[failed] Last sync: fetch-failed")
	require.Contains(t, r.Stdout, "[warn] Pending push: 1 local commit not on main@origin")
	require.Contains(t, r.Stdout, "last success: ")

	require.NoError(t, os.Rename(moved, w.Remote))
	requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	r = status(h, "--check")
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[ok] Pending push: 0 local commits")
}

// With autoCommit off the sync parks nothing on a bookmark: the conflicting
// edit stays in the working copy, and both commands still find it.
func TestEndToEndConflictWithoutAutoCommit(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	a, b := w.Alpha, w.Beta
	for _, h := range []*testharness.Host{a, b} {
		requireCode(t, 0, h.Exec("", "chezmoi-sync"))
	}
	conflictfixture.EditHome(t, a, ".bashrc", "EDITOR=vi", "EDITOR=nvim")
	requireCode(t, 0, a.Exec("", "chezmoi-sync"))
	conflictfixture.EditHome(t, b, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	r := b.Exec("", "chezmoi-sync", "--no-auto-commit")
	rec, err := syncstate.Load(b.StateDir())
	require.NoError(t, err)
	require.Equal(t, syncstate.ConflictsPreserved, rec.Status, r.String())
	require.Empty(t, rec.Parked)

	r = status(b, "--check")
	requireCode(t, 5, r)
	require.Contains(t, r.Stdout, "[failed] Conflicts: 1 (dot_bashrc)")
	r = b.Exec("", "chezmoi-show-conflicts")
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stdout, "working copy: uncommitted edits of beta that conflict with main@origin")
	require.Contains(t, r.Stdout, "jj rebase -b @ -d main@origin")
	require.Contains(t, r.Stdout, `"export EDITOR=emacs"`)
}
