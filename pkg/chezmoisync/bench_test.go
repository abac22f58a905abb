package chezmoisync_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

// BenchmarkNoOpSync runs a no-op chezmoi-sync and, alternating with it, two
// baselines run directly, one after the other as the sync runs them (the
// sync's only overlap is its in-process stat-index check beside the first
// jj query):
//
//   - raw: what a person types, `jj log` (the check), `jj git fetch`, `jj
//     log` (the incoming check); each of them snapshots the working copy.
//     Target sync/raw <= 1.1 ("x-vs-raw");
//   - same work: the sync's three commands exactly (one snapshot; the fetch
//     and the second query with --ignore-working-copy). Target <= 1.05
//     ("x-vs-same"): what the sync costs beyond the work it must do.
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
	r := mustSync(b, h, append([]string{"--verbose"}, args...)...)
	same := sameWork(b, h, r.Stderr)
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

// sameWork replays the commands a no-op sync ran (its --verbose lines), in
// the same order, each with the sync's own arguments.
func sameWork(b *testing.B, h *testharness.Host, verbose string) func() {
	var cmds [][]string
	for _, l := range strings.Split(verbose, "\n") {
		if strings.HasPrefix(l, "+ ") {
			cmds = append(cmds, shellWords(b, strings.TrimPrefix(l, "+ ")))
		}
	}
	if len(cmds) != 3 {
		b.Fatalf("a no-op sync ran %d commands, not 3:\n%s", len(cmds), verbose)
	}
	return func() {
		for _, c := range cmds {
			if r := h.Exec(h.SourceDir(), c[0], c[1:]...); r.Code != 0 {
				b.Fatalf("%v: %s", c, r)
			}
		}
	}
}

// shellWords undoes runner.Cmd's quoting ("(cd DIR && argv)", words in
// single quotes where needed).
func shellWords(b *testing.B, line string) []string {
	if i := strings.Index(line, " && "); strings.HasPrefix(line, "(cd ") && i > 0 {
		line = strings.TrimSuffix(line[i+4:], ")")
	}
	var words []string
	var cur strings.Builder
	inQuote, started := false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case inQuote && c == '\'':
			if strings.HasPrefix(line[i:], "'\\''") {
				cur.WriteByte('\'')
				i += 3
				continue
			}
			inQuote = false
		case inQuote:
			cur.WriteByte(c)
		case c == '\'':
			inQuote, started = true, true
		case c == ' ':
			if started {
				words = append(words, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if started {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		b.Fatalf("cannot read %q", line)
	}
	return words
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
