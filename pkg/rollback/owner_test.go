package rollback_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

// userSide is the fixture's repository handed to a real unprivileged user
// (moved into a directory of theirs and chowned, as if they had cloned it),
// with the user's own state directory holding the history that names it:
// the NixOS module's layout, where root's rebuild-rollback reads the
// user's history through --read-state-dir.
type userSide struct {
	u     *testuser.User
	dir   string // the user's 0700 directory
	repo  string
	state string
}

func handToUser(t *testing.T, f *fixture) *userSide {
	t.Helper()
	u := testuser.New(t)
	s := &userSide{u: u, dir: u.Dir(t)}
	s.repo = filepath.Join(s.dir, "nix-config")
	s.state = filepath.Join(s.dir, "state")
	require.NoError(t, os.Rename(f.repo, s.repo))
	require.NoError(t, os.Mkdir(s.state, 0o700))
	writeUserHistory(t, f, s.state, s.repo)
	// Root's own history is empty: the user's names the repository.
	require.NoError(t, os.Remove(filepath.Join(f.h.StateDir(), history.FileName)))
	chownR(t, s.dir, u.UID, u.GID)
	f.repo = s.repo
	return s
}

// writeUserHistory writes the fixture's builds into state's history, each
// naming flake as its repository (chown it afterwards).
func writeUserHistory(t *testing.T, f *fixture, state, flake string) {
	t.Helper()
	var lines []string
	for _, e := range f.history() {
		e.Flake = flake
		data, err := json.Marshal(e)
		require.NoError(t, err)
		lines = append(lines, string(data))
	}
	require.NoError(t, os.WriteFile(filepath.Join(state, history.FileName), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
}

// runAsUser runs the built rebuild-rollback as u in dir (the user reaches
// the system git, not the test's tools, which are under root's home).
func runAsUser(t *testing.T, u *testuser.User, f *fixture, dir string, args ...string) (string, error) {
	t.Helper()
	bin := testuser.Binaries(t)
	cmd := u.Command([]string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir, "NIXDOTS_SYSTEM_ROOT=" + f.root},
		dir, filepath.Join(bin, "rebuild-rollback"), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func chownR(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}))
}

// rootOwned lists what under dir is not owned by uid.
func notOwnedBy(t *testing.T, dir string, uid int) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if int(info.Sys().(*syscall.Stat_t).Uid) != uid {
			out = append(out, p)
		}
		return nil
	}))
	return out
}

