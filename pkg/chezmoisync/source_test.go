package chezmoisync_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// chezmoi's source state, one attribute or special file per test, with the
// real chezmoi, jj and git on two hosts (docs/chezmoi-sync.md, "chezmoi's
// source state").

// .chezmoiroot: the source is a directory inside the repository (the
// layout of chezmoi's author's dotfiles). Before, every run failed: "is not
// a git repository". Host b also has a chezmoi config file, so its source
// directory comes from chezmoi dump-config.
func TestChezmoiRootLayout(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, map[string]string{
		".chezmoiroot": "home\n", "README.md": "# dotfiles\n",
		"home/dot_bashrc": "# bashrc\nexport EDITOR=vi\nalias ll='ls -l'\n", "home/dot_gitconfig": "[core]\n\tpager = less\n",
	})
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	b.WriteHome(".config/chezmoi/chezmoi.toml", "[data]\n  host = \"beta\"\n")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	mustSync(t, a)
	require.Equal(t, a.SourceDir(), record(t, a).SourceDir, "the record names the repository, not .../home")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "home/dot_bashrc"), "ls -la")
	b.WriteHome(".gitconfig", "[core]\n\tpager = most\n")
	r := mustSync(t, b, "--verbose")
	require.Contains(t, r.Stderr, "dump-config")
	require.Contains(t, b.ReadHome(".bashrc"), "ls -la")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "home/dot_gitconfig"), "most")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".gitconfig"), "most")
	_, err := os.Stat(filepath.Join(a.Home, "README.md"))
	require.True(t, os.IsNotExist(err), "a file outside .chezmoiroot reached HOME")
	// chezmoi-status and chezmoi-show-conflicts find the same repository.
	st := b.Exec("", "chezmoi-status", "--json")
	require.Equal(t, 0, st.Code, st.String())
	var rep struct {
		SourceDir     string `json:"source_dir"`
		JJInitialized bool   `json:"jj_initialized"`
	}
	require.NoError(t, json.Unmarshal([]byte(st.Stdout), &rep))
	require.Equal(t, b.SourceDir(), rep.SourceDir)
	require.True(t, rep.JJInitialized)
	require.Equal(t, 0, b.Exec("", "chezmoi-show-conflicts").Code)
	// sourceDir set to the directory chezmoi reads (inside the repository).
	editLine(t, a, ".bashrc", 0, "# inner source dir")
	mustSync(t, a, "--source-dir", filepath.Join(a.SourceDir(), "home"))
	require.Equal(t, a.SourceDir(), record(t, a).SourceDir)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "home/dot_bashrc"), "# inner source dir")
}

// .chezmoiignore, .chezmoiremove, .chezmoidata and .chezmoitemplates: an
// edit of the data changes a template's output on every host; a file the
// remove list names is removed, but copied first when chezmoi never wrote
// it; an ignored file never reaches HOME.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{
		".chezmoiignore": "notes.txt\n", "notes.txt": "not a dotfile\n", ".chezmoiremove": ".oldrc\n",
		".chezmoidata.yaml": "editor: vi\n", ".chezmoitemplates/editor": "export EDITOR={{ .editor }}\n",
		"dot_profile.tmpl": "{{ template \"editor\" . }}",
	}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	require.Equal(t, "export EDITOR=vi\n", b.ReadHome(".profile"))
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".chezmoidata.yaml"), []byte("editor: nvim\n"), 0o644))
	mustSync(t, a)
	require.Equal(t, "export EDITOR=nvim\n", a.ReadHome(".profile"), "a source change is applied on its own host")
	b.WriteHome(".oldrc", "mine\n")
	r := mustSync(t, b)
	require.Equal(t, "export EDITOR=nvim\n", b.ReadHome(".profile"))
	require.NoFileExists(t, filepath.Join(b.Home, ".oldrc"))
	rec := record(t, b)
	require.Len(t, rec.Backups, 1, r.String())
	require.Equal(t, filepath.Join(b.Home, ".oldrc"), rec.Backups[0].Path)
	data, err := os.ReadFile(rec.Backups[0].Copy)
	require.NoError(t, err)
	require.Equal(t, "mine\n", string(data))
	require.Contains(t, r.Stdout, "copied to "+filepath.Dir(rec.Backups[0].Copy))
	require.Contains(t, r.Stdout, "removed .oldrc", "a removal must be named")
	require.Equal(t, []string{filepath.Join(b.Home, ".oldrc")}, rec.Removed)
	require.NoFileExists(t, filepath.Join(b.Home, "notes.txt"))
}

