package testharness

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// NewRemote creates a bare repository whose branch main holds files (paths
// relative to the repository root) in one initial commit, and returns its
// path. It is the "GitHub" all simulated hosts share.
func NewRemote(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "remote.git")
	seeder := NewHost(t, "seeder")
	seeder.Run("", "git", "init", "-q", "--bare", "-b", "main", bare)
	work := filepath.Join(dir, "seed")
	seeder.Run("", "git", "init", "-q", "-b", "main", work)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(work, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(files[name]), 0o644))
	}
	seeder.Run(work, "git", "add", "-A")
	seeder.Run(work, "git", "commit", "-q", "--allow-empty", "-m", "initial dotfiles")
	seeder.Run(work, "git", "remote", "add", "origin", bare)
	seeder.Run(work, "git", "push", "-q", "origin", "main")
	return bare
}

// RemoteFile reads path from branch of the bare remote ("" when absent).
func RemoteFile(t testing.TB, bare, branch, path string) string {
	t.Helper()
	h := NewHost(t, "inspector")
	r := h.Exec(bare, "git", "show", branch+":"+path)
	if r.Code != 0 {
		return ""
	}
	return r.Stdout
}

// RemoteRefs lists the branches of the bare remote.
func RemoteRefs(t testing.TB, bare string) []string {
	t.Helper()
	h := NewHost(t, "inspector")
	out := h.Run(bare, "git", "for-each-ref", "--format=%(refname:short)", "refs/heads/")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// DefaultDotfiles is a small chezmoi source tree used by many tests.
func DefaultDotfiles() map[string]string {
	return map[string]string{
		"dot_bashrc":                 "# bashrc\nexport EDITOR=vi\nalias ll='ls -l'\n",
		"dot_gitconfig":              "[core]\n\tpager = less\n",
		"dot_config/app/config.toml": "theme = \"dark\"\nfont = 12\n",
	}
}
