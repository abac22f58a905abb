package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nixdots/nixdots/pkg/ui"
)

// Phase is one step of a rebuild. Adding a phase means writing a value with
// these three methods and putting it into Pipeline (docs/rebuild-smart.md,
// "Adding a phase").
type Phase interface {
	// Name is the phase's title in the output and the JSON record.
	Name() string
	// Skip returns why the phase does not run this time ("" to run it).
	Skip(r *Run) string
	// Run does the work. A returned error is fatal: later stages do not
	// run. Problems the rebuild survives are reported as Outcome{Status:
	// ui.Warn} with a detail that says what happened and what to do.
	Run(ctx context.Context, r *Run) (Outcome, error)
}

// Outcome is what a phase reports.
type Outcome struct {
	Status string // ui.OK, ui.Warn, ui.Skipped (decided at run time)
	Detail string
}

// Stage is a group of phases run at the same time (they must touch
// different things; phases 2 and 3 work on different repositories).
type Stage []Phase

// Hooks are called around every phase and once at the end; this is where
// user hooks, notifications and metrics attach. A nil Hooks is skipped.
// A BeforePhase error stops the run before that phase (a veto: return
// exitcode.Wrap(exitcode.Vetoed, err) to get exit 9). AfterPhase and Finish
// cannot change the outcome.
type Hooks interface {
	BeforePhase(ctx context.Context, r *Run, p Phase) error
	AfterPhase(ctx context.Context, r *Run, p Phase, res PhaseResult)
	// Finish gets the run's final record (the --json document) before it
	// is printed.
	Finish(ctx context.Context, r *Run, rep *Report)
}

// PhaseResult is one phase's line in the summary and the JSON record.
type PhaseResult struct {
	Number     int           `json:"number"`
	Name       string        `json:"name"`
	Status     string        `json:"status"` // ok, warn, skipped, failed, not-run
	DurationMS int64         `json:"duration_ms"`
	Detail     string        `json:"detail,omitempty"`
	Duration   time.Duration `json:"-"`
}

// StatusNotRun marks phases after a fatal one.
const StatusNotRun = "not-run"

// Engine runs stages in order and the phases of a stage in parallel.
type Engine struct {
	IO    *ui.Streams // nil: no live lines
	Hooks Hooks
}

// Execute runs every stage. It returns the results in phase order and the
// first fatal error (a phase error, a veto, or the context's).
func (e *Engine) Execute(ctx context.Context, r *Run, stages []Stage) ([]PhaseResult, error) {
	var results []PhaseResult
	var fatal error
	n := 0
	if e.IO != nil {
		// A spinner on the live line of a TTY while phases run (a no-op
		// under systemd or in a pipe, where finished-phase lines suffice).
		stop := e.IO.StartSpinner()
		defer stop()
	}
	for _, st := range stages {
		first := n
		n += len(st)
		if fatal != nil {
			for i, p := range st {
				results = append(results, PhaseResult{Number: first + i + 1, Name: p.Name(), Status: StatusNotRun})
			}
			continue
		}
		out := make([]PhaseResult, len(st))
		errs := make([]error, len(st))
		if len(st) == 1 {
			out[0], errs[0] = e.runPhase(ctx, r, st[0], first+1)
		} else {
			var wg sync.WaitGroup
			for i, p := range st {
				wg.Add(1)
				go func(i int, p Phase) {
					defer wg.Done()
					out[i], errs[i] = e.runPhase(ctx, r, p, first+i+1)
				}(i, p)
			}
			wg.Wait()
		}
		results = append(results, out...)
		fatal = errors.Join(errs...)
		if fatal == nil && ctx.Err() != nil {
			fatal = ctx.Err()
		}
	}
	return results, fatal
}

func (e *Engine) runPhase(ctx context.Context, r *Run, p Phase, num int) (PhaseResult, error) {
	res := PhaseResult{Number: num, Name: p.Name()}
	if e.Hooks != nil {
		if err := e.Hooks.BeforePhase(ctx, r, p); err != nil {
			res.Status, res.Detail = ui.Failed, err.Error()
			e.line(res)
			return res, err
		}
	}
	start := time.Now()
	var err error
	if why := p.Skip(r); why != "" {
		res.Status, res.Detail = ui.Skipped, why
	} else {
		var o Outcome
		label := fmt.Sprintf("Phase %d: %s", num, p.Name())
		if e.IO != nil {
			e.IO.Running(label, true)
		}
		o, err = p.Run(ctx, r)
		if e.IO != nil {
			e.IO.Running(label, false)
		}
		res.Status, res.Detail = o.Status, o.Detail
		if res.Status == "" {
			res.Status = ui.OK
		}
		if err != nil {
			res.Status = ui.Failed
			if res.Detail == "" {
				res.Detail = err.Error()
			}
		}
		res.Duration = time.Since(start)
		res.DurationMS = res.Duration.Milliseconds()
	}
	e.line(res)
	if e.Hooks != nil {
		e.Hooks.AfterPhase(ctx, r, p, res)
	}
	return res, err
}

func (e *Engine) line(res PhaseResult) {
	if e.IO == nil {
		return
	}
	e.IO.Step(res.Status, fmt.Sprintf("Phase %d: %s", res.Number, res.Name), res.Detail, res.Duration)
}
