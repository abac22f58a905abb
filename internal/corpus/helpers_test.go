package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// syncAll runs chezmoi-sync on each host in turn.
func syncAll(t *testing.T, hosts ...*Host) []*Run {
	t.Helper()
	var runs []*Run
	for _, h := range hosts {
		runs = append(runs, h.Sync())
	}
	return runs
}

// syncOK runs chezmoi-sync on each host in turn and expects exit 0.
func syncOK(t *testing.T, hosts ...*Host) {
	t.Helper()
	for _, r := range syncAll(t, hosts...) {
		assert.Equal(t, 0, r.Code, "%s", r)
	}
}

// arrived: the edit's token is in h's copy of the edited file.
func arrived(t *testing.T, h *Host, e *Edit) {
	t.Helper()
	assert.Contains(t, h.ReadHome(e.Path), e.Token, "[%s] %s by %s arrived in ~/%s", h.Name, e.What, e.Host.Name, e.Path)
}

// assertWarns: the run warns about path in its output and names it in its record.
func assertWarns(t *testing.T, r *Run, path string) {
	t.Helper()
	warned := false
	for _, line := range strings.Split(r.Output, "\n") {
		l := strings.ToLower(line)
		if strings.Contains(line, path) && (strings.Contains(l, "warn") || strings.Contains(l, "[!]")) {
			warned = true
		}
	}
	assert.True(t, warned, "a warning names ~/%s\n%s", path, r)
	assert.Contains(t, r.JSON, path, "the record names ~/%s", path)
}

// assertChezmoiWorks: chezmoi can still read the source state on h.
func assertChezmoiWorks(t *testing.T, h *Host) {
	t.Helper()
	r := h.Exec("", "chezmoi", "status")
	assert.Equal(t, 0, r.Code, "[%s] chezmoi status after the sync: %s", h.Name, r)
}

func assertMode(t *testing.T, h *Host, rel string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(filepath.Join(h.Home, rel))
	if assert.NoError(t, err) {
		assert.Equal(t, want, info.Mode().Perm(), "[%s] mode of ~/%s", h.Name, rel)
	}
}

// liblafExternals are the targets of the snapshot's .chezmoiexternal.toml.tmpl.
var liblafExternals = []string{".cache/dotfiles/external/Wrap.ico", ".config/fastfetch/config.jsonc", ".config/git-cliff/cliff.toml", ".local/bin/ddns"}

// assertNamesExternal: the run names an external it could not fetch (its
// target or its URL) in its output and its record.
func assertNamesExternal(t *testing.T, f *Fleet, r *Run) {
	t.Helper()
	named := func(s string) bool {
		if strings.Contains(s, f.ext.URL) {
			return true
		}
		for _, e := range liblafExternals {
			if strings.Contains(s, e) {
				return true
			}
		}
		return false
	}
	assert.True(t, named(r.Output), "the output names the unreachable external\n%s", r)
	assert.True(t, named(r.JSON), "the record names the unreachable external\n%s", r)
}

// replaceOnce replaces old (which must be there) by new.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(s, old, new, 1)
}
