package rollback

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// CompleteFlags implements cli.Completer: --to completes the generations
// one can go back to, --to-commit the commits they were built from.
func (c *Command) CompleteFlags() []string { return []string{"to", "to-commit"} }

// Complete reads the history and the system profile (never the lock): the
// candidates are what --list shows, newest first.
func (c *Command) Complete(_ context.Context, app *cli.App, flag string) ([]cli.Candidate, error) {
	entries, _, err := loadHistory(append([]string{app.StateDir}, app.ReadStateDirs...)...)
	if err != nil {
		return nil, err
	}
	view := NewView(entries, nixsys.New(app.Getenv, app.Runner))
	cur := view.Current()
	builds := view.Builds()
	slices.Reverse(builds)
	var out []cli.Candidate
	seen := map[string]bool{}
	for _, b := range builds {
		desc := b.Entry.Time.UTC().Format("2006-01-02 15:04")
		if b.Commit != "" {
			desc += ", commit " + brief.ID(b.Commit)
		}
		switch flag {
		case "to":
			if b.Generation == 0 {
				continue
			}
			if view.SystemKnown && view.restorable(b) != nil {
				continue // garbage-collected, or its number reused: --to would refuse it
			}
			if b.Generation == cur {
				desc += " (current)"
			}
			out = append(out, cli.Candidate{Value: strconv.Itoa(b.Generation), Description: desc})
		case "to-commit":
			if b.Commit == "" || seen[b.Commit] {
				continue
			}
			seen[b.Commit] = true
			gen := "never activated"
			if b.Generation > 0 {
				gen = fmt.Sprintf("generation %d", b.Generation)
			}
			out = append(out, cli.Candidate{Value: brief.ID(b.Commit), Description: b.Entry.Time.UTC().Format("2006-01-02 15:04") + ", " + gen})
		}
	}
	return out, nil
}
