package chezmoisync

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// (attack 4, F6) git finds /srv/dotfiles.git when the remote says
// /srv/dotfiles: the lock of such a remote was never found, and every
// push "gave up" for ever. Network URLs are never local.
func TestLocalRepoPath(t *testing.T) {
	base := t.TempDir()
	bare := filepath.Join(base, "dotfiles.git")
	require.NoError(t, os.Mkdir(bare, 0o755))
	for url, want := range map[string]string{
		bare:                            bare,
		filepath.Join(base, "dotfiles"): bare,
		"file://" + bare:                bare,
		"../dotfiles":                   bare,
		filepath.Join(base, "missing"):  "",
		"ssh://host/srv/dotfiles.git":   "",
		"host:srv/dotfiles.git":         "",
		"https://example.org/d.git":     "",
	} {
		require.Equal(t, want, localRepoPath(url, filepath.Join(base, "work")), url)
	}
}
