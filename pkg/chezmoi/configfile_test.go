package chezmoi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/testharness"
	"github.com/stretchr/testify/require"
)

// HasConfigFile must agree with chezmoi itself: where it says "no config",
// chezmoi source-path prints the XDG default.
func TestHasConfigFileAgreesWithChezmoi(t *testing.T) {
	testharness.Require(t, "chezmoi")
	chezmoiPath, err := testharness.Look("chezmoi")
	require.NoError(t, err)
	dir := t.TempDir()
	env := map[string]string{
		"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "cfg"), "XDG_DATA_HOME": filepath.Join(dir, "data"),
		"XDG_CONFIG_DIRS": filepath.Join(dir, "sys"),
	}
	get := func(k string) string { return env[k] }
	sourcePath := func() string {
		cmd := exec.Command(chezmoiPath, "source-path")
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	require.False(t, HasConfigFile(get))
	require.Equal(t, filepath.Join(dir, "data", "chezmoi"), sourcePath())

	for _, p := range []string{filepath.Join(dir, "sys", "chezmoi", "chezmoi.toml"), filepath.Join(dir, "cfg", "chezmoi", "chezmoi.yaml")} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		body := "sourceDir = \"/srv/dots\"\n"
		if strings.HasSuffix(p, ".yaml") {
			body = "sourceDir: /srv/y\n"
		}
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		require.True(t, HasConfigFile(get), p)
		require.NotEqual(t, filepath.Join(dir, "data", "chezmoi"), sourcePath(), "chezmoi reads %s", p)
	}
}
