package chezmoisync_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/replay"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/statindex"
)

// BenchmarkNoOpSync runs a no-op chezmoi-sync and, alternating with it, two
// baselines run directly:
//
//   - same work ("x-vs-same", target <= 1.05): the sync's own commands,
//     replayed from its trace (internal/replay: the same three jj commands
//     with the same arguments, environment and overlap, none here: the
//     sync's only overlap is its in-process stat-index check beside the
//     first jj query). What the sync costs beyond the work it must do;
//   - raw ("x-vs-raw", target <= 1.1; NOT the same work, a reference): what
//     a person types, `jj log` (the check), `jj git fetch`, `jj log` (the
//     incoming check); each of them snapshots the working copy.
//
// The stat index says no managed file changed, so chezmoi is not run at
// all. "subprocs" is how many processes the sync started (from --verbose).
//
//	go test -run '^$' -bench NoOpSync -benchtime 20x ./pkg/chezmoisync
func BenchmarkNoOpSync(b *testing.B) {
	testharness.RequireSync(b)
	for _, n := range []int{50, 5000} {
		files := testharness.DefaultDotfiles()
		for i := 0; i < n; i++ {
			files[fmt.Sprintf("dot_config/bench/d%02d/file%04d.conf", i%50, i)] = fmt.Sprintf("key%d = value\n", i)
		}
		remote := testharness.NewRemote(b, files)
		for _, mode := range []string{
			"default",     // no chezmoi config file: chezmoi's default source directory
			"config-file", // a chezmoi config file exists: dump-config once, then cached with the stat index
			"source-dir",  // sourceDir configured (the NixOS module sets it)
		} {
			b.Run(fmt.Sprintf("files=%d/%s", n, mode), func(b *testing.B) {
				benchNoOp(b, remote, mode)
			})
		}
	}
}

func benchNoOp(b *testing.B, remote, mode string) {
	h := newHost(b, remote, "bench")
	var args []string
	switch mode {
	case "config-file":
		h.WriteHome(".config/chezmoi/chezmoi.toml", "[data]\n  bench = true\n")
	case "source-dir":
		args = []string{"--source-dir", h.SourceDir()}
	}
	// The first runs colocate and write the stat index; wait until its
	// entries are no longer racily clean, as they are between real syncs.
	mustSync(b, h, args...)
	time.Sleep(statindex.Racy + 100*time.Millisecond)
	mustSync(b, h, args...)
	src := h.SourceDir()
	raw := func() {
		for _, c := range [][]string{
			{"jj", "log", "--no-graph", "-r", "@ | @- | main@origin | (conflicts() & ::@)", "-T", "commit_id ++ empty ++ conflict"},
			{"jj", "git", "fetch"},
			{"jj", "log", "--no-graph", "-r", "@ | @- | main@origin..@ | @..main@origin", "-T", "commit_id ++ empty"},
		} {
			if r := h.Exec(src, c[0], c[1:]...); r.Code != 0 {
				b.Fatalf("%v: %s", c, r)
			}
		}
	}
	plan := replay.Record(b, h.Setenv, func() { mustSync(b, h, args...) })
	if len(plan.Spans) != 3 || plan.Overlaps() != 0 {
		b.Fatalf("a no-op sync ran %d commands (%d side by side), not 3 one after the other: %+v", len(plan.Spans), plan.Overlaps(), plan.Spans)
	}
	same := func() {
		if err := plan.Run(context.Background(), h.Env); err != nil {
			b.Fatal(err)
		}
	}
	raw()
	same()
	var syncT, rawT, sameT time.Duration
	subprocs := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r := mustSync(b, h, append([]string{"--verbose"}, args...)...)
		syncT += time.Since(t0)
		subprocs = countCommands(r.Stderr)
		if strings.Contains(r.Stderr, "+ chezmoi") {
			b.Fatalf("a no-op sync ran chezmoi:\n%s", r.Stderr)
		}
		t1 := time.Now()
		raw()
		rawT += time.Since(t1)
		t2 := time.Now()
		same()
		sameT += time.Since(t2)
	}
	b.StopTimer()
	b.ReportMetric(float64(syncT)/float64(rawT), "x-vs-raw")
	b.ReportMetric(float64(syncT)/float64(sameT), "x-vs-same")
	b.ReportMetric(float64(subprocs), "subprocs")
	b.ReportMetric(float64(syncT.Microseconds())/1000/float64(b.N), "sync-ms")
	b.ReportMetric(float64(rawT.Microseconds())/1000/float64(b.N), "raw-ms")
	_ = os.RemoveAll(h.Root)
}

// countCommands counts the "+ argv" lines --verbose prints, one per
// subprocess.
func countCommands(stderr string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "+ ") {
			n++
		}
	}
	return n
}
