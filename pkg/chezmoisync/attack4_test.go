package chezmoisync_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// (attack 4, F7) A home file where the dotfiles have a directory: chezmoi
// cannot read the target at all. The run fails (exit 1) with a next step
// that says what stands in the way and how to get past it; the file is
// untouched.
func TestHomeFileWhereSourceHasDirectory(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_config/app/conf": "setting=1\n"}))
	h := testharness.NewHost(t, "gamma").WithBinaries()
	h.WriteHome(".config/app", "not a dir: my app settings\n")
	require.NoError(t, os.MkdirAll(filepath.Dir(h.SourceDir()), 0o755))
	h.Run("", "git", "clone", "-q", remote, h.SourceDir())
	r := syncCode(t, h, 1)
	require.Contains(t, r.Stdout+r.Stderr, "stands where the dotfiles have a directory", r.String())
	require.Contains(t, record(t, h).NextStep, "mv FILE FILE.orig")
	require.Equal(t, "not a dir: my app settings\n", h.ReadHome(".config/app"))
}