// A changed config template (.chezmoi.toml.tmpl) is surfaced: chezmoi
// keeps the old config until `chezmoi init`.
func TestChangedConfigTemplateIsSurfaced(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{".chezmoi.toml.tmpl": "[data]\n  email = \"a@example.test\"\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	b.Run("", "chezmoi", "init")
	mustSync(t, b)
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".chezmoi.toml.tmpl"), []byte("[data]\n  email = \"b@example.test\"\n"), 0o644))
	mustSync(t, a)
	r := mustSync(t, b)
	require.Contains(t, r.Stderr, "config file template has changed")
	require.Contains(t, r.Stdout, "next: the config file template changed: run chezmoi init")
	require.Contains(t, record(t, b).NextStep, "run chezmoi init")
}

// encrypted_: an edit at home cannot be re-encrypted by the sync (it may
// need a passphrase): reported, never overwritten, not plain success.
func TestEncryptedEditIsReportedAndKept(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	key := filepath.Join(a.Root, "key.txt")
	a.Run("", "chezmoi", "age-keygen", "--output", key)
	recipient := a.Run("", "chezmoi", "age-keygen", "--convert", key)
	for _, h := range []*testharness.Host{a, b} {
		h.WriteHome(".config/chezmoi/chezmoi.toml", "encryption = \"age\"\nuseBuiltinAge = \"on\"\n[age]\n  identity = \""+key+"\"\n  recipient = \""+strings.TrimSpace(recipient)+"\"\n")
	}
	mustSync(t, a) // colocated before the add: files added later are tracked
	a.WriteHome(".secret", "token=1\n")
	a.Run("", "chezmoi", "add", "--encrypt", filepath.Join(a.Home, ".secret"))
	mustSync(t, a)
	require.Contains(t, record(t, a).Tracked, "encrypted_dot_secret.age", "a chezmoi add'ed file was not tracked")
	_, ok := gitShow(a, remote, "main", "encrypted_dot_secret.age")
	require.True(t, ok, "the encrypted file was not published")
	mustSync(t, b)
	require.Equal(t, "token=1\n", b.ReadHome(".secret"))

	b.WriteHome(".secret", "token=2\n")
	editLine(t, a, ".bashrc", 0, "# from alpha")
	mustSync(t, a)
	r := mustSync(t, b)
	require.Equal(t, "token=2\n", b.ReadHome(".secret"), "the home edit of an encrypted file was overwritten")
	require.Contains(t, b.ReadHome(".bashrc"), "# from alpha")
	require.Equal(t, syncstate.EditsWaiting, record(t, b).Status, r.String())
	require.Equal(t, "encrypted", waitingKinds(t, b)[filepath.Join(b.Home, ".secret")])
	require.Contains(t, r.Stdout, "chezmoi re-add "+filepath.Join(b.Home, ".secret"))
}

