package chezmoisync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// Repository and remote states the sync does not understand are refused
// with exit 10 (state refused) and nothing changed; each scenario with the
// real tools (docs/chezmoi-sync.md, "Refusals").

// everything is what a refusal must leave alone: the repository (work
// tree, .git and .jj), HOME and the remote.
func everything(t testing.TB, h *testharness.Host, remote string) string {
	t.Helper()
	return treeHash(t, h.SourceDir()) + "\n" + homeFiles(t, h) + "\n" + treeHash(t, remote)
}

// conflictingGitCommits leaves two git branches in alpha's source
// directory that change the same line of dot_bashrc: "ours" checked out.
func conflictingGitCommits(t *testing.T, h *testharness.Host) {
	t.Helper()
	src := h.SourceDir()
	h.Run(src, "git", "checkout", "-q", "-b", "theirs")
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=theirs\nalias ll='ls -l'\n"), 0o644))
	h.Run(src, "git", "commit", "-qam", "theirs")
	h.Run(src, "git", "checkout", "-q", "-b", "ours", "HEAD~1")
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=ours\nalias ll='ls -l'\n"), 0o644))
	h.Run(src, "git", "commit", "-qam", "ours")
}

// A git operation stopped half-way in the source directory (its conflict
// markers are in the files): refused before any jj command could snapshot
// them; after finishing it, the next sync works. Before, the markers were
// committed, pushed and applied on every host.
func TestGitOperationInProgressIsRefused(t *testing.T) {
	for name, start := range map[string][]string{
		"rebase":      {"rebase", "theirs"},
		"merge":       {"merge", "theirs"},
		"cherry-pick": {"cherry-pick", "theirs"},
		"revert":      {"revert", "--no-edit", "HEAD"},
		"bisect":      {"bisect", "start"},
		"am":          {"am"}, // the patch file is added below
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testharness.RequireSync(t)
			remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
			a := newHost(t, remote, "alpha")
			mustSync(t, a)
			conflictingGitCommits(t, a)
			if name == "revert" {
				// A revert that conflicts: change the line again first.
				require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=again\nalias ll='ls -l'\n"), 0o644))
				a.Run(a.SourceDir(), "git", "commit", "-qam", "again")
				start = []string{"revert", "--no-edit", "HEAD~1"}
			}
			if name == "am" {
				patch := filepath.Join(a.Root, "theirs.patch")
				require.NoError(t, os.WriteFile(patch, []byte(a.Run(a.SourceDir(), "git", "format-patch", "-1", "theirs", "--stdout")+"\n"), 0o644))
				start = []string{"am", patch}
			}
			r := a.Exec(a.SourceDir(), "git", start...)
			require.NotEqual(t, 0, r.Code+boolCode(name == "bisect"), "%s did not stop: %s", name, r)
			editLine(t, a, ".gitconfig", 1, "\tpager = cat")
			before := everything(t, a, remote)

			r = syncCode(t, a, 11)
			require.Contains(t, r.Stderr, "in progress")
			require.Equal(t, syncstate.Refused, record(t, a).Status)
			require.Contains(t, record(t, a).NextStep, "git ")
			if name == "am" {
				require.Contains(t, record(t, a).NextStep, "git am --continue", "an am is told to use git rebase")
			}
			require.Equal(t, before, everything(t, a, remote), "a refused run changed something")
			require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "<<<<<<<")
		})
	}
}

func boolCode(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Conflict markers jj does not record as a conflict (a hand merge, git):
// refused; a home file holding markers is never captured.
func TestStrayConflictMarkersAreRefused(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	marked := "# bashrc\n<<<<<<< HEAD\nexport EDITOR=vi\n=======\nexport EDITOR=nano\n>>>>>>> other\n"
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_bashrc"), []byte(marked), 0o644))
	head := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	home := homeFiles(t, a)
	r := syncCode(t, a, 11)
	require.Contains(t, r.Stderr, "conflict markers in dot_bashrc")
	require.Equal(t, head, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"), "a commit was made")
	require.Equal(t, home, homeFiles(t, a))
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "<<<<<<<")

	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -l'\n"), 0o644))
	a.WriteHome(".gitconfig", "[core]\n<<<<<<< mine\n\tpager = a\n=======\n\tpager = b\n>>>>>>> theirs\n")
	r = mustSync(t, a)
	require.Equal(t, "markers", waitingKinds(t, a)[filepath.Join(a.Home, ".gitconfig")], r.String())
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "<<<<<<<")
}

