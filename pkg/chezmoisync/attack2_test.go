package chezmoisync_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// Regression tests for the second attack report (findings F1-F18): each
// drives the built binaries against real git, jj and chezmoi, and failed
// before its fix.

// F4: a first run on a plain git clone checked out on a local branch with
// an unpublished commit is refused (dry run and real run alike): nothing is
// pushed to main, the message names the commit and how to go on.
func TestFirstRunOnFeatureBranchIsRefused(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	src := a.SourceDir()
	a.Run(src, "git", "checkout", "-q", "-b", "experiment")
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_gitconfig"), []byte("[core]\n\tpager = experimental\n"), 0o644))
	a.Run(src, "git", "commit", "-qam", "WIP: experiment, do not push")
	main := remoteRef(t, a, remote, "main")
	before := everything(t, a, remote)

	r := syncCode(t, a, 11, "--dry-run")
	require.Contains(t, r.Stderr, "WIP: experiment")
	r = syncCode(t, a, 11)
	require.Contains(t, r.Stderr, "on branch experiment with 1 commit not on main@origin")
	rec := record(t, a)
	require.Equal(t, syncstate.Refused, rec.Status)
	require.Contains(t, rec.NextStep, "git checkout main")
	require.Equal(t, main, remoteRef(t, a, remote, "main"), "the feature branch was pushed")
	require.Equal(t, before, everything(t, a, remote), "a refused run changed something")

	// Switching to main (the branch and its commit stay) lets it sync.
	a.Run(src, "git", "checkout", "-q", "main")
	mustSync(t, a)
	require.Equal(t, main, remoteRef(t, a, remote, "main"))
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "experimental")
}

// F8: origin re-pointed at another repository with jj and fetched with jj's
// defaults (which abandon the local commits): the remote shares no commit
// with the head this host integrated, so it is called unrelated, not
// rewound, and --accept-rewind does not take it either (it would apply the
// foreign files and run its run_ script).
func TestRepointedRemoteFetchedByJJIsUnrelatedNotRewound(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	other := testharness.NewRemote(t, map[string]string{
		"dot_bashrc": "# somebody else's\n",
		"run_x.sh":   "#!/bin/sh\ntouch \"$HOME/FOREIGN_SCRIPT_RAN\"\n",
	})
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	a.Run(a.SourceDir(), "jj", "git", "remote", "set-url", "origin", other)
	a.Run(a.SourceDir(), "jj", "git", "fetch")
	home := homeFiles(t, a)

	r := syncCode(t, a, 11, "--dry-run")
	require.Contains(t, r.Stderr, "shares no history")
	r = syncCode(t, a, 11)
	require.Contains(t, record(t, a).Error, "shares no history", r.String())
	require.NotContains(t, r.Stderr, "rewound")
	r = syncCode(t, a, 11, "--accept-rewind")
	require.Contains(t, r.Stderr, "shares no history")
	require.Equal(t, home, homeFiles(t, a))
	require.NoFileExists(t, filepath.Join(a.Home, "FOREIGN_SCRIPT_RAN"))
	require.Equal(t, "# somebody else's\n", testharness.RemoteFile(t, other, "main", "dot_bashrc"), "the foreign remote was pushed to")
}