// H3: root's rebuild-rollback never moves a user's repository (git or jj):
// the repository step is refused before git or jj runs there, with the
// command to run as the owner; nothing changes — no file of the
// repository becomes root's, the system is not switched. The user running
// that command moves it, every file still theirs.
func TestRootNeverMovesAUsersRepository(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	for _, kind := range []string{"git", "jj"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, 3)
			f.write("hosts/alpha.nix", "the user's uncommitted work\n")
			s := handToUser(t, f)
			before := testuser.Snapshot(t, s.dir)
			read := []string{"--read-state-dir", s.state}

			for _, tc := range []struct {
				args []string
				want string
			}{
				{[]string{"--repo-only"}, "run `rebuild-rollback --repo-only --to 2` as " + s.u.Name + "\n"},
				{nil, "run `rebuild-rollback --repo-only --to 2` as " + s.u.Name + ", and --system-only here to switch the system alone"},
				{[]string{"--dry-run"}, "run `rebuild-rollback --repo-only --to 2` as " + s.u.Name},
				{[]string{"--with-dotfiles"}, "run `rebuild-rollback --repo-only --to 2 --with-dotfiles` as " + s.u.Name},
				{[]string{"--to", "1"}, "run `rebuild-rollback --repo-only --to 1` as " + s.u.Name},
				{[]string{"--to-commit", f.commits[0], "--repo-only"}, "run `rebuild-rollback --repo-only --to 1` as " + s.u.Name},
			} {
				r := f.h.Exec("/", "rebuild-rollback", append(append([]string{}, read...), tc.args...)...)
				require.Equal(t, 2, r.Code, "%v: %s", tc.args, r)
				require.Contains(t, r.Stderr, "the repository "+s.repo+" belongs to "+s.u.Name+", not to root", tc.args)
				require.Contains(t, r.Stderr, tc.want, tc.args)
				require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
				require.Empty(t, notOwnedBy(t, s.dir, s.u.UID), "%v left files of root's in the user's repository", tc.args)
				require.Equal(t, before, testuser.Snapshot(t, s.dir), "%v changed the user's files", tc.args)
				f.requireAt(3)
				require.Empty(t, f.calls(), "%v switched the system", tc.args)
			}
			// A target that does not exist is said first; a revision only
			// the repository could resolve is not resolved there.
			r := f.h.Exec("/", "rebuild-rollback", append(read, "--to", "99")...)
			require.Equal(t, 2, r.Code, r.String())
			require.Contains(t, r.Stderr, "unknown generation 99")
			r = f.h.Exec("/", "rebuild-rollback", append(read, "--to-commit", "HEAD~1")...)
			require.Equal(t, 2, r.Code, r.String())
			require.Contains(t, r.Stderr, "run `rebuild-rollback --repo-only --to-commit HEAD~1` as "+s.u.Name)
			r = f.h.Exec("/", "rebuild-rollback", append(read, "--system-only", "--to-commit", "HEAD~1")...)
			require.Equal(t, 2, r.Code, r.String())
			require.Contains(t, r.Stderr, "another user's repository is not read to resolve --to-commit: give the commit id --list shows")
			r = f.h.Exec("/", "rebuild-rollback", append(read, "--system-only", "--to-commit", f.commits[0][:12], "--dry-run")...)
			require.Equal(t, 0, r.Code, r.String())
			require.Contains(t, r.Stdout, "back to generation 1, commit "+f.commits[0][:12])
			require.Empty(t, notOwnedBy(t, s.dir, s.u.UID))
			require.Equal(t, before, testuser.Snapshot(t, s.dir))

			// --system-only leaves the repository alone, so root may.
			r = f.h.Exec("/", "rebuild-rollback", append(read, "--system-only")...)
			require.Equal(t, 0, r.Code, r.String())
			f.requireAt(2)
			require.Equal(t, before, testuser.Snapshot(t, s.dir))

			if kind == "jj" {
				return // jj is installed where only root reaches it
			}
			// The command the refusal names, run by the user, works.
			out, err := runAsUser(t, s.u, f, s.repo, "--state-dir", s.state, "--repo-only", "--to", "2")
			require.NoError(t, err, "%s", out)
			require.Contains(t, out, "Moved "+s.repo+" to "+f.commits[1][:12])
			require.Equal(t, f.trees[1], f.files())
			require.Empty(t, notOwnedBy(t, s.dir, s.u.UID))
			head, err := exec.Command("git", "-c", "safe.directory=*", "-C", s.repo, "rev-parse", "HEAD").Output()
			require.NoError(t, err)
			require.Equal(t, f.commits[1], strings.TrimSpace(string(head)))
			branch := regexp.MustCompile(`in branch (rollback/\S+);`).FindStringSubmatch(out)
			require.NotNil(t, branch, "%s", out)
			saved, err := exec.Command("git", "-c", "safe.directory=*", "-C", s.repo, "show", branch[1]+":hosts/alpha.nix").Output()
			require.NoError(t, err)
			require.Equal(t, "the user's uncommitted work\n", string(saved))
		})
	}
}

