package benchsuite

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// managedFiles returns DefaultDotfiles plus n files spread over
// directories of 100 (a realistic tree, not one huge directory).
func managedFiles(n int) map[string]string {
	files := testharness.DefaultDotfiles()
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("dot_config/bench%02d/file%04d.conf", i/100, i)] = fmt.Sprintf("key%d = value\n", i)
	}
	return files
}

// syncedHost clones remote the way `chezmoi init --apply` does and runs a
// first sync (jj initialised, state written), then a second one to warm
// the page cache and jj's index.
func syncedHost(b *testing.B, remote, name string) *testharness.Host {
	b.Helper()
	h := testharness.NewHost(b, name).WithBinaries()
	h.CloneDotfiles(remote)
	for i := 0; i < 2; i++ {
		if r := h.Exec("", "chezmoi-sync"); r.Code != 0 {
			b.Fatalf("[%s] setup sync: %s", name, r)
		}
	}
	return h
}

func timedSync(b *testing.B, h *testharness.Host) time.Duration {
	b.Helper()
	t0 := time.Now()
	r := h.Exec("", "chezmoi-sync")
	d := time.Since(t0)
	if r.Code != 0 {
		b.Fatalf("[%s] chezmoi-sync: %s", h.Name, r)
	}
	return d
}

// BenchmarkSyncChangedFiles times syncs that capture, commit and push 1,
// 10 and 100 edited files, and a no-op sync, in turn on one host (so load
// on a shared machine hits them alike). Ratios: each against the no-op
// sync, and 100 files against 1 (how the cost grows with the edit).
//
//	go test -run '^$' -bench SyncChangedFiles -benchtime 5x ./internal/benchsuite
func BenchmarkSyncChangedFiles(b *testing.B) {
	testharness.RequireSync(b)
	remote := testharness.NewRemote(b, managedFiles(150))
	h := syncedHost(b, remote, "changed")
	sizes := []int{1, 10, 100}
	spent := map[int]time.Duration{}
	var noop time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range sizes {
			b.StopTimer()
			for f := 0; f < n; f++ {
				h.WriteHome(fmt.Sprintf(".config/bench%02d/file%04d.conf", f/100, f), fmt.Sprintf("key%d = edit %d of %d files\n", f, i, n))
			}
			b.StartTimer()
			spent[n] += timedSync(b, h)
		}
		noop += timedSync(b, h)
	}
	b.StopTimer()
	// The edits must have been published, or the figures mean nothing.
	if got := testharness.RemoteFile(b, remote, "main", "dot_config/bench00/file0099.conf"); !strings.Contains(got, "of 100 files") {
		b.Fatalf("the 100-file edit is not in the remote: %q", got)
	}
	for _, n := range sizes {
		label := fmt.Sprintf("%d-files", n)
		if n == 1 {
			label = "1-file"
		}
		b.ReportMetric(float64(spent[n])/float64(noop), label+"/noop")
		b.ReportMetric(float64(spent[n].Microseconds())/1000/float64(b.N), label+"-ms")
	}
	b.ReportMetric(float64(spent[100])/float64(spent[1]), "100-files/1-file")
	b.ReportMetric(float64(noop.Microseconds())/1000/float64(b.N), "noop-ms")
}

// bigRemote makes a bare repository whose main holds files managed files
// and commits commits, with git fast-import (seconds, where 10,000 git
// commit calls would take minutes). Commit k > 1 edits one file.
func bigRemote(b *testing.B, files, commits int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "big.git")
	h := testharness.NewHost(b, "seeder")
	h.Run("", "git", "init", "-q", "--bare", "-b", "main", dir)
	cmd := h.Command(b.Context(), dir, "git", "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	blob := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	ts := int64(1_700_000_000)
	for c := 1; c <= commits; c++ {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Seeder <seeder@example.test> %d +0000\n", ts+int64(c))
		blob(fmt.Sprintf("commit %d", c))
		if c == 1 {
			for path, content := range managedFiles(files) {
				fmt.Fprintf(w, "M 100644 inline %s\n", path)
				blob(content)
			}
		} else {
			f := c % files
			fmt.Fprintf(w, "M 100644 inline dot_config/bench%02d/file%04d.conf\n", f/100, f)
			blob(fmt.Sprintf("key%d = value at commit %d\n", f, c))
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, stderr.String())
	}
	if n := strings.TrimSpace(h.Run(dir, "git", "rev-list", "--count", "main")); n != fmt.Sprint(commits) {
		b.Fatalf("big remote has %s commits, want %d", n, commits)
	}
	return dir
}

// BenchmarkNoOpSyncScale compares a no-op sync of 5,000 managed files with
// 10,000 commits of history against one of 50 files and one commit,
// alternating them. The ratio says how a no-op sync scales with the size
// of the dotfiles repository (ideal: 1; chezmoi status is linear in the
// managed files, jj's queries should not be in the history).
//
//	go test -run '^$' -bench NoOpSyncScale -benchtime 5x -timeout 30m ./internal/benchsuite
func BenchmarkNoOpSyncScale(b *testing.B) {
	testharness.RequireSync(b)
	small := syncedHost(b, testharness.NewRemote(b, managedFiles(50)), "small")
	big := syncedHost(b, bigRemote(b, 5000, 10000), "big")
	var ts, tb time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts += timedSync(b, small)
		tb += timedSync(b, big)
	}
	b.StopTimer()
	b.ReportMetric(float64(tb)/float64(ts), "5000f10000c/50f")
	b.ReportMetric(float64(ts.Microseconds())/1000/float64(b.N), "50f-ms")
	b.ReportMetric(float64(tb.Microseconds())/1000/float64(b.N), "5000f10000c-ms")
}

// helloGo builds the smallest Go program: the floor any Go binary's
// start-up is measured against.
func helloGo(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	must(b, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o644))
	must(b, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n"), 0o644))
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "hello"), ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build hello: %v\n%s", err, out)
	}
	return filepath.Join(dir, "hello")
}

var binaries = []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"}

// BenchmarkStartup times `<binary> --version` (flag parsing, config
// lookup, no work) against a hello-world Go binary, alternating them:
// the ratio is what the suite's start-up costs over Go's own.
//
//	go test -run '^$' -bench Startup -benchtime 10x ./internal/benchsuite
func BenchmarkStartup(b *testing.B) {
	dir := testharness.Binaries(b)
	hello := helloGo(b)
	run := func(path string, args ...string) time.Duration {
		t0 := time.Now()
		out, err := exec.Command(path, args...).CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("%s %v: %v\n%s", path, args, err, out)
		}
		return d
	}
	for _, bin := range binaries {
		b.Run(bin, func(b *testing.B) {
			path := filepath.Join(dir, bin)
			run(path, "--version")
			run(hello)
			// 20 starts of each per iteration: one start is ~1 ms, the
			// noise of a busy machine is of the same order.
			const inner = 20
			var ours, floor time.Duration
			for i := 0; i < b.N; i++ {
				for j := 0; j < inner; j++ {
					ours += run(path, "--version")
					floor += run(hello)
				}
			}
			b.ReportMetric(float64(ours)/float64(floor), "x-vs-hello-go")
			b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N*inner), "startup-ms")
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
