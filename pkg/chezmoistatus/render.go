package chezmoistatus

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// render prints the report for a person: one marked line per topic
// ([ok]/[warn]/[failed] in plain mode, so logs stay greppable), details
// indented under it, and what to do next where something needs doing.
func render(io *ui.Streams, rep *Report, now time.Time, check bool) {
	// Everything printed that comes from the repository, the records or the
	// command line goes through brief.Safe: a commit message, a file name or
	// a record field holding terminal escapes must not reach the terminal.
	io.Println(io.Bold("chezmoi-status") + fmt.Sprintf(" — host %s", brief.Safe(rep.Host)))
	io.Printf("  source %s\n  state  %s\n", brief.Safe(rep.SourceDir), brief.Safe(rep.StateDir))
	// Running sync first: everything below may be about to change.
	if rep.SyncRunning {
		io.Step(ui.Warn, "Sync running", fmt.Sprintf("%s; this report may be out of date in a moment (--wait DURATION waits for it)", rep.SyncHolder), 0)
	}
	for _, section := range []func(*ui.Streams, *Report, time.Time){renderLastSync, renderRepository, renderConflicts, renderHome, renderRecent} {
		section(io, rep, now)
	}
	for _, w := range rep.Warnings {
		io.Warnf("%s", w)
	}
	if check {
		line := "check: " + rep.Check.Status
		if rep.Check.Code != 0 {
			line += fmt.Sprintf(" (exit %d): %s", rep.Check.Code, strings.Join(rep.Check.Problems, "; "))
		}
		io.Println(brief.Safe(line))
	}
}

// renderLastSync says what the last chezmoi-sync run did and how it ended.
func renderLastSync(io *ui.Streams, rep *Report, now time.Time) {
	r := rep.LastSync
	if r == nil {
		io.Step(ui.Warn, "Last sync", "never (no record in "+rep.StateDir+"; run chezmoi-sync)", 0)
		return
	}
	// Edits waiting for the user are not a failed sync (it did its work).
	status := ui.Failed
	switch r.Status {
	case syncstate.Success:
		status = ui.OK
	case syncstate.EditsWaiting:
		status = ui.Warn
	}
	detail := fmt.Sprintf("%s, %s (%s), took %s, on %s", r.Status, ago(now, r.Start), r.Start.UTC().Format("2006-01-02 15:04:05 UTC"),
		ui.FormatDuration(time.Duration(r.DurationMS)*time.Millisecond), r.Host)
	if did := didWhat(r); did != "" {
		detail += ": " + did
	}
	io.Step(status, "Last sync", detail, 0)
	if r.Error != "" {
		io.Printf("    error: %s\n", brief.Safe(r.Error))
	}
	switch {
	case r.Status == syncstate.ConflictsPreserved && rep.awaitsContinue():
		// The recipe the record names is done: never ask to rebase and
		// edit again.
		io.Printf("    next: %s\n", brief.Safe(showconflicts.ContinueNext(hostkey.ParkBookmark(rep.Host))))
	case r.NextStep != "":
		io.Printf("    next: %s\n", brief.Safe(r.NextStep))
	}
	if r.Status != syncstate.Success {
		if rep.LastSuccess != nil {
			io.Printf("    last success: %s (%s)\n", ago(now, *rep.LastSuccess), rep.LastSuccess.Format("2006-01-02 15:04:05 UTC"))
		} else {
			io.Println("    last success: never")
		}
	}
}

// didWhat is what a sync run did, from its record: only what happened, so
// a failed run that did nothing says nothing (never "nothing to do"), and a
// dry run's record says what it would have done.
func didWhat(r *syncstate.Record) string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	if n := len(r.Captured); n > 0 {
		add("%s captured", plural(n, "file"))
	}
	if r.Committed != "" {
		add("committed %s", brief.ID(r.Committed))
	}
	switch {
	case r.Pushed:
		add("pushed")
	case r.Held && r.PendingPush > 0:
		add("%s held by an unpublished undo", plural(r.PendingPush, "commit"))
	case r.PendingPush > 0:
		add("%s waiting to push", plural(r.PendingPush, "commit"))
	}
	if r.Undo != nil {
		add("undone: back to %s", brief.ID(r.Undo.To))
	}
	if n := len(r.Resolutions); n > 0 {
		add("%s resolved", plural(n, "conflicted file"))
	}
	if r.Kept != nil {
		add("this host's side kept on %s", r.Kept.Bookmark)
	}
	switch {
	case r.Incoming > 0 && appliedIncoming(r):
		add("%s applied", plural(r.Incoming, "incoming commit"))
	case r.Incoming > 0:
		add("%s not applied", plural(r.Incoming, "incoming commit"))
	}
	if r.Parked != "" {
		add("parked on %s", r.Parked)
	}
	if n := len(r.Skipped); n > 0 {
		add("%s not overwritten", plural(n, "home file"))
	}
	if n := len(r.Unmerged); n > 0 {
		add("%s not captured (source changed too)", plural(n, "home edit"))
	}
	switch {
	case len(parts) == 0 && r.Status == syncstate.Success && r.DryRun:
		return "would do nothing"
	case len(parts) == 0 && r.Status == syncstate.Success:
		return "nothing to sync"
	case len(parts) == 0:
		return ""
	case r.DryRun:
		return "would have: " + strings.Join(parts, ", ")
	}
	return strings.Join(parts, ", ")
}

