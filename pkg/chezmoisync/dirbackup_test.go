package chezmoisync_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// userDirs puts a directory of the user's own files (a subdirectory, a
// link, a private file) at each of rels under HOME.
func userDirs(t *testing.T, h *testharness.Host, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		h.WriteHome(rel+"/init.lua", "-- my own config of "+rel+"\n")
		h.WriteHome(rel+"/lua/plugins.lua", "-- my plugins\n")
		require.NoError(t, os.Chmod(filepath.Join(h.Home, rel, "lua", "plugins.lua"), 0o600))
		require.NoError(t, os.Symlink("init.lua", filepath.Join(h.Home, rel, "link.lua")))
	}
}

// requireDirsCopied: each directory of userDirs is in the run's backup
// directory with its files, link and modes, named in the record and the
// output, and apply replaced or removed it in HOME.
func requireDirsCopied(t *testing.T, h *testharness.Host, r testharness.Result, rels ...string) {
	t.Helper()
	rec := record(t, h)
	var named []string
	for _, b := range rec.Backups {
		named = append(named, b.Path)
	}
	for _, rel := range rels {
		i := slices.Index(named, filepath.Join(h.Home, rel))
		require.GreaterOrEqual(t, i, 0, "%s is not in the record's backups %q\n%s", rel, named, r)
		cp := rec.Backups[i].Copy
		require.True(t, strings.HasPrefix(cp, filepath.Join(h.StateDir(), "backups")+"/"), cp)
		data, err := os.ReadFile(filepath.Join(cp, "init.lua"))
		require.NoError(t, err, "the user's files of %s were not copied\n%s", rel, r)
		require.Equal(t, "-- my own config of "+rel+"\n", string(data))
		data, err = os.ReadFile(filepath.Join(cp, "lua", "plugins.lua"))
		require.NoError(t, err)
		require.Equal(t, "-- my plugins\n", string(data))
		st, err := os.Lstat(filepath.Join(cp, "lua", "plugins.lua"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		link, err := os.Readlink(filepath.Join(cp, "link.lua"))
		require.NoError(t, err, "the link in %s was not copied as a link", rel)
		require.Equal(t, "init.lua", link)
		require.Contains(t, r.Stdout, rel+"/ (3 files)", "the output does not name the copied directory")
		require.Contains(t, r.Stdout, "copied to "+filepath.Dir(strings.TrimSuffix(cp, rel)))
		if st, err := os.Lstat(filepath.Join(h.Home, rel)); err == nil {
			require.False(t, st.IsDir(), "%s: apply did not replace the directory", rel)
		}
	}
}

// First run on a machine whose home has directories of the user's own
// where the dotfiles have a symlink (~/.config/nvim), a file (~/.inputrc)
// and a .chezmoiremove entry (~/.oldvim): apply deletes each directory
// with everything in it, so each is copied first, whole. Before, only
// files and links were copied: the directories were gone, the record's
// backups null and the summary "nothing to do".
func TestFirstRunCopiesDirectoriesApplyReplaces(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{
		"dot_config/symlink_nvim": "../dotfiles-extra/nvim", "dot_inputrc": "set editing-mode vi\n", ".chezmoiremove": ".oldvim\n",
	}))
	h := testharness.NewHost(t, "fresh").WithBinaries()
	userDirs(t, h, ".config/nvim", ".inputrc", ".oldvim")
	require.NoError(t, os.MkdirAll(filepath.Dir(h.SourceDir()), 0o755))
	h.Run("", "git", "clone", "-q", remote, h.SourceDir())
	r := mustSync(t, h)
	requireDirsCopied(t, h, r, ".config/nvim", ".inputrc", ".oldvim")
	require.Equal(t, "set editing-mode vi\n", h.ReadHome(".inputrc"))
	require.NoDirExists(t, filepath.Join(h.Home, ".oldvim"))
	require.Contains(t, r.Stdout, "3 backed up")
}

// Another host starts managing ~/.config/nvim as a link and ~/.notes as a
// file, and lists ~/.oldvim in .chezmoiremove; this host has each as a
// directory of its own files: the incoming apply copies each first.
func TestIncomingLinkFileOrRemovalOverDirectoryCopiesIt(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	userDirs(t, b, ".config/nvim", ".notes", ".oldvim")
	require.NoError(t, os.Symlink("../dotfiles/nvim", filepath.Join(a.Home, ".config", "nvim")))
	a.WriteHome(".notes", "alpha's notes\n")
	a.Run("", "chezmoi", "add", filepath.Join(a.Home, ".config", "nvim"), filepath.Join(a.Home, ".notes"))
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".chezmoiremove"), []byte(".oldvim\n"), 0o644))
	mustSync(t, a)
	r := mustSync(t, b)
	requireDirsCopied(t, b, r, ".config/nvim", ".notes", ".oldvim")
	require.Equal(t, "alpha's notes\n", b.ReadHome(".notes"))
	require.NoDirExists(t, filepath.Join(b.Home, ".oldvim"))
	require.Contains(t, r.Stdout, "1 incoming applied")
}

