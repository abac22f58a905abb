package rebuildsmart_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// BenchmarkNoopRebuildVsByHand runs a no-op rebuild (upstream up to date,
// nothing to switch, dotfiles skipped) with the built binary, and replays
// the exact external commands it ran (taken from its --verbose log) one
// after the other, as a person typing them would. The ratio is
// rebuild-smart / by hand: what the orchestration costs over its tools.
func BenchmarkNoopRebuildVsByHand(b *testing.B) {
	e := newEnv(b, opts{})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		b.Fatal(res)
	}
	res := e.rs("--skip-dotfiles", "--verbose")
	if res.Code != 0 || !strings.Contains(res.Stdout, "nothing to switch") {
		b.Fatalf("not a no-op:\n%s", res)
	}
	var cmds []string
	for _, l := range strings.Split(res.Stderr, "\n") {
		if c, ok := strings.CutPrefix(l, "+ "); ok {
			cmds = append(cmds, c)
		}
	}
	if len(cmds) < 3 {
		b.Fatalf("too few commands logged: %q", cmds)
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
		for _, c := range cmds {
			cmd := exec.Command("/bin/sh", "-c", c)
			cmd.Dir, cmd.Env = e.repo, e.h.Env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", c, err, out)
			}
		}
		hand += time.Since(start)
	}
	b.ReportMetric(float64(tool)/float64(hand), "rebuild-smart/by-hand")
	b.ReportMetric(float64(len(cmds)), "commands")
}