// H3, forged records: a user's history chooses the repository a rollback
// moves, so root never moves, on a user's word, a repository that user
// does not own; and no run moves a repository whose parts belong to
// different users (a .git that is a link to someone else's, a worktree or
// jj workspace of someone else's repository): whoever runs git or jj there
// writes into the other user's files.
func TestForgedRepositoryIsNotMoved(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	f := newFixture(t, "git", 3)
	u := testuser.New(t)
	dir := u.Dir(t)
	state := filepath.Join(dir, "state")
	require.NoError(t, os.Mkdir(state, 0o700))
	rootRepo := f.repo // root's own repository

	// The user's history names root's repository.
	writeUserHistory(t, f, state, rootRepo)
	chownR(t, dir, u.UID, u.GID)
	rootHist := filepath.Join(f.h.StateDir(), history.FileName)
	saved, err := os.ReadFile(rootHist)
	require.NoError(t, err)
	require.NoError(t, os.Remove(rootHist))
	rootBefore := f.snapshot()
	r := f.h.Exec("/", "rebuild-rollback", "--read-state-dir", state, "--repo-only")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "the repository "+rootRepo+" is named by the rebuild history "+filepath.Join(state, history.FileName)+" of "+u.Name+", who does not own it")
	require.Contains(t, r.Stderr, "pass --flake "+rootRepo)
	require.Equal(t, rootBefore, f.snapshot())
	// Named by root itself, it moves.
	r = f.h.Exec("/", "rebuild-rollback", "--read-state-dir", state, "--repo-only", "--flake", rootRepo, "--dry-run")
	require.Equal(t, 0, r.Code, r.String())
	require.NoError(t, os.WriteFile(rootHist, saved, 0o600))
	rootBefore = f.snapshot()

	// A directory of the user's whose .git is a link to root's .git.
	linked := filepath.Join(dir, "linked")
	require.NoError(t, os.Mkdir(linked, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(rootRepo, ".git"), filepath.Join(linked, ".git")))
	chownR(t, dir, u.UID, u.GID)
	// A worktree of the user's repository that root owns (git's gitdir
	// file points into the user's .git).
	userRepo := filepath.Join(dir, "repo")
	f.h.Run("", "git", "clone", "-q", rootRepo, userRepo)
	wt := filepath.Join(f.h.Root, "worktree")
	f.h.Run(userRepo, "git", "worktree", "add", "-q", "--detach", wt, "HEAD")
	chownR(t, dir, u.UID, u.GID)
	// A jj "workspace" of root's whose repository is the user's.
	ws := filepath.Join(f.h.Root, "workspace")
	require.NoError(t, os.MkdirAll(filepath.Join(ws, ".jj", "working_copy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, ".jj", "repo"), []byte(filepath.Join(dir, "jjrepo", ".jj", "repo")), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "jjrepo", ".jj", "repo", "store"), 0o755))
	chownR(t, dir, u.UID, u.GID)

	userBefore := testuser.Snapshot(t, dir)
	for _, flake := range []string{linked, wt, ws} {
		for _, args := range [][]string{{"--repo-only", "--flake", flake}, {"--repo-only", "--flake", flake, "--dry-run"}, {"--flake", flake}} {
			r := f.run(args...)
			require.Equal(t, 2, r.Code, "%v: %s", args, r)
			require.Contains(t, r.Stderr, "belongs to more than one user", args)
			require.Contains(t, r.Stderr, "is "+u.Name+"'s", args)
			require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
		}
	}
	require.Equal(t, userBefore, testuser.Snapshot(t, dir))
	require.Equal(t, rootBefore, f.snapshot())
	f.requireAt(3)
	require.Empty(t, f.calls())
}

// A repository git cannot read is reported with git's reason, not as a
// commit that is not there.
func TestUnreadableRepositoryIsReportedAsSuch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	gitDir := filepath.Join(f.repo, ".git")
	require.NoError(t, os.Rename(gitDir, gitDir+".away"))
	require.NoError(t, os.Mkdir(gitDir, 0o755))
	r := f.run("--to", "2")
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, "cannot read the repository "+f.repo+": ")
	require.Contains(t, r.Stderr, "not a git repository")
	require.NotContains(t, r.Stderr, "is not a commit")
	require.NotContains(t, r.Stderr, "is not in")
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
	f.requireAt(3)
	require.Empty(t, f.calls())
}