// appliedIncoming: the run's apply step ran (a parked conflict, a refusal
// or a failure before apply brought nothing in, whatever was fetched). A
// record without steps says it by its status.
func appliedIncoming(r *syncstate.Record) bool {
	switch {
	case r.Status == syncstate.ConflictsPreserved || r.Status == syncstate.Refused:
		return false // nothing incoming reaches HOME (an apply then only writes local changes)
	case len(r.Steps) == 0:
		return r.Status == syncstate.Success || r.Status == syncstate.EditsWaiting
	}
	for _, st := range r.Steps {
		if st.Name == "apply" && (st.Status == ui.OK || st.Status == ui.Warn) {
			return true
		}
	}
	return false
}

// renderRepository: pending pushes and incoming commits, or why they are
// unknown.
func renderRepository(io *ui.Streams, rep *Report, _ time.Time) {
	switch {
	case !rep.SourceExists:
		io.Step(ui.Failed, "Source directory", "missing: run chezmoi init (or give --source-dir)", 0)
	case !rep.JJInitialized:
		io.Step(ui.Warn, "jj", "not initialised in the source directory yet; chezmoi-sync initialises it on its first run", 0)
	case rep.RepositoryError != "" && !rep.UpstreamExists:
		// Unknown, not "never fetched": renderConflicts says why.
	case !rep.UpstreamExists:
		io.Step(ui.Warn, "Remote", rep.Upstream+" unknown: never fetched (chezmoi-sync, or chezmoi-status --fetch)", 0)
	default:
		asOf := "as of the last fetch; --fetch refreshes"
		if rep.Fetched {
			asOf = "just fetched"
		}
		pending := plural(len(rep.PendingPush), "local commit") + " not on " + rep.Upstream
		if rep.LastSync != nil && rep.LastSync.Held && len(rep.PendingPush) > 0 {
			pending += ": held by an undo that is not published (chezmoi-sync --publish publishes them; chezmoi-sync --undo takes the undo back)"
		}
		io.Step(mark(len(rep.PendingPush) == 0, ui.Warn), "Pending push", pending, 0)
		commits(io, rep.PendingPush)
		io.Step(mark(len(rep.Incoming) == 0, ui.Warn), "Incoming", plural(len(rep.Incoming), "commit")+" on "+rep.Upstream+" not applied here ("+asOf+")", 0)
		commits(io, rep.Incoming)
	}
}

// renderConflicts: parked bookmarks and conflicted commits.
func renderConflicts(io *ui.Streams, rep *Report, _ time.Time) {
	if len(rep.Parked) > 0 {
		var names []string
		for _, p := range rep.Parked {
			n := p.Name
			if p.Remote != "" {
				n += "@" + p.Remote
			}
			who := "host " + p.Host
			if p.ThisHost {
				who = "this host"
			}
			if p.Pushed {
				who += ", pushed"
			}
			names = append(names, fmt.Sprintf("%s (%s, %s ahead)", n, who, plural(p.Ahead, "commit")))
		}
		io.Step(ui.Warn, "Parked", strings.Join(names, "; "), 0)
		for _, p := range rep.Parked {
			if p.Stale {
				n := p.Name
				if p.Remote != "" {
					n += "@" + p.Remote
				}
				io.Printf("    %s\n", brief.Safe(n+": "+p.Next))
			}
		}
	}
	if !rep.JJInitialized {
		return
	}
	switch {
	case rep.RepositoryError != "":
		// Never "Conflicts: none" when jj could not look.
		io.Step(ui.Failed, "Repository", "jj cannot read it, so conflicts and unpublished commits are unknown: "+rep.RepositoryError, 0)
		io.Printf("    next: %s\n", brief.Safe(RepositoryNext(rep.SourceDir)))
	case rep.Conflicts > 0:
		io.Step(ui.Failed, "Conflicts", fmt.Sprintf("%d (%s): chezmoi-show-conflicts shows both sides; chezmoi-sync --keep-local or --take-remote resolves them, chezmoi-sync --abort gives them up", rep.Conflicts, strings.Join(rep.ConflictFiles, ", ")), 0)
	case rep.awaitsContinue():
		io.Step(ui.Warn, "Conflicts", "none left: "+strings.Join(rep.ResolvedFiles, ", ")+" resolved in the working copy, not published yet: chezmoi-sync --continue publishes the resolution", 0)
	default:
		io.Step(ui.OK, "Conflicts", "none", 0)
	}
}

