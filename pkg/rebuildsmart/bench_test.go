package rebuildsmart_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// nothing to switch, dotfiles skipped) with the built binary, and replays
// the exact external commands it ran (taken from its --verbose log) one
// after the other, each started directly (no shell), as a person typing
// them would. The ratio is rebuild-smart / by hand: what the orchestration
// costs over its tools.
func BenchmarkNoopRebuildVsByHand(b *testing.B) {
	e := newEnv(b, opts{})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		b.Fatal(res)
	}
	res := e.rs("--skip-dotfiles", "--verbose")
	if res.Code != 0 || !strings.Contains(res.Stdout, "nothing to switch") {
		b.Fatalf("not a no-op:\n%s", res)
	}
	var cmds []loggedCmd
	for _, l := range strings.Split(res.Stderr, "\n") {
		if c, ok := strings.CutPrefix(l, "+ "); ok {
			cmds = append(cmds, parseLogged(b, c, e.repo))
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
			cmd := exec.Command(c.argv[0], c.argv[1:]...)
			cmd.Dir, cmd.Env = c.dir, e.h.Env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", c.argv, err, out)
			}
		}
		hand += time.Since(start)
	}
	b.ReportMetric(float64(tool)/float64(hand), "rebuild-smart/by-hand")
	b.ReportMetric(float64(len(cmds)), "commands")
}

type loggedCmd struct {
	dir  string
	argv []string
}

// parseLogged reads runner.Cmd.String() back: "(cd DIR && argv...)" or
// "argv...", words single-quoted when needed.
func parseLogged(b *testing.B, s, dir string) loggedCmd {
	words := shellWords(s)
	c := loggedCmd{dir: dir}
	if len(words) > 3 && words[0] == "(cd" && words[2] == "&&" {
		c.dir = words[1]
		words = words[3:]
		last := words[len(words)-1]
		words[len(words)-1] = strings.TrimSuffix(last, ")")
	}
	if len(words) == 0 {
		b.Fatalf("cannot parse %q", s)
	}
	c.argv = words
	return c
}

// shellWords splits on spaces, honouring single quotes and the '\” escape
// runner's quote uses.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, any := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			in, any = !in, true
		case ch == '\\' && !in && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case ch == ' ' && !in:
			if cur.Len() > 0 || any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 || any {
		out = append(out, cur.String())
	}
	return out
}
