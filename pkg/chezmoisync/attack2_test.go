package chezmoisync_test

import (
	"os"
	"path/filepath"
	"strings"
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

// F2: after the recipe's rebase, a resolution that deletes only some of
// jj's marker lines (the closing one, the opening one, both outer ones) is
// still the conflict: the dry run and the real run both exit 5 with the
// same message, nothing reaches main or HOME; --continue refuses it too.
// A complete resolution is then planned and published alike.
func TestHalfRemovedMarkerBlockIsNeverPublished(t *testing.T) {
	t.Parallel()
	for name, drop := range map[string]func(string) bool{
		"closing": func(l string) bool { return strings.HasPrefix(l, ">>>>>>> ") },
		"opening": func(l string) bool { return strings.HasPrefix(l, "<<<<<<< ") },
		"outer":   func(l string) bool { return strings.HasPrefix(l, ">>>>>>> ") || strings.HasPrefix(l, "<<<<<<< ") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			remote, _, b, _ := parkedTwice(t, "beta")
			b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
			conflicted := b.ReadSource("dot_bashrc")
			require.True(t, hasConflictMarkers(conflicted), conflicted)
			var kept []string
			for _, l := range strings.Split(conflicted, "\n") {
				if !drop(l) {
					kept = append(kept, l)
				}
			}
			half := strings.Join(kept, "\n")
			writeSource(t, b, "dot_bashrc", half)
			main := remoteRef(t, b, remote, "refs/heads/main")
			home := homeFiles(t, b)

			dry := syncCode(t, b, 5, "--dry-run")
			real := syncCode(t, b, 5)
			require.Contains(t, real.Stderr, "conflict markers remain in dot_bashrc")
			require.Equal(t, firstLine(real.Stderr), firstLine(dry.Stderr), "the dry run and the real run disagree")
			syncCode(t, b, 5, "--continue")
			require.Equal(t, main, remoteRef(t, b, remote, "refs/heads/main"), "a half-resolved conflict was published")
			require.Equal(t, home, homeFiles(t, b))
			require.Equal(t, syncstate.ConflictsPreserved, record(t, b).Status)

			// Resolved for real: planned as a publication, and published.
			writeSource(t, b, "dot_bashrc", "# resolved\nalias ll='ls -lh'\n")
			dry = mustSync(t, b, "--dry-run")
			require.Contains(t, dry.String(), "would push")
			mustSync(t, b)
			require.Equal(t, "# resolved\nalias ll='ls -lh'\n", testharness.RemoteFile(t, remote, "main", "dot_bashrc"))
		})
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func writeSource(t *testing.T, h *testharness.Host, rel, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), rel), []byte(content), 0o644))
}

// F1: two hosts change the mode of one file (alpha chmod 600, beta chmod
// 755): jj merges the two renames cleanly into private_dot_profile and
// executable_dot_profile, which chezmoi refuses on every host. The second
// host parks (dry run and real run: exit 5), main keeps one source file,
// every later sync parks again, and the printed next step publishes.
func TestConcurrentModeChangesAreParkedNotPublished(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_profile": "export A=1\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	require.NoError(t, os.Chmod(filepath.Join(a.Home, ".profile"), 0o600))
	mustSync(t, a)
	require.NoError(t, os.Chmod(filepath.Join(b.Home, ".profile"), 0o755))
	main := remoteRef(t, b, remote, "refs/heads/main")

	r := syncCode(t, b, 5)
	require.Contains(t, r.String(), "~/.profile (executable_dot_profile, private_dot_profile)")
	rec := record(t, b)
	require.Equal(t, syncstate.ConflictsPreserved, rec.Status)
	require.Equal(t, "sync/beta", rec.Parked)
	require.Contains(t, rec.NextStep, "chezmoi-sync --continue")
	require.Equal(t, main, remoteRef(t, b, remote, "refs/heads/main"), "the split was published")
	// Parked: the dry run (from what was fetched) and every later run agree.
	dry := syncCode(t, b, 5, "--dry-run")
	require.Contains(t, dry.String(), "would park on sync/beta")
	syncCode(t, b, 5)
	b.Run(b.Home, "chezmoi", "managed") // chezmoi still reads this host's source

	// The next step: rebase by hand, keep one source file, continue.
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
	syncCode(t, b, 5, "--continue") // both source files still there: parked
	require.Equal(t, main, remoteRef(t, b, remote, "refs/heads/main"), "the split was published")
	require.NoError(t, os.Remove(filepath.Join(b.SourceDir(), "private_dot_profile")))
	mustSync(t, b, "--continue")
	_, priv := gitShow(b, remote, "main", "private_dot_profile")
	_, exe := gitShow(b, remote, "main", "executable_dot_profile")
	require.False(t, priv)
	require.True(t, exe)
	mustSync(t, a)
	a.Run(a.Home, "chezmoi", "managed")
}

