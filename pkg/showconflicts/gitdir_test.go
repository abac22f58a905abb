package showconflicts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// The merge check finds the git store of colocated and non-colocated jj
// repositories alike.
func TestGitDirOf(t *testing.T) {
	testharness.Require(t, "jj", "git")
	h := testharness.NewHost(t, "g")
	colo, plain := filepath.Join(h.Root, "colo"), filepath.Join(h.Root, "plain")
	h.Run("", "jj", "git", "init", "--colocate", colo)
	h.Run("", "jj", "git", "init", "--no-colocate", plain)
	require.Equal(t, filepath.Join(colo, ".git"), gitDirOf(colo))
	got := gitDirOf(plain)
	require.NotEqual(t, filepath.Join(plain, ".git"), got)
	st, err := os.Stat(filepath.Join(got, "objects"))
	require.NoError(t, err)
	require.True(t, st.IsDir())
}
