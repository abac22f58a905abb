package chezmoisync_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

// BenchmarkNoOpSync runs a no-op chezmoi-sync and, alternating with it, the
// raw commands it cannot do without, run directly and in the same order
// with the same overlap: the jj check (which snapshots the working copy),
// `jj git fetch`, and the jj incoming check. The sync starts exactly these
// three processes on this path: the stat index (checked beside the jj
// check, in-process) says no managed file changed, so chezmoi is not run
// at all. It reports the ratio sync/raw ("x-vs-raw", target <= 1.05 at 50
// files and <= 1.1 at 5,000) and how many subprocesses the sync started
// ("subprocs", from --verbose).
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
	time.Sleep(1100 * time.Millisecond)
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
	raw()
	var syncT, rawT time.Duration
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
	}
	b.StopTimer()
	b.ReportMetric(float64(syncT)/float64(rawT), "x-vs-raw")
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