// F1b: two hosts chezmoi add the same new file, one of them with mode 0600:
// dot_vimrc and private_dot_vimrc would both be published; parked instead.
func TestSameFileAddedOnTwoHostsIsParked(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	a.WriteHome(".vimrc", "set nu\n")
	a.Run(a.Home, "chezmoi", "add", ".vimrc")
	mustSync(t, a)
	b.WriteHome(".vimrc", "set nu\n")
	require.NoError(t, os.Chmod(filepath.Join(b.Home, ".vimrc"), 0o600))
	b.Run(b.Home, "chezmoi", "add", ".vimrc")
	r := syncCode(t, b, 5)
	require.Contains(t, r.String(), "~/.vimrc (dot_vimrc, private_dot_vimrc)")
	_, priv := gitShow(b, remote, "main", "private_dot_vimrc")
	require.False(t, priv, "the split was published")
	mustSync(t, a)
}

// F3: files dropped into the source directory by hand (a key, notes, an
// editor's backup and autosave) map to targets, but neither chezmoi add
// nor the sync made them: they stay untracked, are reported on every run,
// never reach the remote or another host, and are not applied here either
// (the dry run agrees). A file chezmoi add made is still published.
func TestStrayFilesInTheSourceDirAreNeverPublished(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	stray := map[string]string{
		"id_rsa":        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
		"notes":         "my private notes\n",
		"dot_bashrc~":   a.ReadSource("dot_bashrc"),
		"#dot_profile#": "autosave\n",
		"dot_env.bak":   "TOKEN=x\n",
	}
	for name, content := range stray {
		writeSource(t, a, name, content)
	}
	home := homeFiles(t, a)
	dry := mustSync(t, a, "--dry-run")
	require.Contains(t, dry.String(), "nothing to do")
	r := mustSync(t, a)
	require.ElementsMatch(t, []string{"id_rsa", "notes", "dot_bashrc~", "#dot_profile#", "dot_env.bak"}, record(t, a).Untracked, r.String())
	require.Equal(t, home, homeFiles(t, a), "a stray source file was applied")
	r = mustSync(t, a) // reported again, not hidden by the stat index
	require.Contains(t, r.Stderr, "id_rsa")

	// Something comes in: still not applied, still not published.
	editLine(t, b, ".bashrc", 0, "# from beta")
	mustSync(t, b)
	a.WriteHome(".vimrc", "set nu\n")
	a.Run(a.Home, "chezmoi", "add", ".vimrc")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "# from beta")
	require.NoFileExists(t, filepath.Join(a.Home, "id_rsa"))
	require.NoFileExists(t, filepath.Join(a.Home, ".bashrc~"))
	require.Equal(t, "set nu\n", testharness.RemoteFile(t, remote, "main", "dot_vimrc"))
	all := a.Run(remote, "git", "log", "--all", "--name-only", "--format=")
	for name := range stray {
		require.NotContains(t, all, name)
	}
	mustSync(t, b)
	require.NoFileExists(t, filepath.Join(b.Home, "id_rsa"))
	require.NoFileExists(t, filepath.Join(b.Home, "notes"))
}

