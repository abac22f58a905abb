package replay

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// TestReplayKeepsTheOverlap: commands that overlapped in the trace run
// side by side (here each waits for the other's file, so run one after
// the other they would never end), one that started after others ended
// waits for them; the trace is what runner.Exec writes.
func TestReplayKeepsTheOverlap(t *testing.T) {
	dir := t.TempDir()
	trace, err := os.Create(filepath.Join(dir, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	x := &runner.Exec{Env: os.Environ(), Trace: trace}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	meet := func(mine, other string) runner.Cmd {
		return runner.Cmd{Name: "sh", Args: []string{"-c", "touch " + mine + "; while [ ! -e " + other + " ]; do sleep 0.01; done"}, Dir: dir, Env: []string{"A=1"}}
	}
	done := make(chan error)
	go func() { _, err := x.Run(ctx, meet("a", "b")); done <- err }()
	if _, err := x.Run(ctx, meet("b", "a")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(ctx, runner.Cmd{Name: "sh", Args: []string{"-c", "test -e a && test -e b && touch marker"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	trace.Close()
	spans, err := Load(trace.Name())
	if err != nil || len(spans) != 3 {
		t.Fatalf("%v %+v", err, spans)
	}
	p, err := New(spans)
	if err != nil {
		t.Fatal(err)
	}
	if p.Overlaps() != 2 || len(p.after[2]) != 2 || len(p.after[0])+len(p.after[1]) != 0 {
		t.Fatalf("overlaps %d, after %v", p.Overlaps(), p.after)
	}
	for _, f := range []string{"a", "b", "marker"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The two commands wait for each other: run one after the other they
	// would hang until this ends; a minute allows for a loaded machine.
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	if err := p.Run(rctx, os.Environ()); err != nil {
		t.Fatalf("replay: %v (the two waiting commands were not run side by side)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "marker")); err != nil {
		t.Fatal("the last command did not run after the others, in its directory")
	}
	if _, err := New([]runner.TraceSpan{{Name: "x", Stdin: true}}); err == nil {
		t.Fatal("a command fed on stdin was accepted")
	}
}
