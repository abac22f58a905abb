package userhooks

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkRunHook: a hook run through Run (environment, runner, result)
// against exec.Command of the same program, alternately in one loop (so
// load on the machine hits both alike); the same process, no shell either
// way. "hook/exec" is what Run adds.
func BenchmarkRunHook(b *testing.B) {
	hooks := []Hook{{Name: "true", Argv: []string{"true"}}}
	r := execRunner()
	var viaRun, direct time.Duration
	for b.Loop() {
		t0 := time.Now()
		rep := Run(context.Background(), r, Post, hooks, Details{Host: "h"}, Options{Timeout: 10 * time.Second})
		if len(rep.Failed()) != 0 {
			b.Fatal(rep.Failed()[0].Err)
		}
		t1 := time.Now()
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
		viaRun += t1.Sub(t0)
		direct += time.Since(t1)
	}
	b.ReportMetric(float64(viaRun)/float64(direct), "hook/exec")
}
