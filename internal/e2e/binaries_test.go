// Package e2e runs the built binaries the way a user does: every --help,
// --version and a bad flag, for all five.
package e2e

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var binaries = []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"}

func TestEveryBinaryHelpVersionAndBadFlag(t *testing.T) {
	h := testharness.NewHost(t, "e2e").WithBinaries()
	for _, b := range binaries {
		r := h.Exec("", b, "--help")
		require.Equal(t, 0, r.Code, "%s --help: %s", b, r)
		require.Contains(t, r.Stdout, "Usage: "+b)
		require.Contains(t, r.Stdout, "Exit codes")
		require.Contains(t, r.Stdout, "--state-dir")

		r = h.Exec("", b, "--version")
		require.Equal(t, 0, r.Code, b)
		require.True(t, strings.HasPrefix(r.Stdout, b+" "), r.Stdout)

		r = h.Exec("", b, "--definitely-not-a-flag")
		require.Equal(t, 2, r.Code, "%s: unknown flag must exit 2: %s", b, r)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%s: one-line error: %q", b, r.Stderr)
		require.Contains(t, r.Stderr, b+": unknown flag --definitely-not-a-flag")
		require.NotContains(t, r.Stderr, "goroutine", "no stack trace")
	}
}
