// Package replay is the benchmarks' same-work baseline: it reads the
// commands a suite binary started (NIXDOTS_TRACE_FILE, one
// runner.TraceSpan per line) and runs exactly those commands again, each
// started directly (no shell), with the same arguments, directory and
// extra environment, and with the same overlap: a command starts once
// every command that had ended before it started in the traced run has
// ended, so what ran side by side there runs side by side here. The
// binary over its replay is then what the binary adds to its tools.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixdots/nixdots/pkg/runner"
)

// Load reads a trace file.
func Load(path string) ([]runner.TraceSpan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var spans []runner.TraceSpan
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s runner.TraceSpan
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("trace %s: %w", path, err)
		}
		spans = append(spans, s)
	}
	return spans, sc.Err()
}

// Plan is a trace ready to run again.
type Plan struct {
	Spans []runner.TraceSpan
	after [][]int // after[i]: the spans that ended before span i started
}

// New plans spans. A command that was fed on stdin cannot be replayed
// (its input is not in the trace): an error, so no baseline silently
// does less work.
func New(spans []runner.TraceSpan) (*Plan, error) {
	if len(spans) == 0 {
		return nil, fmt.Errorf("empty trace: the run started no command")
	}
	p := &Plan{Spans: spans, after: make([][]int, len(spans))}
	for i, s := range spans {
		if s.Stdin {
			return nil, fmt.Errorf("cannot replay %s %s: it read its input from the run", s.Name, strings.Join(s.Args, " "))
		}
		for j, o := range spans {
			if j != i && o.End <= s.Start {
				p.after[i] = append(p.after[i], j)
			}
		}
	}
	return p, nil
}

// Overlaps counts the spans that ran beside at least one other.
func (p *Plan) Overlaps() int {
	n := 0
	for i, s := range p.Spans {
		for j, o := range p.Spans {
			if i != j && o.Start < s.End && s.Start < o.End {
				n++
				break
			}
		}
	}
	return n
}

// Run runs the plan: env is the base environment (each span's own Env
// layered over it, as runner.Exec does).
func (p *Plan) Run(ctx context.Context, env []string) error {
	done := make([]chan struct{}, len(p.Spans))
	for i := range done {
		done[i] = make(chan struct{})
	}
	errs := make(chan error, len(p.Spans))
	for i := range p.Spans {
		go func(i int) {
			defer close(done[i])
			for _, j := range p.after[i] {
				<-done[j]
			}
			errs <- run(ctx, p.Spans[i], env)
		}(i)
	}
	var first error
	for range p.Spans {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// run starts one command the way runner.Exec does: looked up in the
// environment's PATH, its own process group, output captured.
func run(ctx context.Context, s runner.TraceSpan, base []string) error {
	env := runner.MergeEnv(base, s.Env)
	path, err := runner.LookPath(s.Name, env)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, s.Args...)
	cmd.Args[0], cmd.Dir, cmd.Env = s.Name, s.Dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", s.Name, strings.Join(s.Args, " "), err, out.String())
	}
	return nil
}

// Record runs run (one run of a suite binary) with runner.TraceEnv set through
// setenv (a test host's Setenv) and returns the plan of the commands it
// started: the benchmarks' same-work baseline.
func Record(tb testing.TB, setenv func(k, v string), run func()) *Plan {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "trace")
	setenv(runner.TraceEnv, path)
	run()
	setenv(runner.TraceEnv, "")
	spans, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(spans)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