// F5: an edit committed offline, then `jj new main@origin` moves the
// working copy off it. Before, the next sync applied main's older file over
// the home edit and said "success: nothing to do". Now it is refused before
// anything changes (HOME keeps the edit), the next step brings the commit
// back and the sync publishes it; an abandoned commit (hidden) is not
// flagged.
func TestWorkingCopyMovedOffTheLastSyncIsRefused(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	editLine(t, a, ".bashrc", 0, "# offline edit")
	require.NoError(t, os.Rename(remote, remote+".away"))
	mustSync(t, a) // fetch-failed: committed locally
	require.NoError(t, os.Rename(remote+".away", remote))
	a.Run(a.SourceDir(), "jj", "new", "main@origin")
	home := homeFiles(t, a)

	syncCode(t, a, 11, "--dry-run")
	r := syncCode(t, a, 11)
	require.Contains(t, r.Stderr, "moved off this host's last synced commit")
	require.Equal(t, home, homeFiles(t, a), "the home edit was overwritten")
	rec := record(t, a)
	require.Contains(t, rec.NextStep, "jj rebase -b @ -d ")

	// The next step as printed.
	next := rec.NextStep[strings.Index(rec.NextStep, "jj rebase"):]
	next = next[:strings.Index(next, ", then")]
	a.Run(a.SourceDir(), "sh", "-c", next)
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "# offline edit")
	require.Contains(t, a.ReadHome(".bashrc"), "# offline edit")

	// Abandoning one's own last commit on purpose is not refused.
	editLine(t, a, ".bashrc", 1, "# second offline edit")
	require.NoError(t, os.Rename(remote, remote+".away"))
	mustSync(t, a)
	require.NoError(t, os.Rename(remote+".away", remote))
	a.Run(a.SourceDir(), "jj", "abandon", "@-")
	mustSync(t, a)
}

// F6(b): a NEW file whose real content holds a conflict-marker block is
// not published by the sync (it cannot tell it from a half-done merge):
// waiting (markers) with advice that deletes nothing. A file published with
// marker lines before is content: a home edit of it is captured and
// published, and a home edit adding a new marker block waits.
func TestMarkerLinesAsContent(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	demo := "# git demo\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n"
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_published": demo}))
	a := newHost(t, remote, "alpha")
	mustSync(t, a)

	a.WriteHome(".mergedemo", demo)
	a.Run(a.Home, "chezmoi", "add", ".mergedemo")
	r := mustSync(t, a)
	kinds := waitingKinds(t, a)
	require.Equal(t, "markers", kinds[filepath.Join(a.Home, ".mergedemo")], r.String())
	for _, w := range record(t, a).Waiting {
		require.NotContains(t, w.Next, "delete the")
	}
	_, published := gitShow(a, remote, "main", "dot_mergedemo")
	require.False(t, published, "a new file with a marker block was published")
	require.Equal(t, demo, a.ReadHome(".mergedemo"))

	a.WriteHome(".published", demo+"# more\n")
	r = mustSync(t, a)
	require.Equal(t, demo+"# more\n", testharness.RemoteFile(t, remote, "main", "dot_published"), r.String())

	a.WriteHome(".published", demo+"# more\n<<<<<<< Updated upstream\nx\n=======\ny\n>>>>>>> Stashed changes\n")
	mustSync(t, a)
	require.Equal(t, "markers", waitingKinds(t, a)[filepath.Join(a.Home, ".published")])
	require.Equal(t, demo+"# more\n", testharness.RemoteFile(t, remote, "main", "dot_published"))
}