// An index or working copy that cannot be read is refused, nothing changed.
func TestUnreadableRepositoryIsRefused(t *testing.T) {
	for name, path := range map[string]string{"git index": ".git/index", "jj working copy": ".jj/working_copy/tree_state"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testharness.RequireSync(t)
			remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
			a := newHost(t, remote, "alpha")
			mustSync(t, a)
			require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), path), []byte("garbage"), 0o644))
			editLine(t, a, ".bashrc", 2, "alias ll='ls -l --unreadable'")
			before := everything(t, a, remote)
			r := syncCode(t, a, 11)
			require.Equal(t, syncstate.Refused, record(t, a).Status, r.String())
			require.Equal(t, before, everything(t, a, remote), "a refused run changed something")
		})
	}
}

// The first colocation of a plain git clone commits changes to tracked
// files only: a secret-looking file git does not track is listed, left out
// of the history, and never reaches the remote, in that run or later ones.
// A file added with chezmoi afterwards is tracked and published.
func TestFirstColocationCommitsTrackedFilesOnly(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "aws_credentials"), []byte("aws_secret_access_key = AKIA-NOT-REAL\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".env"), []byte("TOKEN=also-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_gitconfig"), []byte("[core]\n\tpager = tracked-change\n"), 0o644))
	r := mustSync(t, a)
	rec := record(t, a)
	require.ElementsMatch(t, []string{".env", "aws_credentials"}, rec.Untracked, r.String())
	require.Contains(t, r.Stderr, "aws_credentials")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "tracked-change")
	for i := 0; i < 2; i++ {
		editLine(t, a, ".bashrc", 0, "# run "+string(rune('0'+i)))
		mustSync(t, a)
	}
	all := a.Run(remote, "git", "log", "--all", "--name-only", "--format=")
	require.NotContains(t, all, "aws_credentials", "the secret reached the remote")
	require.NotContains(t, all, ".env")
	require.NotContains(t, jjOut(a, "file", "list"), "aws_credentials")

	a.WriteHome(".newrc", "new\n")
	a.Run("", "chezmoi", "add", filepath.Join(a.Home, ".newrc"))
	mustSync(t, a)
	require.Equal(t, "new\n", testharness.RemoteFile(t, remote, "main", "dot_newrc"))
	require.NotContains(t, a.Run(remote, "git", "log", "--all", "--name-only", "--format="), "aws_credentials")
}

