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

// genLine is one line of --list: a generation with every history record
// about it folded in (rebuild-smart's build, the pre-switch check's record of
// its activation, rollbacks to it, a failed activation that left it), or one
// attempt that made no generation (a failed or interrupted build, a --build
// run, a repository-only rollback), shown without a number.
type genLine struct {
	Generation int       `json:"generation,omitempty"` // 0: the attempt made none
	Time       time.Time `json:"time"`                 // of the build (its first record)
	Commit     string    `json:"commit,omitempty"`
	Toplevel   string    `json:"toplevel,omitempty"`
	Outcome    string    `json:"outcome"` // of the build; for a line without a generation, of the attempt
	Source     string    `json:"source"`  // who recorded the build
	Action     string    `json:"action,omitempty"`
	Current    bool      `json:"current"`
	Available  bool      `json:"available"`
	// RolledBack counts the rollbacks to this generation; Failed the
	// failed attempts that left it (an activation that failed after the
	// profile was set).
	RolledBack int `json:"rolled_back"`
	Failed     int `json:"failed_attempts"`
	// Dirty: the describing build was made from uncommitted changes, so its
	// commit is not all of it.
	Dirty bool `json:"dirty"`
	// Deleted is when rebuild-rollback --clean deleted the generation
	// (absent when it did not).
	Deleted *time.Time `json:"deleted,omitempty"`
	// FailedChecks are the post-checks a checks-failed build failed.
	FailedChecks []string `json:"failed_checks,omitempty"`
	// DotfilesCommit is the chezmoi source commit the build was made with.
	DotfilesCommit string `json:"dotfiles_commit,omitempty"`
	// Records are the history lines folded into this one, oldest first.
	Records []history.Entry `json:"records"`

	describing bool // the describing record is a build one may go back to
}

