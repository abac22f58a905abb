package rollback

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/history"
)

// listEntry is one history line with what the system says about it.
type listEntry struct {
	history.Entry
	// Generation overrides the recorded one when it was found from the
	// toplevel among the profile links.
	Generation int `json:"generation,omitempty"`
	// Current marks the line describing what runs now.
	Current bool `json:"current"`
	// Available is false when the generation's profile link is gone
	// (garbage-collected): the system cannot go back to it.
	Available bool `json:"available"`
}

// listDoc is the --list --json document.
type listDoc struct {
	History           string      `json:"history"`
	CurrentGeneration int         `json:"current_generation,omitempty"`
	CurrentSystem     string      `json:"current_system,omitempty"`
	Entries           []listEntry `json:"entries"`
}

// Listing joins the history with the system, oldest first.
func (v View) Listing() []listEntry {
	cur := v.Current()
	out := make([]listEntry, 0, len(v.Entries))
	currentAt := -1
	for i, e := range v.Entries {
		g := v.GenOf(e)
		link, linked := v.Links[g]
		// A link to another toplevel is a later system that got the same
		// number: this entry's system is gone.
		available := g > 0 && linked && (e.Toplevel == "" || link == e.Toplevel)
		out = append(out, listEntry{Entry: e, Generation: g, Available: available})
		if cur > 0 && g == cur && available && (e.Successful() || e.Outcome == history.OutcomeRolledBack) {
			currentAt = i
		}
	}
	if currentAt >= 0 {
		out[currentAt].Current = true
	}
	return out
}

func list(app *cli.App, v View) error {
	rows := v.Listing()
	if app.Globals.JSON {
		return app.IO.WriteJSON(listDoc{
			History: histPath(app.StateDir), CurrentGeneration: v.Current(),
			CurrentSystem: v.RunningToplevel, Entries: rows,
		})
	}
	if len(rows) == 0 {
		app.IO.Printf("No builds recorded yet in %s (rebuild-smart records each build).\n", histPath(app.StateDir))
		return nil
	}
	tw := tabwriter.NewWriter(app.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GEN\tTIME\tCOMMIT\tOUTCOME\tSOURCE\tNOTE")
	for _, r := range rows {
		mark, note := " ", ""
		switch {
		case r.Current:
			mark, note = "*", "current"
		case r.Generation > 0 && !r.Available && v.SystemKnown:
			note = "garbage-collected"
		}
		if r.Dirty {
			// Built from uncommitted changes: the commit is not all of it.
			note = strings.TrimPrefix(note+", dirty", ", ")
		}
		gen := "-"
		if r.Generation > 0 {
			gen = strconv.Itoa(r.Generation)
		}
		commit := brief.ID(r.Commit)
		if commit == "" {
			commit = "-"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\n", mark, gen, r.Time.UTC().Format(time.DateTime), commit, r.Outcome, r.Source, note)
	}
	return tw.Flush()
}