// Without a jj identity the commits take git's user.name/user.email;
// without either the run stops before committing and says how to set it.
// Commits made without an author earlier get one, and are pushed.
func TestIdentity(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	noJJ := filepath.Join(a.Root, "jj-no-user.toml")
	require.NoError(t, os.WriteFile(noJJ, []byte("[ui]\npaginate = \"never\"\n"), 0o600))
	a.Setenv("JJ_CONFIG", noJJ)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --git-identity'")
	mustSync(t, a)
	require.Equal(t, "alpha <alpha@example.test>", a.Run(remote, "git", "log", "-1", "--format=%an <%ae>", "main"))

	noGit := filepath.Join(a.Root, "gitconfig-no-user")
	require.NoError(t, os.WriteFile(noGit, []byte("[protocol \"file\"]\n\tallow = always\n"), 0o600))
	a.Setenv("GIT_CONFIG_GLOBAL", noGit)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --nobody'")
	head := a.Run(remote, "git", "rev-parse", "main")
	local := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	r := syncCode(t, a, 11)
	require.Contains(t, r.Stdout+r.Stderr, "jj config set --user user.name")
	require.Equal(t, local, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"), "a commit was made without an identity")
	require.Equal(t, head, a.Run(remote, "git", "rev-parse", "main"))

	// An authorless commit made by hand meanwhile; then jj is configured.
	a.Run(a.SourceDir(), "jj", "commit", "-m", "made without an identity")
	a.Setenv("JJ_CONFIG", filepath.Join(a.Root, "jjconfig.toml"))
	mustSync(t, a)
	log := a.Run(remote, "git", "log", "--format=%an|%ce|%s", "main")
	require.Contains(t, log, "alpha|alpha@example.test|made without an identity")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--nobody")
}

// The remote's branch rewound by a force-push: the host's published edit
// is not erased from HOME. The run stops, names the dropped commit and
// changes nothing; --accept-rewind takes the remote as it is, keeping the
// dropped commit on a local bookmark.
func TestRewoundRemoteIsRefusedUntilAccepted(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	base := a.Run(remote, "git", "rev-parse", "main")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --published'")
	mustSync(t, a)
	published := a.Run(remote, "git", "rev-parse", "main")
	a.Run(remote, "git", "update-ref", "refs/heads/main", base)

	for i := 0; i < 2; i++ {
		before := homeFiles(t, a)
		r := syncCode(t, a, 11)
		rec := record(t, a)
		require.Equal(t, syncstate.Refused, rec.Status)
		require.Contains(t, rec.Error, "rewound")
		require.Equal(t, []string{published}, rec.Dropped, r.String())
		require.Contains(t, rec.NextStep, "--accept-rewind")
		require.Equal(t, before, homeFiles(t, a))
		require.Contains(t, a.ReadHome(".bashrc"), "--published")
		require.Equal(t, base, a.Run(remote, "git", "rev-parse", "main"), "the refused run pushed")
	}
	r := syncCode(t, a, 0, "--dry-run", "--accept-rewind")
	require.Contains(t, r.Stdout, "would rewind")
	require.NotContains(t, r.Stdout, "would push")
	require.Contains(t, a.ReadHome(".bashrc"), "--published")

	// An earlier accepted rewind under every name this run can start at
	// (two runs in one second): its bookmarks must stay where they are.
	now := time.Now().UTC()
	earlier := []string{"bookmark", "create", "-r", base}
	for s := -2; s <= 60; s++ {
		earlier = append(earlier, "rewound/alpha/"+now.Add(time.Duration(s)*time.Second).Format("20060102T150405Z"))
	}
	jjOut(a, earlier...)

	r = mustSync(t, a, "--accept-rewind")
	require.NotContains(t, a.ReadHome(".bashrc"), "--published", r.String())
	for _, name := range earlier[4:] {
		require.Equal(t, base, strings.TrimSpace(jjOut(a, "log", "--no-graph", "-r", name, "-T", "commit_id")), "an earlier rewound bookmark was moved")
	}
	require.Contains(t, jjOut(a, "file", "show", "-r", "bookmarks(glob:\"rewound/*\") ~ "+base, "dot_bashrc"), "--published", "the dropped commit is not kept")
	mustSync(t, a)
	require.Equal(t, syncstate.Success, record(t, a).Status)
}

// The remote's branch deleted: nothing local is damaged (before, jj
// abandoned the commits and emptied the source directory); the next run
// after it is restored works and publishes what waited.
func TestDeletedRemoteBranch(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	head := a.Run(remote, "git", "rev-parse", "main")
	a.Run(remote, "git", "update-ref", "-d", "refs/heads/main")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --while-deleted'")
	r := syncCode(t, a, 11)
	require.Contains(t, record(t, a).Error, "deleted", r.String())
	// Refused before the capture (attack 2, F15): the edit waits at home.
	require.NotContains(t, a.ReadSource("dot_bashrc"), "--while-deleted", "a refused run captured the edit")
	require.Contains(t, a.ReadSource("dot_gitconfig"), "pager", "the source directory was emptied")
	require.Contains(t, a.ReadHome(".bashrc"), "--while-deleted")
	require.Contains(t, a.ReadHome(".gitconfig"), "pager")

	a.Run(remote, "git", "update-ref", "refs/heads/main", head)
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--while-deleted")
}

// origin pointed at a repository with no common history: refused, its
// files never applied (before, they replaced the dotfiles in HOME).
func TestUnrelatedRemoteIsRefused(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	other := testharness.NewRemote(t, map[string]string{"dot_bashrc": "# somebody else's\n", "dot_evil": "x\n"})
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	a.Run(a.SourceDir(), "git", "remote", "set-url", "origin", other)
	home := homeFiles(t, a)
	r := syncCode(t, a, 11)
	require.Contains(t, record(t, a).Error, "shares no history", r.String())
	require.Equal(t, home, homeFiles(t, a))
	require.NoFileExists(t, filepath.Join(a.Home, ".evil"))
	require.Equal(t, "# somebody else's\n", testharness.RemoteFile(t, other, "main", "dot_bashrc"), "the foreign remote was pushed to")
}

// machineWithBashrc is a machine about to sync for the first time: the
// dotfiles cloned, a ~/.bashrc of its own that chezmoi never wrote.
func machineWithBashrc(t *testing.T) (remote string, h *testharness.Host) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, testharness.DefaultDotfiles())
	h = testharness.NewHost(t, "fresh").WithBinaries()
	h.WriteHome(".bashrc", "# the distribution's bashrc\n")
	require.NoError(t, os.MkdirAll(filepath.Dir(h.SourceDir()), 0o755))
	h.Run("", "git", "clone", "-q", remote, h.SourceDir())
	return remote, h
}

