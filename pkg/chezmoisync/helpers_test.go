package chezmoisync_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// newHost is a simulated machine that cloned the remote with plain git and
// applied it, as `chezmoi init --apply URL` leaves it: no .jj yet.
func newHost(t testing.TB, remote, name string) *testharness.Host {
	t.Helper()
	h := testharness.NewHost(t, name).WithBinaries()
	h.CloneDotfiles(remote)
	return h
}

func sync(h *testharness.Host, args ...string) testharness.Result {
	return h.Exec("", "chezmoi-sync", args...)
}

// mustSync runs chezmoi-sync and requires exit 0.
func mustSync(t testing.TB, h *testharness.Host, args ...string) testharness.Result {
	t.Helper()
	r := sync(h, args...)
	require.Equal(t, 0, r.Code, "[%s] chezmoi-sync %v\n%s", h.Name, args, r)
	return r
}

func record(t testing.TB, h *testharness.Host) syncstate.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.StateDir(), syncstate.RecordFile))
	require.NoError(t, err)
	var r syncstate.Record
	require.NoError(t, json.Unmarshal(data, &r))
	word, err := syncstate.LoadWord(h.StateDir())
	require.NoError(t, err)
	require.Equal(t, r.Status, word, "last-sync-status and the JSON record disagree")
	return r
}

func jjOut(h *testharness.Host, args ...string) string {
	return h.Run(h.SourceDir(), "jj", append([]string{"--ignore-working-copy"}, args...)...)
}

// opCount counts jj operations without creating one.
func opCount(t testing.TB, h *testharness.Host) int {
	t.Helper()
	return len(strings.Split(jjOut(h, "op", "log", "--no-graph", "-T", `id ++ "\n"`), "\n"))
}

func remoteRef(t *testing.T, h *testharness.Host, remote, ref string) string {
	t.Helper()
	r := h.Exec(remote, "git", "rev-parse", "--verify", "-q", ref)
	return strings.TrimSpace(r.Stdout)
}

func hasConflictMarkers(s string) bool {
	return strings.Contains(s, "<<<<<<<") || strings.Contains(s, ">>>>>>>") || strings.Contains(s, "%%%%%%%")
}

// editLine replaces line i (0-based) of a home file.
func editLine(t *testing.T, h *testharness.Host, rel string, i int, text string) {
	t.Helper()
	lines := strings.Split(h.ReadHome(rel), "\n")
	require.Greater(t, len(lines), i)
	lines[i] = text
	h.WriteHome(rel, strings.Join(lines, "\n"))
}
