package rollback

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// record appends an "activated" entry for a toplevel the pre-switch check
// is about to activate. It runs inside someone else's switch (often
// rebuild-smart's, which holds the rebuild lock), so it never takes the
// lock, and a history problem is a warning, never a failed switch.
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
	created := missingDirs(app.StateDir)
	if err := history.Append(app.StateDir, e); err != nil {
		app.IO.Warnf("could not record the activation of %s in the rebuild history: %v (the switch goes on)", c.Record, err)
		return nil
	}
	shareOwner(app.StateDir, created, filepath.Join(app.StateDir, history.FileName))
	if app.Globals.JSON {
		if err := app.IO.WriteJSON(e); err != nil {
			app.IO.Warnf("%v", err)
		}
		return nil
	}
	app.IO.Printf("recorded %s activation of %s (generation %d) in %s\n", action, c.Record, e.Generation, histPath(app.StateDir))
	return nil
}

// missingDirs lists dir and those of its parents that do not exist yet,
// outermost first: the ones Append is about to create.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		out = append([]string{d}, out...)
	}
	return out
}

// shareOwner gives the history file, and the directories Append created for
// it, the owner of the nearest directory that existed before. The check runs
// as root while the history belongs to the user whose state directory it
// is; root-owned 0600 files would lock that user out of their own history.
func shareOwner(dir string, created []string, file string) {
	if os.Geteuid() != 0 {
		return
	}
	owner := dir
	if len(created) > 0 {
		owner = filepath.Dir(created[0])
	}
	st, err := os.Stat(owner)
	if err != nil {
		return
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return
	}
	for _, p := range append(created, file) {
		_ = os.Chown(p, int(sys.Uid), int(sys.Gid))
	}
}
