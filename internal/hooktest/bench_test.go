package hooktest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

// benchRepo is a clone with (or without) the hooks installed.
func benchRepo(b *testing.B, withHooks bool) (*testharness.Host, string) {
	b.Helper()
	testharness.Require(b, "git")
	remote := testharness.NewRemote(b, testharness.DefaultDotfiles())
	h := testharness.NewHost(b, "alpha")
	repo := filepath.Join(h.Root, "repo")
	h.Run("", "git", "clone", "-q", remote, repo)
	if withHooks {
		h.Run(repo, filepath.Join(hooksDir(), "install"), "--action", "none")
	}
	return h, repo
}

// timePair runs base and with alternately b.N times each (so load on a
// shared machine hits both alike) and returns their mean durations.
func timePair(b *testing.B, base, with func()) (time.Duration, time.Duration) {
	var tb, tw time.Duration
	for i := 0; i < b.N; i++ {
		s := time.Now()
		base()
		tb += time.Since(s)
		s = time.Now()
		with()
		tw += time.Since(s)
	}
	return tb / time.Duration(b.N), tw / time.Duration(b.N)
}

// The hooks run on every ref update of the repository (commits, checkouts,
// every jj operation that exports refs), so their cost where they do
// nothing must stay small. Reported as ratios against the same git commands
// without hooks: an empty fetch (the hook reads empty stdin and exits) and a
// ref update that is not a remote-tracking ref.
func BenchmarkHookOverhead(b *testing.B) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"empty-fetch", []string{"fetch", "-q"}},
		{"update-ref", []string{"update-ref", "refs/heads/bench", "HEAD"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			plainHost, plain := benchRepo(b, false)
			hookHost, hooked := benchRepo(b, true)
			if _, err := os.Stat(filepath.Join(hooked, ".git", "hooks", "reference-transaction")); err != nil {
				b.Fatal("hook not installed")
			}
			b.ResetTimer()
			base, with := timePair(b,
				func() { plainHost.Run(plain, "git", tc.args...) },
				func() { hookHost.Run(hooked, "git", tc.args...) })
			b.ReportMetric(float64(with)/float64(base), "ratio")
			b.ReportMetric(float64((with - base).Microseconds()), "µs-added/op")
		})
	}
}
