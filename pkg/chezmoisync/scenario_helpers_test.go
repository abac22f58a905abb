package chezmoisync_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

// syncCode runs chezmoi-sync and requires the exit code.
func syncCode(t testing.TB, h *testharness.Host, code int, args ...string) testharness.Result {
	t.Helper()
	r := sync(h, args...)
	require.Equal(t, code, r.Code, "[%s] chezmoi-sync %v\n%s", h.Name, args, r)
	return r
}

// treeHash is every file under dirs, byte for byte: path, mode, and the
// content's hash (a symlink's target). Two equal results mean nothing under
// dirs changed.
func treeHash(t testing.TB, dirs ...string) string {
	t.Helper()
	var lines []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			st, err := os.Lstat(p)
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s %v", p, st.Mode())
			switch {
			case st.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				line += " -> " + target
			case st.Mode().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(data)
				line += " " + hex.EncodeToString(sum[:])
			}
			lines = append(lines, line)
			return nil
		})
		require.NoError(t, err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// homeFiles is HOME without the state directory and the chezmoi source
// (compared separately), for "HOME unchanged" checks.
func homeFiles(t testing.TB, h *testharness.Host) string {
	t.Helper()
	var dirs []string
	entries, err := os.ReadDir(h.Home)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == ".local" || e.Name() == ".cache" {
			continue
		}
		dirs = append(dirs, filepath.Join(h.Home, e.Name()))
	}
	return treeHash(t, dirs...)
}

// dotfiles is DefaultDotfiles plus extra files.
func dotfiles(extra map[string]string) map[string]string {
	files := testharness.DefaultDotfiles()
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// waitingKinds maps the record's waiting paths to their kinds.
func waitingKinds(t testing.TB, h *testharness.Host) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, w := range record(t, h).Waiting {
		out[w.Path] = w.Kind
		require.NotEmpty(t, w.Next, w.Path)
	}
	return out
}

// gitShow reads a file of a branch of the remote ("" when missing).
func gitShow(h *testharness.Host, remote, rev, path string) (string, bool) {
	r := h.Exec(remote, "git", "show", rev+":"+path)
	return r.Stdout, r.Code == 0
}
