package securitytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testuser"
)

// --metrics-file walks its directories without following another user's
// links: root never writes through a link a user planted, never creates
// anything inside a user's directory, and a path ending in a slash is
// refused; the run goes on (metrics never change its outcome) with one
// warning naming the path.
func TestMetricsPathIsWalkedSafely(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	u := testuser.New(t)
	user := newRunner(t, u)
	root := newRunner(t, nil)
	rootOnly := filepath.Join(root.home, "rootonly")
	require.NoError(t, os.Mkdir(rootOnly, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(rootOnly, "x.prom"), []byte(precious), 0o600))
	m := filepath.Join(user.home, "m")
	user.must("mkdir", "-m", "0755", m)
	user.must("ln", "-s", rootOnly, filepath.Join(m, "sub"))
	// A sticky directory everyone may write, like /tmp: root's, so only a
	// link in it tells whose choice the path is.
	sticky := filepath.Join(testuser.Shared(t), "tmp")
	require.NoError(t, os.Mkdir(sticky, 0o755))
	require.NoError(t, os.Chmod(sticky, 0o777|os.ModeSticky))
	user.must("ln", "-s", rootOnly, filepath.Join(sticky, "l"))

	for _, c := range []struct{ path, why string }{
		{filepath.Join(m, "sub", "x.prom"), "inside " + user.home + ", which " + u.Name},
		{filepath.Join(m, "new", "x.prom"), "inside " + user.home + ", which " + u.Name},
		{filepath.Join(sticky, "l", "x.prom"), "is a symbolic link (to " + rootOnly + ") that " + u.Name},
		{filepath.Join(root.home, "m2") + "/", "ends with a slash"},
		{filepath.Join(root.home, "x.prom") + "/", "ends with a slash"},
	} {
		res := root.run("chezmoi-sync", "--metrics-file", c.path)
		require.Contains(t, res.stderr, "metrics file not written: refusing the metrics file "+c.path, "%+v", res)
		require.Contains(t, res.stderr, c.why, "%+v", res)
	}
	data, err := os.ReadFile(filepath.Join(rootOnly, "x.prom"))
	require.NoError(t, err)
	require.Equal(t, precious, string(data), "root replaced a file through the user's link")
	require.NoDirExists(t, filepath.Join(m, "new"), "root created a directory inside the user's")
	require.NoFileExists(t, filepath.Join(root.home, "m2", "m2"))
	require.NoDirExists(t, filepath.Join(root.home, "x.prom"))

	// The same paths are fine for the one who owns them, and root writes
	// through a link of its own (so the refusals above are about trust).
	res := user.run("chezmoi-sync", "--metrics-file", filepath.Join(m, "new", "x.prom"))
	require.NotContains(t, res.stderr, "metrics file not written", "%+v", res)
	require.FileExists(t, filepath.Join(m, "new", "x.prom"))
	require.NoError(t, os.Symlink(rootOnly, filepath.Join(root.home, "mine")))
	res = root.run("chezmoi-sync", "--metrics-file", filepath.Join(root.home, "mine", "x.prom"))
	require.NotContains(t, res.stderr, "metrics file not written", "%+v", res)
	data, err = os.ReadFile(filepath.Join(rootOnly, "x.prom"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "# HELP"), "%q", data)
}