// F9: a managed file replaced at home by a symlink (into a private file)
// or by a directory is not published (before: the deletion, then the link
// into this home went to every host): waiting (type-changed) with the two
// ways out; `chezmoi add` publishes the link on purpose.
func TestFileReplacedByLinkOrDirectoryWaits(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_profile": "a=1\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	profile := filepath.Join(b.Home, ".profile")
	require.NoError(t, os.MkdirAll(filepath.Join(b.Home, "private"), 0o700))
	b.WriteHome("private/profile", "a=1\nsecret=1\n")
	require.NoError(t, os.Remove(profile))
	require.NoError(t, os.Symlink(filepath.Join(b.Home, "private/profile"), profile))
	bashrc := filepath.Join(b.Home, ".bashrc")
	require.NoError(t, os.Remove(bashrc))
	require.NoError(t, os.Mkdir(bashrc, 0o755))
	main := remoteRef(t, b, remote, "refs/heads/main")

	dry := mustSync(t, b, "--dry-run")
	require.NotContains(t, dry.String(), "would push")
	for i := 0; i < 2; i++ {
		r := mustSync(t, b)
		kinds := waitingKinds(t, b)
		require.Equal(t, "type-changed", kinds[profile], r.String())
		require.Equal(t, "type-changed", kinds[bashrc], r.String())
	}
	require.Equal(t, main, remoteRef(t, b, remote, "refs/heads/main"), "the type change was published")
	st, err := os.Lstat(profile)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeSymlink, "the link at home was replaced")
	mustSync(t, a)
	st, err = os.Lstat(filepath.Join(a.Home, ".profile"))
	require.NoError(t, err)
	require.True(t, st.Mode().IsRegular())

	// Asked for: chezmoi add publishes the link.
	b.Run(b.Home, "chezmoi", "add", profile)
	mustSync(t, b)
	_, link := gitShow(b, remote, "main", "symlink_dot_profile")
	require.True(t, link)
}

// F15: the refusals happen before anything is captured or committed: a
// rewound or deleted remote branch with a home edit waiting, and a missing
// identity (also in the dry run). Before, the edit was captured and
// committed, then the run said "refused ... nothing was changed".
func TestRefusalsComeBeforeTheCapture(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	for _, state := range []string{"rewound", "deleted", "identity"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
			a := newHost(t, remote, "alpha")
			mustSync(t, a)
			base := a.Run(remote, "git", "rev-parse", "main")
			editLine(t, a, ".bashrc", 2, "alias ll='ls -l --published'")
			mustSync(t, a)
			switch state {
			case "rewound":
				a.Run(remote, "git", "update-ref", "refs/heads/main", base)
			case "deleted":
				a.Run(remote, "git", "update-ref", "-d", "refs/heads/main")
			case "identity":
				noJJ := filepath.Join(a.Root, "jj-no-user.toml")
				require.NoError(t, os.WriteFile(noJJ, []byte("[ui]\npaginate = \"never\"\n"), 0o600))
				a.Setenv("JJ_CONFIG", noJJ)
				noGit := filepath.Join(a.Root, "gitconfig-no-user")
				require.NoError(t, os.WriteFile(noGit, []byte("[protocol \"file\"]\n\tallow = always\n"), 0o600))
				a.Setenv("GIT_CONFIG_GLOBAL", noGit)
				for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "JJ_USER", "JJ_EMAIL"} {
					a.Setenv(k, "")
				}
			}
			editLine(t, a, ".bashrc", 3, "# edited while the remote is "+state)
			head := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
			syncCode(t, a, 11, "--dry-run")
			r := syncCode(t, a, 11)
			rec := record(t, a)
			require.Empty(t, rec.Captured, r.String())
			require.Empty(t, rec.Committed, r.String())
			require.NotContains(t, r.String(), "captured")
			require.Equal(t, head, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"), "a refused run committed")
			require.NotContains(t, a.ReadSource("dot_bashrc"), "# edited while", "the edit was captured")
			require.Contains(t, a.ReadHome(".bashrc"), "# edited while the remote is "+state)
		})
	}
}

