package rollback

import (
	"fmt"
	"path/filepath"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// recordDryRun is the --record --dry-run --json document: the entry a
// real run would append, and where.
type recordDryRun struct {
	DryRun  bool          `json:"dry_run"`
	History string        `json:"history"`
	Entry   history.Entry `json:"entry"`
}

// record appends an "activated" entry for a toplevel the pre-switch check
// is about to activate. It runs inside someone else's switch (often
// rebuild-smart's, which holds the rebuild lock), so it never takes the
// lock, and a history it cannot write is a warning, never a failed switch.
// A state directory it must not write is refused all the same (exit 10 for
// an unsafe one, 2 for a path that is not a directory): the pre-switch
// check warns and the switch goes on. --dry-run writes nothing and says
// what a real run would record.
func (c *Command) record(app *cli.App) error {
	action := c.Action
	switch action {
	case nixsys.ActionDryActivate:
		app.IO.Printf("dry-activate of %s: nothing recorded\n", c.Record)
		return nil
	case nixsys.ActionSwitch, nixsys.ActionBoot, nixsys.ActionTest, "":
		// "" is a check script called without the action: recorded
		// without one.
	default:
		app.IO.Warnf("unknown action %q for %s; recording it as given", action, c.Record)
	}
	e := c.recordEntry(app)
	kind := "activation"
	if action != "" {
		kind = action + " activation"
	}
	what := fmt.Sprintf("%s of %s (%s) in %s", kind, c.Record, genNote(e.Generation), histPath(app.StateDir))
	if app.DryRun {
		app.IO.Printf("Dry run, nothing was recorded. A real run would record the %s.\n", what)
		if app.Globals.JSON {
			return app.IO.WriteJSON(recordDryRun{DryRun: true, History: histPath(app.StateDir), Entry: e})
		}
		return nil
	}
	// As root (the pre-switch check) this is root's own state directory; a
	// user's is refused (state.OpenDir): root never writes, creates or
	// chowns anything of a user's.
	if err := history.Append(app.StateDir, e); err != nil {
		// A state directory that is unsafe (exit 10) or not a directory
		// at all (exit 2) is refused: the check script warns and the
		// switch goes on all the same.
		if code := exitcode.FromError(err); code == exitcode.Unsafe || code == exitcode.Usage {
			return err
		}
		app.IO.Warnf("could not record the activation of %s in the rebuild history: %v (the switch goes on)", c.Record, err)
		return nil
	}
	if app.Globals.JSON {
		if err := app.IO.WriteJSON(e); err != nil {
			app.IO.Warnf("%v", err)
		}
		return nil
	}
	app.IO.Printf("recorded %s\n", what)
	return nil
}

// recordEntry is the entry --record appends: the generation is the newest
// profile link holding the toplevel (before a switch or boot the profile
// already points at the new generation: nixos-rebuild and nh set it first);
// a test activation has none.
func (c *Command) recordEntry(app *cli.App) history.Entry {
	sys := nixsys.New(app.Getenv, app.Runner)
	e := history.Entry{
		Time: app.Now().UTC(), Host: hostName(app), Toplevel: c.Record, Action: c.Action,
		Outcome: history.OutcomeActivated, Source: SourceRecord,
	}
	if g, ok := sys.GenerationOf(c.Record); ok {
		e.Generation = g.Number
	} else if real, err := filepath.EvalSymlinks(c.Record); err == nil {
		if g, ok := sys.GenerationOf(real); ok {
			e.Generation, e.Toplevel = g.Number, real
		}
	}
	return e
}

// genNote names the generation of a recorded activation; 0 is none.
func genNote(n int) string {
	if n == 0 {
		return "no generation: no profile link holds it, as for a test activation"
	}
	return fmt.Sprintf("generation %d", n)
}
