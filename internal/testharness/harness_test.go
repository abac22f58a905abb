package testharness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// Two simulated hosts exchange a commit through the bare remote with real
// jj (colocated), the path every sync takes.
func TestJJFetchPushBetweenHosts(t *testing.T) {
	RequireSync(t)
	remote := NewRemote(t, DefaultDotfiles())
	a, b := NewHost(t, "alpha"), NewHost(t, "beta")
	a.CloneDotfiles(remote)
	b.CloneDotfiles(remote)
	require.Equal(t, "alias ll='ls -l'", strings.Split(strings.TrimSpace(b.ReadHome(".bashrc")), "\n")[2])

	for _, h := range []*Host{a, b} {
		h.Run(h.SourceDir(), "jj", "git", "init", "--colocate")
		h.Run(h.SourceDir(), "jj", "bookmark", "track", "main@origin")
	}
	require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), "dot_alpha"), []byte("from alpha\n"), 0o644))
	a.Run(a.SourceDir(), "jj", "commit", "-m", "alpha edit")
	a.Run(a.SourceDir(), "jj", "bookmark", "set", "main", "-r", "@-")
	a.Run(a.SourceDir(), "jj", "git", "push", "-b", "main")
	require.Equal(t, "from alpha\n", RemoteFile(t, remote, "main", "dot_alpha"))

	b.Run(b.SourceDir(), "jj", "git", "fetch")
	got := b.Run(b.SourceDir(), "jj", "log", "--no-graph", "-r", "main@origin", "-T", "description")
	require.Equal(t, "alpha edit", got)
	// Host identities stay separate.
	require.Equal(t, "alpha", a.Run(a.SourceDir(), "jj", "log", "--no-graph", "-r", "main@origin", "-T", "author.name()"))
}

func TestRequireFailsUnderCIWhenToolMissing(t *testing.T) {
	// check() caches per tool; a name that cannot exist exercises the path.
	err := check("definitely-not-a-tool-nixdots")
	require.Error(t, err)
	require.Contains(t, err.Error(), "not found")
}

func TestBinariesBuild(t *testing.T) {
	dir := Binaries(t)
	for _, b := range []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"} {
		_, err := os.Stat(filepath.Join(dir, b))
		require.NoError(t, err, b)
	}
}
