package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocateOrder(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", ".config", "nixdots", "config.json")
	sys := filepath.Join(dir, "etcxdg", "nixdots", "config.json")
	for _, p := range []string{home, sys} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte("{}"), 0o600))
	}
	env := map[string]string{"HOME": filepath.Join(dir, "home"), "XDG_CONFIG_DIRS": filepath.Join(dir, "etcxdg")}
	get := func(k string) string { return env[k] }
	require.Equal(t, "/explicit", Locate("/explicit", get))
	require.Equal(t, home, Locate("", get))
	require.NoError(t, os.Remove(home))
	require.Equal(t, sys, Locate("", get))
	env["NIXDOTS_CONFIG"] = "/from/env"
	require.Equal(t, "/from/env", Locate("", get))
}

func TestDecode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"rebuildSmart": {"flake": "/etc/nixos", "autoPush": "yes"}}`), 0o600))
	f, err := Load(p)
	require.NoError(t, err)
	var flake string
	ok, err := f.Decode(SectionRebuild, "flake", &flake)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "/etc/nixos", flake)
	var push bool
	_, err = f.Decode(SectionRebuild, "autoPush", &push)
	require.ErrorContains(t, err, "rebuildSmart.autoPush")
	ok, _ = f.Decode(SectionSync, "remote", &flake)
	require.False(t, ok)
}