// First run on a machine: a home file that differs from what apply writes
// and that chezmoi never wrote is copied to the state directory first, and
// named in the output and the record.
func TestFirstRunBacksUpExistingFiles(t *testing.T) {
	t.Parallel()
	remote, h := machineWithBashrc(t)
	r := mustSync(t, h)
	rec := record(t, h)
	require.Len(t, rec.Backups, 1, r.String())
	require.Equal(t, filepath.Join(h.Home, ".bashrc"), rec.Backups[0].Path)
	data, err := os.ReadFile(rec.Backups[0].Copy)
	require.NoError(t, err)
	require.Equal(t, "# the distribution's bashrc\n", string(data))
	require.True(t, strings.HasPrefix(rec.Backups[0].Copy, h.StateDir()), rec.Backups[0].Copy)
	require.Contains(t, h.ReadHome(".bashrc"), "alias ll='ls -l'")
	require.Contains(t, r.Stdout, "1 backed up")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "alias ll='ls -l'", "the machine's file was published")
}

// Two runs that start within one second (an undo and the sync after it,
// in a script) each get their own backup directory: the second never
// fails on, or writes into, the first's copies. Before, the directory was
// named by the second alone and the second run failed "file exists".
func TestBackupsOfRunsInOneSecondNeverCollide(t *testing.T) {
	t.Parallel()
	_, h := machineWithBashrc(t)
	// An earlier run's copies under every name this run can start at.
	const earlier = "# an earlier run's copy\n"
	now := time.Now().UTC()
	var taken []string
	for s := -2; s <= 60; s++ {
		dir := filepath.Join(h.StateDir(), "backups", now.Add(time.Duration(s)*time.Second).Format("20060102T150405Z"))
		require.NoError(t, os.MkdirAll(dir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, ".bashrc"), []byte(earlier), 0o600))
		taken = append(taken, filepath.Join(dir, ".bashrc"))
	}
	require.NoError(t, os.Chmod(h.StateDir(), 0o700))
	r := mustSync(t, h)
	rec := record(t, h)
	require.Len(t, rec.Backups, 1, r.String())
	require.NotContains(t, taken, rec.Backups[0].Copy)
	data, err := os.ReadFile(rec.Backups[0].Copy)
	require.NoError(t, err)
	require.Equal(t, "# the distribution's bashrc\n", string(data))
	for _, p := range taken {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, earlier, string(data), "an earlier run's copy was overwritten")
	}
}