// private_, executable_, readonly_: a mode change is captured (the source
// file is renamed, and the new name tracked); loosening a private_ file is
// a warning, never published.
func TestModeChanges(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"private_dot_netrc": "machine x\n", "dot_script": "#!/bin/sh\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	require.NoError(t, os.Chmod(filepath.Join(a.Home, ".script"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(a.Home, ".gitconfig"), 0o600))
	mustSync(t, a)
	files := a.Run(remote, "git", "ls-tree", "--name-only", "main")
	require.Contains(t, files, "executable_dot_script")
	require.NotContains(t, files, "\ndot_script\n")
	require.Contains(t, files, "private_dot_gitconfig")
	mustSync(t, b)
	st, err := os.Stat(filepath.Join(b.Home, ".script"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	st, err = os.Stat(filepath.Join(b.Home, ".gitconfig"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	netrc := filepath.Join(a.Home, ".netrc")
	require.NoError(t, os.Chmod(netrc, 0o644))
	r := mustSync(t, a)
	require.Equal(t, syncstate.EditsWaiting, record(t, a).Status, r.String())
	require.Equal(t, "private-loosened", waitingKinds(t, a)[netrc])
	require.Contains(t, a.Run(remote, "git", "ls-tree", "--name-only", "main"), "private_dot_netrc", "the loosening was published")
	st, err = os.Stat(netrc)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "the sync changed the mode itself")
	require.Contains(t, r.Stdout, "chmod go-rwx "+netrc)
}

// exact_: a new file in an exact directory is kept and reported, never
// deleted by the apply that brings other hosts' edits.
func TestExactDirectoryKeepsNewFile(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"exact_dot_vim/vimrc": "set nu\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	a.WriteHome(".vim/local.vim", "set rnu\n")
	editLine(t, b, ".bashrc", 0, "# from beta")
	mustSync(t, b)
	r := mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "# from beta", "what came in was not applied")
	require.Equal(t, "set rnu\n", a.ReadHome(".vim/local.vim"), "the new file in the exact directory was deleted")
	require.Equal(t, syncstate.EditsWaiting, record(t, a).Status, r.String())
	require.Equal(t, "exact-extra", waitingKinds(t, a)[filepath.Join(a.Home, ".vim/local.vim")])
	_, published := gitShow(a, remote, "main", "exact_dot_vim/local.vim")
	require.False(t, published, "an unmanaged file was published")
}

// symlink_: a re-pointed link is captured (re-add ignores symlinks) and
// reaches the other host.
func TestRepointedSymlinkIsCaptured(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"symlink_dot_link": ".bashrc\n"}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	link := filepath.Join(a.Home, ".link")
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(".gitconfig", link))
	mustSync(t, a)
	require.Contains(t, record(t, a).Captured, link)
	content, _ := gitShow(a, remote, "main", "symlink_dot_link")
	require.Equal(t, ".gitconfig", strings.TrimSpace(content))
	mustSync(t, b)
	target, err := os.Readlink(filepath.Join(b.Home, ".link"))
	require.NoError(t, err)
	require.Equal(t, ".gitconfig", target)
}

// modify_ and create_: a home edit is never reverted. A modify_ target
// whose script would rewrite the edit is left alone and reported; a
// create_ target is the user's once it exists.
func TestModifyAndCreateTargetsKeepHomeEdits(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{
		"modify_dot_app.conf": "#!/bin/sh\nsed 's/^theme=.*/theme=dark/'\n", "create_dot_hushlogin": "default\n",
	}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	a.WriteHome(".app.conf", "theme=dark\nfont=12\n")
	a.Run("", "chezmoi", "apply", "--force", filepath.Join(a.Home, ".app.conf"))
	mustSync(t, a)
	a.WriteHome(".app.conf", "theme=light\nfont=12\n")
	a.WriteHome(".hushlogin", "mine\n")
	editLine(t, b, ".bashrc", 0, "# from beta")
	mustSync(t, b)
	r := mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "# from beta")
	require.Equal(t, "theme=light\nfont=12\n", a.ReadHome(".app.conf"), "the modify_ target's edit was reverted")
	require.Equal(t, "mine\n", a.ReadHome(".hushlogin"), "the create_ target was overwritten")
	kinds := waitingKinds(t, a)
	require.Equal(t, "modify", kinds[filepath.Join(a.Home, ".app.conf")], r.String())
	require.NotContains(t, kinds, filepath.Join(a.Home, ".hushlogin"))
	require.NotContains(t, record(t, a).Captured, filepath.Join(a.Home, ".app.conf"))
}

// empty_: a file emptied at home is captured as empty_ (without it chezmoi
// would remove the file on every other host).
func TestEmptiedFileStaysOnOtherHosts(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	a.WriteHome(".gitconfig", "")
	mustSync(t, a)
	_, ok := gitShow(a, remote, "main", "empty_dot_gitconfig")
	require.True(t, ok, a.Run(remote, "git", "ls-tree", "--name-only", "main"))
	mustSync(t, b)
	st, err := os.Stat(filepath.Join(b.Home, ".gitconfig"))
	require.NoError(t, err, "the emptied file was removed on the other host")
	require.Zero(t, st.Size())
}

