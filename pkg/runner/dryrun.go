package runner

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// DryRun wraps a Runner: commands marked Mutates are printed ("would run:")
// and not executed; read-only queries pass through so the plan is real.
type DryRun struct {
	Inner Runner
	Out   io.Writer
	mu    sync.Mutex
	// Planned lists, in order, every mutating command that was skipped.
	Planned []Cmd
}

// Run implements Runner.
func (d *DryRun) Run(ctx context.Context, c Cmd) (Result, error) {
	if !c.Mutates {
		return d.Inner.Run(ctx, c)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Planned = append(d.Planned, c)
	if d.Out != nil {
		fmt.Fprintf(d.Out, "would run: %s\n", c)
	}
	return Result{}, nil
}

// Recorder wraps a Runner and remembers every command it was asked to run;
// tests use it to count subprocesses and check argv.
type Recorder struct {
	Inner Runner
	mu    sync.Mutex
	Cmds  []Cmd
}

// Run implements Runner.
func (r *Recorder) Run(ctx context.Context, c Cmd) (Result, error) {
	r.mu.Lock()
	r.Cmds = append(r.Cmds, c)
	r.mu.Unlock()
	return r.Inner.Run(ctx, c)
}

// Count returns how many commands were run so far.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.Cmds)
}
