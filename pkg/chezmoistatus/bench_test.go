package chezmoistatus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/replay"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// BenchmarkStatus runs chezmoi-status on a healthy host and, alternating
// with it, the same work: the commands it started, replayed from its trace
// (internal/replay: same arguments, directories, extra environment, and
// the same overlap: its chezmoi queries run beside its jj queries, as
// gather does). The ratio is what the binary adds: start-up, parsing, the
// state files and the report.
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
	status := func() {
		if err := h.Command(context.Background(), dir, "chezmoi-status", "--source-dir", dir).Run(); err != nil {
			b.Fatal(err)
		}
	}
	plan := replay.Record(b, h.Setenv, status)
	baseline := func() {
		if err := plan.Run(context.Background(), h.Env); err != nil {
			b.Fatal(err)
		}
	}

	var ours, base time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		status()
		t1 := time.Now()
		baseline()
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms/status")
	b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "ms/raw")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
	b.ReportMetric(float64(len(plan.Spans)), "subprocesses")
	b.ReportMetric(float64(plan.Overlaps()), "side-by-side")
}
