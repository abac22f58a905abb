package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// chezmoiUpdateConfig routes `chezmoi update` to chezmoi-sync: the lines
// docs/chezmoi-sync.md tells users to put into ~/.config/chezmoi/chezmoi.toml.
const chezmoiUpdateConfig = `[update]
    command = "chezmoi-sync"
    apply = false
`

// syncedHost is a host whose dotfiles chezmoi-sync has synced once: jj is
// colocated in the source directory and git's HEAD is detached.
func syncedHost(t *testing.T, name, remote string) *testharness.Host {
	t.Helper()
	h := testharness.NewHost(t, name).WithBinaries()
	h.CloneDotfiles(remote)
	h.WriteHome(".config/app/config.toml", h.ReadHome(".config/app/config.toml")+"# "+name+" was here\n")
	r := h.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	return h
}

func TestChezmoiUpdateOnASyncedHost(t *testing.T) {
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	alpha := syncedHost(t, "alpha", remote)
	beta := syncedHost(t, "beta", remote)

	// jj colocation detaches git's HEAD: chezmoi's own `git pull` fails.
	require.Equal(t, "HEAD", alpha.Run(alpha.SourceDir(), "git", "rev-parse", "--abbrev-ref", "HEAD"))
	r := alpha.Exec("", "chezmoi", "update")
	require.NotEqual(t, 0, r.Code, "without update.command, chezmoi update pulls with git:\n%s", r)
	t.Logf("plain chezmoi update on a synced host: %s", strings.TrimSpace(r.Stderr))

	// Routed to chezmoi-sync it does the whole sync.
	alpha.WriteHome(".config/chezmoi/chezmoi.toml", chezmoiUpdateConfig)
	beta.WriteHome(".bashrc", strings.Replace(beta.ReadHome(".bashrc"), "EDITOR=vi", "EDITOR=nvim", 1))
	require.Equal(t, 0, beta.Exec("", "chezmoi-sync").Code)
	alpha.WriteHome(".gitconfig", alpha.ReadHome(".gitconfig")+"[pull]\n\trebase = true\n")

	r = alpha.Exec("", "chezmoi", "update")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, alpha.ReadHome(".bashrc"), "EDITOR=nvim", "beta's edit came in and was applied")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "rebase = true", "alpha's edit was captured and pushed")
	require.Contains(t, r.Stdout+r.Stderr, "chezmoi-sync")

	// chezmoi git works on the detached HEAD; a commit made with it is
	// imported by jj and published by the next sync.
	require.Equal(t, "HEAD", alpha.Run(alpha.SourceDir(), "git", "rev-parse", "--abbrev-ref", "HEAD"))
	r = alpha.Exec("", "chezmoi", "git", "--", "status", "--porcelain")
	require.Equal(t, 0, r.Code, r.String())
	src := alpha.SourceDir()
	require.NoError(t, writeFile(src, "dot_inputrc", "set editing-mode vi\n"))
	alpha.Run("", "chezmoi", "git", "--", "add", "dot_inputrc")
	alpha.Run("", "chezmoi", "git", "--", "commit", "-q", "-m", "inputrc, committed by hand")
	r = alpha.Exec("", "chezmoi", "update")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "set editing-mode vi\n", testharness.RemoteFile(t, remote, "main", "dot_inputrc"))
	require.Equal(t, "set editing-mode vi\n", alpha.ReadHome(".inputrc"), "applied by the sync")

	// chezmoi's git.autoCommit commits on the detached HEAD (the sync
	// publishes it); git.autoPush fails there and fails `chezmoi add`
	// after the commit: docs/habits.md says to keep it off.
	alpha.WriteHome(".config/chezmoi/chezmoi.toml", chezmoiUpdateConfig+"[git]\n    autoCommit = true\n    autoPush = true\n")
	alpha.WriteHome(".nanorc", "set tabsize 4\n")
	r = alpha.Exec("", "chezmoi", "add", filepath.Join(alpha.Home, ".nanorc"))
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, "You are not currently on a branch")
	require.Equal(t, "Add .nanorc", alpha.Run(src, "git", "log", "-1", "--format=%s"), "committed before the push failed")
	alpha.WriteHome(".config/chezmoi/chezmoi.toml", chezmoiUpdateConfig+"[git]\n    autoCommit = true\n")
	r = alpha.Exec("", "chezmoi", "update")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "set tabsize 4\n", testharness.RemoteFile(t, remote, "main", "dot_nanorc"), "the sync published the auto-commit")

	// chezmoi cd opens its shell in the source directory.
	alpha.WriteHome(".config/chezmoi/chezmoi.toml", chezmoiUpdateConfig+"[cd]\n    command = \"pwd\"\n")
	require.Equal(t, src, alpha.Run("", "chezmoi", "cd"))

	// A conflict: chezmoi update fails with chezmoi-sync's exit code 5,
	// the home file keeps this host's edit, the commits are parked.
	beta.WriteHome(".bashrc", strings.Replace(beta.ReadHome(".bashrc"), "EDITOR=nvim", "EDITOR=emacs", 1))
	require.Equal(t, 0, beta.Exec("", "chezmoi-sync").Code)
	alpha.WriteHome(".bashrc", strings.Replace(alpha.ReadHome(".bashrc"), "EDITOR=nvim", "EDITOR=hx", 1))
	r = alpha.Exec("", "chezmoi", "update")
	require.NotEqual(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "exit status 5", r.String())
	require.Contains(t, alpha.ReadHome(".bashrc"), "EDITOR=hx", "nothing applied over the local edit")
	require.Contains(t, testharness.RemoteRefs(t, remote), "sync/alpha")
}

func writeFile(dir, rel, content string) error {
	return os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644)
}
