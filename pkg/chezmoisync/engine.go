package chezmoisync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/ui"
)

// The sync is a program of steps held as data (program.go), run by one
// driver. Each step says what it would do (plan) before doing it (run);
// --dry-run is the same driver printing the plans of the steps that change
// something instead of running them, so no step holds a dry-run branch.
// Before a step whose run can leave the repository half-done, the driver
// records the step reached in the run marker (recover.go): an interrupted
// run is repaired from it, and continue/undo can start from it. A step
// moves the program by returning a transition (the push retry goes back to
// the fetch), not by looping itself.

// step is one stage of a sync.
type step interface {
	name() string
	// plan decides, from what earlier steps found, whether and what run
	// would do. It runs in real and dry runs alike and only reads.
	plan(ctx context.Context, r *run) (plan, error)
	// run does what plan said. The driver never calls it in a dry run
	// when the plan changes something.
	run(ctx context.Context, r *run) (outcome, error)
}

// plan is a step's intent.
type plan struct {
	skip  string // nothing to do, and why ("" = run)
	quiet bool   // with skip: not worth a line
	does  string // what run will do, one line (a dry run prints it)
	// changes: run writes to the repository, HOME, the remote or the
	// state directory. A dry run prints the plan instead.
	changes bool
	// marks: a kill inside run can leave the repository half-done; the
	// run marker records this step first.
	marks bool
	// identity: run makes or rewrites jj commits, which need an author.
	identity bool
	// halt: a dry run cannot plan past this step (what later steps would
	// read does not exist yet, such as a clone).
	halt bool
}

// outcome is what a step's run reports.
type outcome struct {
	status string // ui.OK (default), ui.Warn, ui.Failed; "" with no detail: no line
	detail string
	next   string // transition: continue at this step instead of the next one
	stop   bool   // the program ends here
}

// previewer is implemented by steps that make a dry run's plan concrete with
// read-only questions (the fetch asks the remote with git ls-remote).
type previewer interface {
	preview(ctx context.Context, r *run) string
}

// maxTransitions bounds the jumps one run may take (each push retry is one).
const maxTransitions = 64

// execute runs the program.
func (r *run) execute(ctx context.Context, prog []step) error {
	jumps := 0
	for i := 0; i < len(prog); {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := prog[i]
		next, err := r.step(ctx, st)
		if err != nil || next == stopProgram {
			return err
		}
		if next == "" {
			i++
			continue
		}
		if jumps++; jumps > maxTransitions {
			return fmt.Errorf("internal error: more than %d transitions (last to %s)", maxTransitions, next)
		}
		if i = indexOf(prog, next); i < 0 {
			return fmt.Errorf("internal error: step %q is not in the program", next)
		}
	}
	return nil
}

const stopProgram = "\x00stop"

// step plans one step and runs it (or, in a dry run, prints its plan).
// It returns the step to continue at ("" for the next one).
func (r *run) step(ctx context.Context, st step) (string, error) {
	t := time.Now()
	p, err := st.plan(ctx, r)
	if err != nil {
		r.done(st.name(), ui.Failed, errDetail(err), t)
		return "", err
	}
	switch {
	case p.skip != "":
		if !p.quiet {
			r.done(st.name(), ui.Skipped, p.skip, t)
		}
		return "", nil
	case r.dry && p.changes:
		r.printPlan(ctx, st, p, t)
		if p.halt {
			return stopProgram, nil
		}
		return "", nil
	}
	if err := r.prepareStep(ctx, st.name(), p); err != nil {
		r.done(st.name(), ui.Failed, errDetail(err), t)
		return "", err
	}
	o, err := st.run(ctx, r)
	status := o.status
	if err != nil {
		status = ui.Failed
		if o.detail == "" {
			o.detail = errDetail(err)
		}
	}
	if status != "" || o.detail != "" {
		if status == "" {
			status = ui.OK
		}
		r.done(st.name(), status, o.detail, t)
	}
	r.reached(st.name())
	if err != nil {
		return "", err
	}
	if o.stop {
		return stopProgram, nil
	}
	return o.next, nil
}

// prepareStep does what the driver owes a step before its run: the jj
// identity for steps that make commits, and the run marker for steps a kill
// could leave half-done (once a marker exists, every later step updates it,
// so it always names the step reached).
func (r *run) prepareStep(ctx context.Context, name string, p plan) error {
	if p.identity {
		if err := r.ensureIdentity(ctx); err != nil {
			return err
		}
	}
	if p.marks || (p.changes && r.marker.active) {
		return r.mark(ctx, name)
	}
	return nil
}

// printPlan is the dry run's line for a step that would change something.
func (r *run) printPlan(ctx context.Context, st step, p plan, t time.Time) {
	detail := "would " + p.does
	if pv, ok := st.(previewer); ok {
		if extra := pv.preview(ctx, r); extra != "" {
			detail += "; " + extra
		}
	}
	r.planned = append(r.planned, st.name())
	r.done(st.name(), "plan", detail, t)
}

func indexOf(prog []step, name string) int {
	for i, st := range prog {
		if st.name() == name {
			return i
		}
	}
	return -1
}

// errDetail is the one line a failed step shows: a refusal's own message,
// else the error's first line.
func errDetail(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
