package rebuildsmart_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/replay"
)

// slowEval makes the test flake's system take about a second of nix's
// evaluation (6,000,000 steps of a fold with nix 2.8; listing the hosts
// stays instant, as with a real configuration).
const slowEval = 6_000_000

// BenchmarkEvaluateOnce reports, side by side in one run on a flake whose
// evaluation takes a second:
//
//   - switch/nh: a rebuild-smart run with something to switch (the usual
//     run: prepare, fetch, build, diff, activate, checks, commit and push)
//     against the same switch through nh alone (the nh stand-in evaluates
//     and builds with nix, diffs and activates as nh does);
//   - switch-only/nh: the same with --offline --no-auto-commit, i.e. only
//     the work nh does too;
//   - noop/switch: a no-op rebuild-smart run (nothing changed: no
//     evaluation) against the run with something to switch.
//
// Each iteration edits hosts/alpha.conf before each switch, so every
// switch evaluates a new system; the runs alternate, so machine noise
// falls on all of them alike.
func BenchmarkEvaluateOnce(b *testing.B) {
	e := newEnv(b, opts{slow: slowEval})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		b.Fatal(res)
	}
	conf := filepath.Join(e.repo, "hosts", "alpha.conf")
	timed := func(name string, args ...string) time.Duration {
		start := time.Now()
		res := e.h.Exec(e.repo, name, args...)
		d := time.Since(start)
		if res.Code != 0 {
			b.Fatalf("%s %v:\n%s", name, args, res)
		}
		return d
	}
	var sw, swOnly, noop, nh time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		write(b, conf, fmt.Sprintf("v1\n# %d a\n", i))
		sw += timed("rebuild-smart", "--skip-dotfiles")
		noop += timed("rebuild-smart", "--skip-dotfiles")
		write(b, conf, fmt.Sprintf("v1\n# %d b\n", i))
		swOnly += timed("rebuild-smart", "--skip-dotfiles", "--offline", "--no-auto-commit")
		write(b, conf, fmt.Sprintf("v1\n# %d c\n", i))
		nh += timed("nh", "os", "switch", e.repo, "-H", "alpha", "--bypass-root-check")
	}
	b.ReportMetric(float64(sw)/float64(nh), "switch/nh")
	b.ReportMetric(float64(swOnly)/float64(nh), "switch-only/nh")
	b.ReportMetric(float64(noop)/float64(sw), "noop/switch")
	b.ReportMetric(float64(nh)/float64(b.N)/1e9, "nh-s")
}

// BenchmarkNoopRebuildVsByHand runs a no-op rebuild (upstream up to date,
// nothing to switch, dotfiles skipped) with the built binary, and the same
// work by hand: the external commands it started, replayed from its trace
// (internal/replay: each started directly, no shell, with the same
// arguments, directory and extra environment, and the same overlap:
// rebuild-smart runs some of its queries side by side, so do the
// replays). The ratio is rebuild-smart / by hand: what the orchestration
// costs over its tools.
func BenchmarkNoopRebuildVsByHand(b *testing.B) {
	e := newEnv(b, opts{})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		b.Fatal(res)
	}
	plan := replay.Record(b, e.h.Setenv, func() {
		if res := e.rs("--skip-dotfiles"); res.Code != 0 || !strings.Contains(res.Stdout, "nothing to switch") {
			b.Fatalf("not a no-op:\n%s", res)
		}
	})
	if len(plan.Spans) < 3 {
		b.Fatalf("too few commands traced: %+v", plan.Spans)
	}
	var tool, hand time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if res := e.rs("--skip-dotfiles"); res.Code != 0 {
			b.Fatal(res)
		}
		tool += time.Since(start)
		start = time.Now()
		if err := plan.Run(context.Background(), e.h.Env); err != nil {
			b.Fatal(err)
		}
		hand += time.Since(start)
	}
	b.ReportMetric(float64(tool)/float64(hand), "rebuild-smart/by-hand")
	b.ReportMetric(float64(len(plan.Spans)), "commands")
	b.ReportMetric(float64(plan.Overlaps()), "side-by-side")
}
