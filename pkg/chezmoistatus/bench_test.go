package chezmoistatus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// BenchmarkStatus runs chezmoi-status on a healthy host and, side by side,
// the raw read-only commands any status report has to run (chezmoi status,
// the pending/incoming/conflict revsets, the bookmark list), and reports
// the ratio and how many subprocesses chezmoi-status starts.
//
//	go test ./pkg/chezmoistatus -run '^$' -bench Status -benchtime 20x
func BenchmarkStatus(b *testing.B) {
	w := conflictfixture.New(b)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.EditHome(b, h, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	conflictfixture.Capture(h)
	conflictfixture.Publish(h)
	conflictfixture.Save(b, h, syncstate.Record{Status: syncstate.Success, Start: time.Now()})
	dir := h.SourceDir()
	raw := [][]string{
		{"chezmoi", "status"},
		{"jj", "--ignore-working-copy", "log", "--no-graph", "-r", "main@origin..@ ~ empty()"},
		{"jj", "--ignore-working-copy", "log", "--no-graph", "-r", "@..main@origin"},
		{"jj", "--ignore-working-copy", "log", "--no-graph", "-r", "conflicts() & ::@"},
		{"jj", "--ignore-working-copy", "bookmark", "list", "--all-remotes", "glob:sync/*"},
	}
	verbose := h.Exec(dir, "chezmoi-status", "--verbose", "--source-dir", dir)
	if verbose.Code != 0 {
		b.Fatal(verbose)
	}
	procs := strings.Count(verbose.Stderr, "\n+ ") + strings.Count(verbose.Stderr[:min(2, len(verbose.Stderr))], "+ ")

	var ours, base time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := h.Exec(dir, "chezmoi-status", "--source-dir", dir); r.Code != 0 {
			b.Fatal(r)
		}
		t1 := time.Now()
		for _, c := range raw {
			if r := h.Exec(dir, c[0], c[1:]...); r.Code != 0 {
				b.Fatal(r)
			}
		}
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms/status")
	b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "ms/raw")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
	b.ReportMetric(float64(procs), "subprocesses")
	_ = testharness.Result{}
}
