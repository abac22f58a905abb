package rebuildsmart

import (
	"context"
	"testing"
	"time"
)

// phaseDur is the fixed duration of every fake phase: long against the
// engine's own cost, short enough for a quick benchmark.
const phaseDur = 20 * time.Millisecond

func fixed(name string) Phase { return fakePhase{name: name, d: phaseDur} }

// BenchmarkOrchestrationOverhead runs eight fake phases of fixed duration
// in the real engine (phases 2 and 3 sequential here, to compare like with
// like) and reports total time / the phases' own time: 1.00 means no
// overhead.
func BenchmarkOrchestrationOverhead(b *testing.B) {
	var stages []Stage
	for _, n := range []string{"1", "2", "3", "4", "5", "6", "7", "8"} {
		stages = append(stages, Stage{fixed(n)})
	}
	eng := &Engine{}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := eng.Execute(context.Background(), &Run{}, stages); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	own := time.Duration(b.N) * time.Duration(len(stages)) * phaseDur
	b.ReportMetric(float64(total)/float64(own), "total/phase-work")
}

// BenchmarkParallelUpstreamDotfiles compares phases 2 and 3 (upstream
// 20ms, dotfiles 30ms) one after the other against the pipeline's parallel
// stage: the ratio is sequential / parallel (ideal: 50/30 = 1.67).
func BenchmarkParallelUpstreamDotfiles(b *testing.B) {
	up := fakePhase{name: "upstream", d: 20 * time.Millisecond}
	dot := fakePhase{name: "dotfiles", d: 30 * time.Millisecond}
	eng := &Engine{}
	var seq, par time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := eng.Execute(context.Background(), &Run{}, []Stage{{up}, {dot}}); err != nil {
			b.Fatal(err)
		}
		seq += time.Since(start)
		start = time.Now()
		if _, err := eng.Execute(context.Background(), &Run{}, []Stage{{up, dot}}); err != nil {
			b.Fatal(err)
		}
		par += time.Since(start)
	}
	b.ReportMetric(float64(seq)/float64(par), "sequential/parallel")
}
