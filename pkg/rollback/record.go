package rollback

import (
	"errors"
	"path/filepath"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/state"
)

// record appends an "activated" entry for a toplevel the pre-switch check
// is about to activate. It runs inside someone else's switch (often
// rebuild-smart's, which holds the rebuild lock), so it never takes the
// lock, and a history problem is a warning (an unsafe state directory: exit
// 10), never a failed switch.
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
	sys := nixsys.New(app.Getenv, app.Runner)
	e := history.Entry{
		Time: app.Now().UTC(), Host: hostName(app), Toplevel: c.Record, Action: action,
		Outcome: history.OutcomeActivated, Source: SourceRecord,
	}
	// Before a switch or boot the profile already points at the new
	// generation (nixos-rebuild and nh set it first); a test activation
	// has none.
	if g, ok := sys.GenerationOf(c.Record); ok {
		e.Generation = g.Number
	} else if real, err := filepath.EvalSymlinks(c.Record); err == nil {
		if g, ok := sys.GenerationOf(real); ok {
			e.Generation, e.Toplevel = g.Number, real
		}
	}
	// As root (the pre-switch check) this is root's own state directory; a
	// user's is refused (state.OpenDir): root never writes, creates or
	// chowns anything of a user's.
	if err := history.Append(app.StateDir, e); err != nil {
		// An unsafe state directory is refused (exit 10): the check script
		// warns and the switch goes on all the same.
		var ue *state.UnsafeError
		if errors.As(err, &ue) {
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
	app.IO.Printf("recorded %s activation of %s (generation %d) in %s\n", action, c.Record, e.Generation, histPath(app.StateDir))
	return nil
}
