package chezmoi

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/runner"
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

func TestPlainCopy(t *testing.T) {
	for name, want := range map[string]bool{
		"dot_bashrc": true, "private_dot_ssh/config": true, "executable_dot_local/bin/x": true,
		"private_readonly_dot_netrc": true, "create_dot_hushlogin": true, "literal_run_me": true,
		"dot_gitconfig.tmpl": false, "encrypted_private_dot_secret.age": false, "encrypted_dot_key": false,
		"symlink_dot_vimrc": false, "modify_dot_profile": false, "run_once_install.sh": false,
		"private_encrypted_dot_x": false,
	} {
		require.Equal(t, want, PlainCopy("/src/"+name), name)
	}
}

// SourceFiles asks chezmoi once for several targets.
func TestSourceFilesBatch(t *testing.T) {
	testharness.Require(t, "chezmoi")
	h := testharness.NewHost(t, "batch")
	src := filepath.Join(t.TempDir(), "src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_a"), []byte("a\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "private_dot_b"), []byte("b\n"), 0o600))
	rec := &runner.Recorder{Inner: &runner.Exec{Env: h.Env}}
	c := &Client{Runner: rec, Source: src}
	got, err := c.SourceFiles(context.Background(), []string{filepath.Join(h.Home, ".b"), filepath.Join(h.Home, ".a")})
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		filepath.Join(h.Home, ".b"): filepath.Join(src, "private_dot_b"),
		filepath.Join(h.Home, ".a"): filepath.Join(src, "dot_a"),
	}, got)
	require.Equal(t, 1, rec.Count())
}