// listDoc is the --list --json document. Entries (every history record,
// annotated) predates Generations (the table's lines); both stay.
type listDoc struct {
	History string `json:"history"`
	// AlsoRead are the other side's histories merged in (--read-state-dir).
	AlsoRead          []string    `json:"also_read,omitempty"`
	CurrentGeneration int         `json:"current_generation,omitempty"`
	CurrentSystem     string      `json:"current_system,omitempty"`
	Generations       []genLine   `json:"generations"`
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

// Lines folds the history into one line per generation, in the order the
// generations (and the attempts without one) first appear.
func (v View) Lines() []genLine {
	var lines []*genLine
	latest := map[int]*genLine{} // generation -> its newest line
	for _, e := range v.Entries {
		g := v.lineGen(e)
		if g == 0 {
			lines = append(lines, &genLine{Time: e.Time})
			lines[len(lines)-1].add(e)
			continue
		}
		l := latest[g]
		if l == nil || (e.Toplevel != "" && l.Toplevel != "" && e.Toplevel != l.Toplevel) {
			// nix-env reuses a number after a garbage collection: another
			// system, another line (the old one shows as collected).
			l = &genLine{Generation: g, Time: e.Time}
			latest[g] = l
			lines = append(lines, l)
		}
		l.add(e)
	}
	cur := v.Current()
	out := make([]genLine, 0, len(lines))
	for _, l := range lines {
		if l.Generation > 0 {
			link, linked := v.Links[l.Generation]
			l.Available = linked && (l.Toplevel == "" || link == l.Toplevel)
			l.Current = l.Available && l.Generation == cur
		}
		out = append(out, *l)
	}
	return out
}

// lineGen is the generation a record belongs to on --list. A failed or
// interrupted attempt belongs to a generation only when the system it
// recorded is that generation's: otherwise the number is the one that was
// running when it failed (older rebuild-smart records say so), and the
// attempt made none.
func (v View) lineGen(e history.Entry) int {
	g := v.GenOf(e)
	if g == 0 || e.Successful() || e.Outcome == history.OutcomeRolledBack {
		return g
	}
	if e.Outcome == history.OutcomeDeleted {
		return e.Generation // its link is gone by design; the toplevel finds its line
	}
	if e.Toplevel == "" || v.Links[g] != e.Toplevel {
		return 0
	}
	return g
}

// add folds e into the line. The record describing the build is the first
// successful one naming a commit, else the first successful one, else the
// first of any kind.
func (l *genLine) add(e history.Entry) {
	l.Records = append(l.Records, e)
	if l.Toplevel == "" {
		l.Toplevel = e.Toplevel
	}
	if e.DotfilesCommit != "" {
		l.DotfilesCommit = e.DotfilesCommit
	}
	switch e.Outcome {
	case history.OutcomeDeleted:
		t := e.Time
		l.Deleted = &t
		if len(l.Records) == 1 {
			// A generation no other record names (made by a plain nix-env):
			// the deletion is all that is known.
			l.Outcome, l.Source, l.Action, l.Commit = e.Outcome, e.Source, e.Action, e.Commit
		}
		return
	case history.OutcomeChecksFailed:
		// rebuild-smart's verdict on the build: it was activated, failed its
		// post-checks and was rolled back. That describes the line, over the
		// pre-switch check's "activated".
		l.describing = false
		l.Outcome, l.Source, l.Action, l.Dirty, l.FailedChecks = e.Outcome, e.Source, e.Action, e.Dirty, e.FailedChecks
		if e.Commit != "" {
			l.Commit = e.Commit
		}
		return
	}
	switch {
	case e.Outcome == history.OutcomeRolledBack && l.Generation > 0:
		l.RolledBack++
	case !e.Successful() && e.Outcome != history.OutcomeRolledBack && l.Generation > 0:
		l.Failed++
	}
	better := len(l.Records) == 1 ||
		e.Successful() && l.Outcome != history.OutcomeChecksFailed && (!l.describing || l.Commit == "" && e.Commit != "")
	if !better {
		if l.Commit == "" && e.Commit != "" {
			l.Commit = e.Commit
		}
		return
	}
	l.describing = e.Successful()
	l.Outcome, l.Source, l.Action, l.Dirty = e.Outcome, e.Source, e.Action, e.Dirty
	if e.Commit != "" || l.Commit == "" {
		l.Commit = e.Commit
	}
}

// note is the NOTE column: what else is known about the line.
func (l genLine) note(systemKnown bool) string {
	var notes []string
	switch {
	case l.Current:
		notes = append(notes, "current")
	case l.Generation > 0 && !l.Available && l.Deleted != nil:
		notes = append(notes, "deleted "+l.Deleted.UTC().Format("2006-01-02"))
	case l.Generation > 0 && !l.Available && systemKnown:
		notes = append(notes, "garbage-collected")
	}
	if len(l.FailedChecks) > 0 {
		notes = append(notes, "failed checks: "+strings.Join(l.FailedChecks, ", "))
	}
	if l.Dirty {
		notes = append(notes, "dirty")
	}
	if l.RolledBack > 0 {
		notes = append(notes, "rolled back to "+times(l.RolledBack))
	}
	if l.Failed > 0 {
		notes = append(notes, fmt.Sprintf("%d failed attempt(s)", l.Failed))
	}
	if l.Generation == 0 {
		switch {
		case l.Outcome == history.OutcomeRolledBack:
			notes = append(notes, "repository only")
		case l.Action == "build" && l.Outcome == history.OutcomeSuccess:
			notes = append(notes, "built, never activated")
		case l.describing:
			// A `test` activation, or a system whose link is gone.
			notes = append(notes, "generation unknown")
		default:
			notes = append(notes, "no generation made")
		}
	}
	return strings.Join(notes, ", ")
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func list(app *cli.App, v View) error {
	lines := v.Lines()
	if app.Globals.JSON {
		if lines == nil {
			lines = []genLine{}
		}
		return app.IO.WriteJSON(listDoc{
			History: histPath(app.StateDir), AlsoRead: otherHistories(app), CurrentGeneration: v.Current(),
			CurrentSystem: v.RunningToplevel, Generations: lines, Entries: v.Listing(),
		})
	}
	if len(lines) == 0 {
		app.IO.Printf("No builds recorded yet in %s (rebuild-smart records each build).\n", histPath(app.StateDir))
		return nil
	}
	tw := tabwriter.NewWriter(app.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GEN\tTIME\tCOMMIT\tOUTCOME\tSOURCE\tNOTE")
	for _, l := range lines {
		mark, gen, commit := " ", "-", brief.ID(l.Commit)
		if l.Current {
			mark = "*"
		}
		if l.Generation > 0 {
			gen = strconv.Itoa(l.Generation)
		}
		if commit == "" {
			commit = "-"
		}
		// The history is not only ours to write (root reads a user's): what
		// a terminal would act on in a field is escaped; --json keeps it.
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\n", mark, gen, l.Time.UTC().Format(time.DateTime),
			brief.Safe(commit), brief.Safe(l.Outcome), brief.Safe(l.Source), brief.Safe(l.note(v.SystemKnown)))
	}
	return tw.Flush()
}

// otherHistories are the history files of the other side's directories.
func otherHistories(app *cli.App) []string {
	var out []string
	for _, d := range app.ReadStateDirs {
		out = append(out, histPath(d))
	}
	return out
}