// run_ scripts: a run_onchange_ script changed on this host runs here too
// (and on the other host when it arrives).
func TestChangedScriptRunsOnItsOwnHost(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{
		"run_onchange_setup.sh": "#!/bin/sh\necho v1 >> \"$HOME/setup.log\"\n",
	}))
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	require.Equal(t, "v1\n", a.ReadHome("setup.log"))
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "run_onchange_setup.sh"), []byte("#!/bin/sh\necho v2 >> \"$HOME/setup.log\"\n"), 0o755))
	mustSync(t, a)
	require.Equal(t, "v1\nv2\n", a.ReadHome("setup.log"), "the changed script did not run on its own host")
	mustSync(t, b)
	require.Equal(t, "v1\nv2\n", b.ReadHome("setup.log"))
	mustSync(t, b)
	require.Equal(t, "v1\nv2\n", b.ReadHome("setup.log"), "a no-op sync ran the script again")
}

// A failing run_ script fails the run (exit 1) with its own name and its
// own error line, even when a file was skipped and a later script wrote to
// stderr after it.
func TestFailingScriptFailsTheRun(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	for name, body := range map[string]string{
		"run_onchange_fail.sh":   "#!/bin/sh\necho about to fail >&2\nnonexistent-cmd-xyz\n",
		"run_onchange_zlater.sh": "#!/bin/sh\necho later script says hello >&2\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), name), []byte(body), 0o755))
	}
	syncCode(t, a, 1) // a runs them first: fails too, after publishing them
	// beta: an unmerged file (the same line edited at home and in the
	// source), which apply skips, and the failing script coming in.
	require.NoError(t, os.WriteFile(filepath.Join(b.SourceDir(), "dot_gitconfig"), []byte("[core]\n\tpager = most\n"), 0o644))
	b.WriteHome(".gitconfig", "[core]\n\tpager = bat\n")
	r := syncCode(t, b, 1)
	rec := record(t, b)
	require.Equal(t, syncstate.Failed, rec.Status, r.String())
	require.Contains(t, rec.Error, "run_ script fail.sh failed: exit status 127")
	require.Contains(t, rec.Error, "nonexistent-cmd-xyz: not found")
	require.NotContains(t, rec.Error, "later script says hello")
	require.Contains(t, r.Stderr, "fail.sh")
}

// Externals (.chezmoiexternal.*) that cannot be fetched: the home edits are
// still captured, committed and pushed; the run degrades like an offline
// run (fetch-failed, exit 4 with --exit-code) and names the external.
func TestUnreachableExternalDegrades(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".chezmoiexternal.toml"),
		[]byte("[\".ext/file.txt\"]\n  type = \"file\"\n  url = \"http://127.0.0.1:9/file.txt\"\n"), 0o644))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --ext'")
	r := syncCode(t, a, 4, "--exit-code")
	rec := record(t, a)
	require.Equal(t, syncstate.FetchFailed, rec.Status, r.String())
	require.Len(t, rec.Externals, 1)
	require.Contains(t, rec.Externals[0], "127.0.0.1:9")
	require.Contains(t, rec.Captured, filepath.Join(a.Home, ".bashrc"))
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--ext", "the captured edit was not published")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", ".chezmoiexternal.toml"), "127.0.0.1:9")
}

// An archive external that cannot be fetched makes every chezmoi command
// fail, even with --exclude=externals: the sync works on a shadow of the
// source directory without it, so the edit is still captured and published
// and what came in is still applied on the other host.
func TestUnreachableArchiveExternalDegrades(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".chezmoiexternal.toml"),
		[]byte("[\".oh-my-zsh\"]\n  type = \"archive\"\n  url = \"http://127.0.0.1:9/ohmyzsh.tar.gz\"\n"), 0o644))
	require.NoError(t, os.Chmod(filepath.Join(a.Home, ".gitconfig"), 0o755))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --archive-offline'")
	r := mustSync(t, a)
	rec := record(t, a)
	require.Equal(t, syncstate.FetchFailed, rec.Status, r.String())
	require.Contains(t, rec.Externals[0], "127.0.0.1:9")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--archive-offline")
	files := a.Run(remote, "git", "ls-tree", "--name-only", "main")
	require.Contains(t, files, "executable_dot_gitconfig", "a rename made in the shadow did not reach the repository")
	require.Contains(t, files, ".chezmoiexternal.toml")
	require.Equal(t, "", strings.TrimSpace(jjOut(a, "diff", "--name-only")), "the shadow left changes behind")

	r = mustSync(t, b)
	require.Equal(t, syncstate.FetchFailed, record(t, b).Status, r.String())
	require.Contains(t, b.ReadHome(".bashrc"), "--archive-offline", "what came in was not applied")
}
