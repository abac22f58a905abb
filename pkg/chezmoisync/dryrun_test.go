package chezmoisync_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// A dry run after every kind of earlier failure leaves the remote, the
// repository (work tree, .git and .jj) and HOME byte for byte unchanged,
// and the sync's own state files too (only the lock file is written).
func TestDryRunAfterEveryFailureChangesNothing(t *testing.T) {
	for name, fail := range map[string]func(t *testing.T, remote string, a, b *testharness.Host) (remoteDir, word string){
		"fetch-failed": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			require.NoError(t, os.Rename(remote, remote+".away"))
			editLine(t, a, ".bashrc", 2, "alias ll='ls -l --offline'")
			mustSync(t, a)
			return remote + ".away", syncstate.FetchFailed
		},
		"push-failed": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			hook := filepath.Join(remote, "hooks", "pre-receive")
			require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'remote: maintenance' >&2\nexit 1\n"), 0o755))
			editLine(t, a, ".bashrc", 2, "alias ll='ls -l --rejected'")
			syncCode(t, a, 1)
			return remote, syncstate.PushFailed
		},
		"conflicts-preserved": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			editLine(t, b, ".bashrc", 2, "alias ll='ls -lb'")
			mustSync(t, b)
			editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
			syncCode(t, a, 5)
			return remote, syncstate.ConflictsPreserved
		},
		"refused-git-rebase": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			conflictingGitCommits(t, a)
			a.Exec(a.SourceDir(), "git", "rebase", "theirs")
			syncCode(t, a, 11)
			return remote, syncstate.Refused
		},
		"refused-rewind": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			base := a.Run(remote, "git", "rev-parse", "main")
			editLine(t, a, ".bashrc", 2, "alias ll='ls -l --published'")
			mustSync(t, a)
			a.Run(remote, "git", "update-ref", "refs/heads/main", base)
			syncCode(t, a, 11)
			return remote, syncstate.Refused
		},
		"failed-script": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			require.NoError(t, os.WriteFile(filepath.Join(b.SourceDir(), "run_onchange_fail.sh"), []byte("#!/bin/sh\nexit 3\n"), 0o755))
			b.Run(b.SourceDir(), "jj", "file", "track", "run_onchange_fail.sh")
			syncCode(t, b, 1)
			syncCode(t, a, 1)
			return remote, syncstate.Failed
		},
		"edits-waiting": func(t *testing.T, remote string, a, b *testharness.Host) (string, string) {
			a.WriteHome(".vim/extra", "x\n")
			require.NoError(t, os.MkdirAll(filepath.Join(a.SourceDir(), "exact_dot_vim"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "exact_dot_vim", "vimrc"), []byte("set nu\n"), 0o644))
			a.Run(a.SourceDir(), "jj", "file", "track", "exact_dot_vim/vimrc")
			mustSync(t, a)
			return remote, syncstate.EditsWaiting
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testharness.RequireSync(t)
			remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
			a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
			mustSync(t, a)
			mustSync(t, b)
			remoteDir, word := fail(t, remote, a, b)
			require.Equal(t, word, record(t, a).Status)
			// A pending home edit too, so the plan has something to capture.
			editLine(t, a, ".config/app/config.toml", 1, "font = 15")
			requireDryRunChangesNothing(t, a, remoteDir)
		})
	}
}

// A run killed inside jj rebase (recover.go) leaves a marker and a moved
// git HEAD: a dry run reports it and repairs nothing.
func TestDryRunAfterKilledRunChangesNothing(t *testing.T) {
	t.Parallel()
	remote, a := killedRebase(t, false)
	r := requireDryRunChangesNothing(t, a, remote)
	require.Contains(t, r.Stdout, "would repair the source directory after the interrupted run")
}

func requireDryRunChangesNothing(t *testing.T, a *testharness.Host, remote string, args ...string) testharness.Result {
	t.Helper()
	state := func() string {
		var files []string
		for _, f := range []string{syncstate.RecordFile, syncstate.StatusFile, syncstate.HistoryFile, "sync-run.json", "sync-index", "sync-colocation.json", "backups"} {
			files = append(files, filepath.Join(a.StateDir(), f))
		}
		return treeHash(t, files...)
	}
	before := []string{treeHash(t, a.SourceDir()), homeFiles(t, a), treeHash(t, remote), state()}
	r := sync(a, append([]string{"--dry-run"}, args...)...)
	require.NotEqual(t, 130, r.Code, r.String())
	after := []string{treeHash(t, a.SourceDir()), homeFiles(t, a), treeHash(t, remote), state()}
	for i, what := range []string{"the repository", "HOME", "the remote", "the state files"} {
		require.Equal(t, before[i], after[i], "the dry run changed %s:\n%s", what, r)
	}
	return r
}

// Every conflict and undo command with --dry-run: the remote, the
// repository, HOME and the state files stay byte for byte as they were,
// in the parked state, half-resolved, and after syncs with a held undo.
func TestDryRunOfResolveAndUndoChangesNothing(t *testing.T) {
	t.Run("parked", func(t *testing.T) {
		t.Parallel()
		remote, _, b := parkedTwoFiles(t)
		b.WriteHome(".profile", "export A=pending\n")
		for _, args := range [][]string{{"--keep-local"}, {"--take-remote", "~/.bashrc", "--keep-local"}, {"--continue"}, {"--abort"}, {"--keep-local", "~/.nope"}, {"--undo"}} {
			r := requireDryRunChangesNothing(t, b, remote, args...)
			if args[0] != "--undo" && args[len(args)-1] != "~/.nope" {
				require.Contains(t, r.Stdout, "[plan]", "%v\n%s", args, r)
			}
		}
	})
	t.Run("half-resolved", func(t *testing.T) {
		t.Parallel()
		remote, _, b := parkedTwoFiles(t)
		syncCode(t, b, 5, "--keep-local", "~/.gitconfig")
		for _, args := range [][]string{{"--keep-local"}, {"--take-remote", "~/.bashrc"}, {"--continue"}, {"--abort"}} {
			requireDryRunChangesNothing(t, b, remote, args...)
		}
	})
	t.Run("undo", func(t *testing.T) {
		t.Parallel()
		remote, a, b := twoHosts(t)
		editLine(t, a, ".bashrc", 2, "alias ll='from alpha'")
		mustSync(t, a)
		mustSync(t, b)
		b.WriteHome(".gitconfig", "[core]\n\tpager = beta\n")
		mustSync(t, b)
		first := jjOut(b, "log", "--no-graph", "-r", "@--", "-T", "commit_id")
		for _, args := range [][]string{{"--undo"}, {"--undo", "2"}, {"--undo", "--publish"}, {"--undo-to", first}, {"--undo", "--list"}, {"--publish"}} {
			r := requireDryRunChangesNothing(t, b, remote, args...)
			if args[0] == "--undo" && len(args) == 1 {
				require.Contains(t, r.Stdout, "[plan] undo", r.String())
			}
		}
		mustSync(t, b, "--undo") // held
		for _, args := range [][]string{{"--undo"}, {"--publish"}, {}} {
			requireDryRunChangesNothing(t, b, remote, args...)
		}
	})
}