// renderHome: the home directory against the source directory.
func renderHome(io *ui.Streams, rep *Report, _ time.Time) {
	if d := rep.Drift; d != nil {
		if len(d.ChangedLocally) == 0 && len(d.WouldApply) == 0 {
			io.Step(ui.OK, "Home directory", "matches the source directory", 0)
		} else {
			io.Step(ui.Warn, "Home directory", driftLine(d), 0)
			for _, e := range d.Entries {
				io.Printf("    %s%s %s\n", brief.Safe(e.Local), brief.Safe(e.Apply), brief.Safe(e.Path))
			}
		}
		for _, w := range d.Waiting {
			io.Step(ui.Warn, "Waiting", w.Path+" ("+w.Kind+"): "+w.Next, 0)
		}
	}
	if len(rep.Templates) > 0 {
		io.Step(ui.Warn, "Templates", "changed targets re-add cannot capture (edit the .tmpl in the source directory): "+strings.Join(rep.Templates, ", "), 0)
	}
	if rep.Drift == nil && rep.LastSync != nil && len(rep.LastSync.Unmerged) > 0 {
		// Home edits the last sync could not capture because the source
		// changed too: they live only in HOME until merged by hand. When
		// chezmoi could be asked, the Waiting lines above name them.
		io.Step(ui.Warn, "Unmerged", "home edits not captured, the source changed too (run chezmoi merge FILE, then chezmoi-sync): "+strings.Join(rep.LastSync.Unmerged, ", "), 0)
	}
}

// renderRecent: the last --limit runs and commits.
func renderRecent(io *ui.Streams, rep *Report, _ time.Time) {
	if len(rep.History) > 0 {
		io.Println("Recent syncs:")
		for _, h := range rep.History {
			line := fmt.Sprintf("  %s  %-19s %6s  %s", h.Start.UTC().Format("2006-01-02 15:04 UTC"), h.Status,
				ui.FormatDuration(time.Duration(h.DurationMS)*time.Millisecond), h.Host)
			if did := didWhat(&h); did != "" {
				line += "  " + did
			}
			if h.Error != "" {
				line += "  " + h.Error
			}
			io.Println(brief.Safe(line))
		}
	}
	if len(rep.Log) > 0 {
		io.Println("Recent commits:")
		commits(io, rep.Log)
	}
}

// ago is ui.Ago, with "just now" instead of "0ms ago".
func ago(now, t time.Time) string {
	if d := now.Sub(t); d < time.Second && d > -time.Minute {
		return "just now"
	}
	return ui.Ago(now, t)
}

func mark(ok bool, otherwise string) string {
	if ok {
		return ui.OK
	}
	return otherwise
}

func commits(io *ui.Streams, cs []jj.StatusCommit) {
	for _, c := range cs {
		desc := c.Description
		if desc == "" {
			desc = "(no description)"
		}
		flags := ""
		if c.Conflict {
			flags += " (conflict)"
		}
		if c.WorkingCopy {
			flags += " @"
		}
		if len(c.Bookmarks) > 0 {
			flags += " [" + strings.Join(c.Bookmarks, " ") + "]"
		}
		io.Printf("    %s\n", brief.Safe(fmt.Sprintf("%.8s %.8s %s  %s, %s%s", c.ChangeID, c.CommitID, desc, c.Author, c.Time.UTC().Format("2006-01-02 15:04"), flags)))
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// driftLine says what differs, and never that the next sync captures an
// edit it cannot.
func driftLine(d *Drift) string {
	line := fmt.Sprintf("%s changed locally", plural(len(d.ChangedLocally), "file"))
	switch {
	case len(d.ChangedLocally) == 0:
	case len(d.Waiting) == 0 && len(d.Capturable) == len(d.ChangedLocally):
		line += " (the next sync captures them)"
	default:
		line += fmt.Sprintf(" (the next sync captures %d; %d wait for you, below)", len(d.Capturable), len(d.Waiting))
	}
	return line + fmt.Sprintf(", %s apply would change", plural(len(d.WouldApply), "file"))
}