// F18 (and F11): a stale .git/index.lock (a killed git) is named with the
// next step, by the dry run and the real run alike, before anything is
// captured; before, the real run captured, then failed on jj's cut-off
// "Failed to reset Git HEAD state Caused by:".
func TestStaleIndexLockIsNamed(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	editLine(t, a, ".bashrc", 0, "# edited")
	lock := filepath.Join(a.SourceDir(), ".git", "index.lock")
	require.NoError(t, os.WriteFile(lock, nil, 0o644))
	dry := syncCode(t, a, 11, "--dry-run")
	r := syncCode(t, a, 11)
	require.Equal(t, firstLine(dry.Stderr), firstLine(r.Stderr))
	require.Contains(t, r.Stderr, "index.lock")
	rec := record(t, a)
	require.Contains(t, rec.NextStep, "rm "+lock)
	require.Empty(t, rec.Captured)
	require.NoError(t, os.Remove(lock))
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "# edited")
}

// F11: with a conflict parked, the dry run predicts the park (merge of the
// two heads in a throw-away object directory): exit 5 like the real run,
// not "would rebase, would push"; and it writes nothing.
func TestDryRunPredictsTheParkAgain(t *testing.T) {
	t.Parallel()
	remote, _, b, _ := parkedTwice(t, "beta")
	before := everything(t, b, remote)
	dry := syncCode(t, b, 5, "--dry-run")
	require.Contains(t, dry.String(), "would park on sync/beta")
	require.NotContains(t, dry.String(), "would push")
	require.Equal(t, before, everything(t, b, remote), "the dry run changed something")
	syncCode(t, b, 5)
}

// F10: a push of sync/<host> killed after the remote took it and before jj
// recorded it leaves sync/<host>@origin untracked on this host's own
// commits, which jj then treats as immutable: every sync failed with
// "Commit X is immutable". Simulated with jj bookmark untrack: the next
// sync tracks it again, parks as before, and the recipe works.
func TestUntrackedOwnParkIsTrackedAgain(t *testing.T) {
	t.Parallel()
	remote, _, b, _ := parkedTwice(t, "beta")
	b.Run(b.SourceDir(), "jj", "bookmark", "untrack", "sync/beta@origin")
	dry := syncCode(t, b, 5, "--dry-run")
	require.Contains(t, dry.String(), "track sync/beta@origin again")
	r := syncCode(t, b, 5)
	require.Contains(t, r.String(), "tracked again")
	require.NotContains(t, r.String(), "immutable")
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
	writeSource(t, b, "dot_bashrc", "# resolved\n")
	mustSync(t, b, "--continue")
	require.Equal(t, "# resolved\n", testharness.RemoteFile(t, remote, "main", "dot_bashrc"))
}

// F16: two machines with the same host name: the second one's park cannot
// be pushed (the remote's sync/<host> is the other machine's). The step
// line and a warning say so and how to fix it, instead of blaming the
// network; the other machine's bookmark is never tracked or moved.
func TestSameHostNameOnTwoMachinesIsNamed(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b, c := newHost(t, remote, "alpha"), newHost(t, remote, "beta"), newHost(t, remote, "gamma")
	for _, h := range []*testharness.Host{a, b, c} {
		mustSync(t, h)
	}
	b.Setenv("CHEZMOI_SYNC_HOSTNAME", "nixos")
	c.Setenv("CHEZMOI_SYNC_HOSTNAME", "nixos")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lb'")
	syncCode(t, b, 5)
	parkB := remoteRef(t, b, remote, "refs/heads/sync/nixos")
	require.NotEmpty(t, parkB)
	editLine(t, c, ".bashrc", 2, "alias ll='ls -lc'")
	r := syncCode(t, c, 5)
	require.NotContains(t, r.String(), "unreachable")
	require.Contains(t, r.String(), "same host name")
	require.Contains(t, r.String(), "--hostname")
	require.Equal(t, parkB, remoteRef(t, b, remote, "refs/heads/sync/nixos"), "the other machine's park was moved")
}