// parkedTwice: alpha and beta edit the same line; beta's sync parks, beta
// edits another file (second) and parks again. It returns the second
// park's run.
func parkedTwice(t *testing.T, second string) (remote string, a, b *testharness.Host, r testharness.Result) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b = newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	syncCode(t, b, 5)
	b.WriteHome(".gitconfig", "[core]\n\tpager = "+second+"\n")
	return remote, a, b, syncCode(t, b, 5)
}

// Parked twice, then the printed recipe: every edit of both parked runs,
// and the edits made while parked, end up in main and in HOME; the parked
// bookmark is gone. Before, the later edits vanished from HOME and main.
func TestParkedTwiceThenRecipe(t *testing.T) {
	t.Parallel()
	remote, a, b, r := parkedTwice(t, "parked-twice")
	require.Contains(t, r.Stdout, "jj rebase -b @ -d main@origin")
	editLine(t, b, ".config/app/config.toml", 1, "font = 13")

	src := b.SourceDir()
	b.Run(src, "jj", "rebase", "-b", "@", "-d", "main@origin")
	require.True(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
	syncCode(t, b, 5) // markers left: refused, nothing changed
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -lah'\n"), 0o644))
	r = mustSync(t, b)
	require.Equal(t, syncstate.Success, record(t, b).Status, r.String())
	for file, edit := range map[string]string{"dot_bashrc": "ls -lah", "dot_gitconfig": "parked-twice", "dot_config/app/config.toml": "font = 13"} {
		require.Contains(t, testharness.RemoteFile(t, remote, "main", file), edit, "%s lost from main", file)
	}
	require.Contains(t, b.ReadHome(".bashrc"), "ls -lah")
	require.Contains(t, b.ReadHome(".gitconfig"), "parked-twice")
	require.Contains(t, b.ReadHome(".config/app/config.toml"), "font = 13")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".gitconfig"), "parked-twice")
	require.Contains(t, a.ReadHome(".config/app/config.toml"), "font = 13")
	for _, h := range []*testharness.Host{a, b} {
		for _, f := range []string{".bashrc", ".gitconfig", ".config/app/config.toml"} {
			require.False(t, hasConflictMarkers(h.ReadHome(f)), "%s: markers in %s", h.Name, f)
		}
	}
}

// The old recipe (jj new on the first conflicted commit, resolve, squash)
// leaves the later parked commits outside the working copy's history:
// publishing then dropped them from main and HOME. Refused (exit 5,
// nothing changed); the next step brings them back, and nothing is lost.
func TestParkedCommitsOutsideTheWorkingCopyAreRefused(t *testing.T) {
	t.Parallel()
	remote, _, b, _ := parkedTwice(t, "second-park")
	src := b.SourceDir()
	b.Run(src, "jj", "rebase", "-b", "sync/beta", "-d", "main@origin")
	first := strings.TrimSpace(jjOut(b, "log", "--no-graph", "-r", "roots(conflicts() & (main@origin..sync/beta))", "-T", "change_id"))
	b.Run(src, "jj", "new", first)
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -lah'\n"), 0o644))
	b.Run(src, "jj", "squash")
	before := everything(t, b, remote)
	r := syncCode(t, b, 5)
	require.Contains(t, r.Stderr, "not under the working copy")
	require.Contains(t, record(t, b).NextStep, "jj rebase -b @ -d sync/beta")
	require.Equal(t, before, everything(t, b, remote), "a refused run changed something")

	b.Run(src, "jj", "rebase", "-b", "@", "-d", "sync/beta")
	mustSync(t, b)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "second-park")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lah")
	require.Contains(t, b.ReadHome(".gitconfig"), "second-park")
}
