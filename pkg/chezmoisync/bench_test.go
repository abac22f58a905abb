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
// raw commands any correct sync must run on that path (chezmoi re-add, the
// jj empty-check, jj git fetch, the jj incoming-check) executed directly.
// It reports the ratio sync/raw ("x-vs-raw", target <= 1.1) and how many
// subprocesses the no-op sync started ("subprocs", from --verbose).
//
//	go test -run '^$' -bench NoOpSync -benchtime 20x ./pkg/chezmoisync
func BenchmarkNoOpSync(b *testing.B) {
	testharness.RequireSync(b)
	files := testharness.DefaultDotfiles()
	for i := 0; i < 50; i++ { // the facts file's timings use 50 managed files
		files[fmt.Sprintf("dot_config/bench/file%02d.conf", i)] = fmt.Sprintf("key%d = value\n", i)
	}
	remote := testharness.NewRemote(b, files)
	for _, mode := range []string{
		"default",     // no chezmoi config file: chezmoi's default source directory, no source-path call
		"source-path", // a chezmoi config file exists: the source directory comes from `chezmoi source-path`
		"source-dir",  // sourceDir configured (the NixOS module sets it)
		"state-tmpfs", // source-dir, and the state directory on tmpfs: what the record's fsyncs cost
	} {
		b.Run(mode, func(b *testing.B) {
			h := newHost(b, remote, "bench-"+mode)
			var args []string
			switch mode {
			case "source-path":
				h.WriteHome(".config/chezmoi/chezmoi.toml", "[data]\n  bench = true\n")
			case "source-dir":
				args = []string{"--source-dir", h.SourceDir()}
			case "state-tmpfs":
				if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
					b.Skip("no /dev/shm")
				}
				dir, err := os.MkdirTemp("/dev/shm", "chezmoi-sync-bench-")
				if err != nil {
					b.Skip(err)
				}
				b.Cleanup(func() { _ = os.RemoveAll(dir) })
				args = []string{"--source-dir", h.SourceDir(), "--state-dir", dir}
			}
			mustSync(b, h, args...)
			raw := func() {
				src := h.SourceDir()
				for _, c := range [][]string{
					{"chezmoi", "re-add"},
					{"jj", "log", "--no-graph", "-r", "@", "-T", "empty"},
					{"jj", "git", "fetch"},
					{"jj", "log", "--no-graph", "-r", "@..main@origin", "-T", "commit_id"},
				} {
					if r := h.Exec(src, c[0], c[1:]...); r.Code != 0 {
						b.Fatalf("%v: %s", c, r)
					}
				}
			}
			// Warm both paths (page cache, jj's index) before measuring.
			mustSync(b, h, args...)
			raw()
			var syncT, rawT time.Duration
			subprocs := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r := mustSync(b, h, append([]string{"--verbose"}, args...)...)
				syncT += time.Since(t0)
				subprocs = countCommands(r.Stderr)
				t1 := time.Now()
				raw()
				rawT += time.Since(t1)
			}
			b.StopTimer()
			b.ReportMetric(float64(syncT)/float64(rawT), "x-vs-raw")
			b.ReportMetric(float64(subprocs), "subprocs")
			b.ReportMetric(float64(syncT.Microseconds())/1000/float64(b.N), "sync-ms")
			b.ReportMetric(float64(rawT.Microseconds())/1000/float64(b.N), "raw-ms")
		})
	}
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