// F13: an edited target of a .chezmoiexternal entry cannot be captured:
// it waits (kind external) on every run, with advice that works (not
// chezmoi re-add, which does nothing for it), instead of "success".
func TestEditedExternalTargetWaits(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	payload := filepath.Join(t.TempDir(), "tool.toml")
	require.NoError(t, os.WriteFile(payload, []byte("upstream = 1\n"), 0o644))
	remote := testharness.NewRemote(t, dotfiles(map[string]string{
		".chezmoiexternal.toml": "[\".config/tool/tool.toml\"]\n  type = \"file\"\n  url = \"file://" + payload + "\"\n",
	}))
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	target := filepath.Join(a.Home, ".config/tool/tool.toml")
	require.Equal(t, "upstream = 1\n", a.ReadHome(".config/tool/tool.toml"))
	a.WriteHome(".config/tool/tool.toml", "upstream = 1\nmine = 1\n")
	for i := 0; i < 2; i++ {
		r := mustSync(t, a)
		require.Equal(t, syncstate.EditsWaiting, record(t, a).Status, r.String())
		require.Equal(t, "external", waitingKinds(t, a)[target])
		require.NotContains(t, r.String(), "re-add "+target)
	}
	require.Contains(t, a.ReadHome(".config/tool/tool.toml"), "mine = 1")
}

// attack 1, LOW 15: a --state-dir inside the chezmoi source directory is
// refused (exit 2) before anything is captured: its record and backups
// would be snapshotted and published.
func TestStateDirInsideSourceDirIsRefused(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	editLine(t, a, ".bashrc", 0, "# edited")
	main := remoteRef(t, a, remote, "refs/heads/main")
	r := syncCode(t, a, 2, "--state-dir", filepath.Join(a.SourceDir(), "state"))
	require.Contains(t, r.Stderr, "inside the chezmoi source directory")
	require.Equal(t, main, remoteRef(t, a, remote, "refs/heads/main"))
	all := a.Run(remote, "git", "log", "--all", "--name-only", "--format=")
	require.NotContains(t, all, "state/")
}

// attack 2 (cosmetic): a dry run on a fresh host creates no state
// directory (before, ~/.local/state/nixdots appeared with a lock file).
func TestDryRunOnFreshHostCreatesNoStateDir(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	require.NoDirExists(t, a.StateDir())
	r := mustSync(t, a, "--dry-run")
	require.NotContains(t, r.String(), "(nothing was changed) (nothing was changed)")
	require.NoDirExists(t, a.StateDir())
	mustSync(t, a)
	require.DirExists(t, a.StateDir())
}

// attack 2 (cosmetic): taking the remote's side of every conflict leaves
// nothing to commit; the working copy must not keep the fold's "resolve
// conflicts" subject, which the next ordinary commit would get.
func TestTakeRemoteEverywhereLeavesNoResolveSubject(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	syncCode(t, b, 5)
	mustSync(t, b, "--take-remote")
	require.Empty(t, jjOut(b, "log", "--no-graph", "-r", "@", "-T", "description"))
	editLine(t, b, ".bashrc", 0, "# later")
	mustSync(t, b)
	require.Contains(t, b.Run(remote, "git", "log", "-1", "--format=%s", "main"), "chore(beta): sync dotfiles")
}

// With the fetch now before the capture: resolving needs no network. A
// --take-remote with the remote unreachable resolves against the remote
// branch as last fetched (fetch-failed, exit 0); the next run publishes.
func TestResolveOfflineStillResolves(t *testing.T) {
	t.Parallel()
	remote, _, b, _ := parkedTwice(t, "beta")
	require.NoError(t, os.Rename(remote, remote+".away"))
	r := mustSync(t, b, "--take-remote")
	require.Equal(t, syncstate.FetchFailed, record(t, b).Status, r.String())
	require.False(t, hasConflictMarkers(b.ReadSource("dot_bashrc")), r.String())
	require.NoError(t, os.Rename(remote+".away", remote))
	mustSync(t, b)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -la")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
}