// A directory chezmoi made can hold the user's own files: when the
// source turns it into a link, it is copied; one that holds only what
// chezmoi wrote is not (its content is in the history).
func TestDirectoryChezmoiMadeIsCopiedOnlyWithForeignFiles(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_config/nvim/init.lua": "-- shared\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	b.WriteHome(".config/nvim/lazy-lock.json", "{}\n")
	for _, rel := range []string{".config/nvim", ".config/app"} {
		p := filepath.Join(a.Home, rel)
		a.Run("", "chezmoi", "forget", "--force", p)
		require.NoError(t, os.RemoveAll(p))
		require.NoError(t, os.Symlink("../dotfiles/"+filepath.Base(rel), p))
		a.Run("", "chezmoi", "add", p)
	}
	mustSync(t, a)
	r := mustSync(t, b)
	rec := record(t, b)
	require.Len(t, rec.Backups, 1, r.String())
	require.Equal(t, filepath.Join(b.Home, ".config", "nvim"), rec.Backups[0].Path)
	data, err := os.ReadFile(filepath.Join(rec.Backups[0].Copy, "lazy-lock.json"))
	require.NoError(t, err)
	require.Equal(t, "{}\n", string(data))
	require.Contains(t, r.Stdout, ".config/nvim/ (2 files)")
	link, err := os.Readlink(filepath.Join(b.Home, ".config", "app"))
	require.NoError(t, err, r.String())
	require.Equal(t, "../dotfiles/app", link)
}

// The dry run's plan names a directory apply would copy, and copies
// nothing; a copy that fails leaves HOME as it was.
func TestDirectoryCopyIsPlannedAndAFailedCopyAppliesNothing(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	h := newHost(t, remote, "alpha")
	mustSync(t, h)
	userDirs(t, h, ".notes")
	// An edit of the source directory itself: .chezmoiremove lists it.
	require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), ".chezmoiremove"), []byte(".notes\n"), 0o644))
	home := homeFiles(t, h)
	r := mustSync(t, h, "--dry-run")
	require.Contains(t, r.Stdout, "first copy 1 directory chezmoi never wrote to "+filepath.Join(h.StateDir(), "backups"), r.String())
	require.Contains(t, r.Stdout, filepath.Join(h.Home, ".notes")+"/ (3 files)")
	require.NoDirExists(t, filepath.Join(h.StateDir(), "backups"))
	require.Equal(t, home, homeFiles(t, h))
	// A copy that cannot be made (a path too long under the backup
	// directory, which works as root too): the run fails, nothing applied.
	deep := filepath.Join(h.Home, ".notes", "deep")
	for len(deep) < 4096-30 {
		deep = filepath.Join(deep, strings.Repeat("d", 20))
	}
	require.NoError(t, os.MkdirAll(deep, 0o755))
	r = sync(h)
	require.NotEqual(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout+r.Stderr, "nothing was applied", r.String())
	require.Equal(t, "-- my own config of .notes\n", h.ReadHome(".notes/init.lua"))
	require.NoError(t, os.RemoveAll(filepath.Join(h.Home, ".notes", "deep")))
	r = mustSync(t, h)
	requireDirsCopied(t, h, r, ".notes")
	require.NoDirExists(t, filepath.Join(h.Home, ".notes"))
}

// A run that writes HOME without commits coming in (a first run) has an
// apply line naming what it wrote, the record an apply step, and the
// summary says so. Before, both were silent: "success: nothing to do".
func TestFirstRunNamesWhatApplyWrote(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	h := testharness.NewHost(t, "fresh").WithBinaries()
	require.NoError(t, os.MkdirAll(filepath.Dir(h.SourceDir()), 0o755))
	h.Run("", "git", "clone", "-q", remote, h.SourceDir())
	r := mustSync(t, h)
	require.Contains(t, r.Stdout, "[ok] apply (")
	require.Contains(t, r.Stdout, "wrote .bashrc")
	require.NotContains(t, r.Stdout, "nothing to do")
	require.Contains(t, r.Stdout, "home files written")
	rec := record(t, h)
	require.True(t, slices.ContainsFunc(rec.Steps, func(s syncstate.Step) bool { return s.Name == "apply" }), "no apply step in the record")
}
