package userhooks

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// Overhead of running a hook through Run (environment, runner, result)
// against exec.Command of the same program: report the ratio of ns/op.
func BenchmarkRunHook(b *testing.B) {
	hooks := []Hook{{Name: "true", Argv: []string{"true"}}}
	r := execRunner()
	for b.Loop() {
		rep := Run(context.Background(), r, Post, hooks, Details{Host: "h"}, Options{Timeout: 10 * time.Second})
		if len(rep.Failed()) != 0 {
			b.Fatal(rep.Failed()[0].Err)
		}
	}
}

func BenchmarkExecDirect(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
