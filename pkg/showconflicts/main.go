// Package showconflicts implements the chezmoi-show-conflicts command: every
// conflicted commit and file of the dotfile repository, in the working copy
// and on this host's parked sync/<host> bookmark (--all-hosts: every
// host's), both sides summarised, with the commands that resolve them. Its
// exit codes follow grep: 0 none, 1 found, 2 or more an error.
package showconflicts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Exit codes of chezmoi-show-conflicts (grep's convention, for scripts).
const (
	ExitNone  = 0 // no conflicts
	ExitFound = 1 // conflicts found
	// Every error is 2 or more: the suite's codes from 2 up keep their
	// meaning (3 locked with --wait, 130 interrupted); a plain failure is 2.
)

// MapExit turns the suite's codes into grep's: conflicts -> 1, failure -> 2.
func MapExit(code int) int {
	switch code {
	case exitcode.OK:
		return ExitNone
	case exitcode.Conflicts:
		return ExitFound
	case exitcode.Failure:
		return exitcode.Usage
	default:
		return code
	}
}

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "chezmoi-show-conflicts",
	Description: "List conflicted dotfile commits and files, with both sides and the commands to resolve them. " +
		"It looks at the working copy of the chezmoi source directory and at this host's parked sync/<host> " +
		"bookmark (--all-hosts: every host's), summarises both sides of each file, and prints the jj and chezmoi " +
		"commands that resolve it. It only reads. The exit status follows grep: 0 no conflicts, 1 conflicts found, " +
		"2 or more an error, so scripts test for conflicts with -q.",
	Section: "chezmoiSync",
	MapExit: MapExit,
	Examples: []cli.Example{
		{Command: "chezmoi-show-conflicts", Explain: "Both sides of every conflict and the commands that resolve it."},
		{Command: "chezmoi-show-conflicts -q || echo 'dotfiles need attention'", Explain: "Only the exit status, like grep -q: 0 no conflicts, 1 conflicts."},
		{Command: "chezmoi-show-conflicts -z | xargs -0 $EDITOR", Explain: "Open the conflicted files (absolute paths in the source directory, NUL-separated)."},
		{Command: "chezmoi-show-conflicts --all-hosts --json", Explain: "Every host's parked conflicts as one JSON document."},
		{Command: "chezmoi-show-conflicts --history", Explain: "The sides chezmoi-sync --keep-local, --take-remote and --abort did not take, and how to bring one back."},
	},
	ExitCodes: []exitcode.Use{
		{Code: ExitNone, Meaning: "no conflicts"},
		{Code: ExitFound, Meaning: "conflicts found"},
		{Code: exitcode.Usage, Meaning: "an error (bad flags, unreadable repository, ...)"},
		{Code: exitcode.Locked, Meaning: "--wait expired while a sync held the lock"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.Interrupted},
	},
	ExitNote: "Like grep's: 1 means found, not failed.",
}

// Command is the kong model of chezmoi-show-conflicts.
type Command struct {
	cli.Globals
	SyncFlags
	AllHosts  bool `name:"all-hosts" group:"show" help:"Also show the sync/<host> bookmarks parked by other hosts."`
	FilesOnly bool `name:"files-only" group:"show" help:"Print only the conflicted paths (absolute, in the source directory), one per line."`
	Null      bool `name:"null" group:"show" short:"z" help:"With --files-only (implied): end each path with NUL instead of a newline."`
	Quiet     bool `name:"quiet" group:"show" short:"q" help:"Print nothing, like grep -q: only the exit status says whether there are conflicts (errors still go to stderr)."`
	History   bool `name:"history" group:"show" help:"List the sides chezmoi-sync's resolutions and aborts did not take, with the commit holding each and how to bring it back (exit 0)."`
}

// Main runs chezmoi-show-conflicts with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Output is the --json document (docs/chezmoi-show-conflicts.md).
type Output struct {
	Version     int           `json:"version"`
	SyncRunning bool          `json:"sync_running"`
	SyncHolder  *state.Holder `json:"sync_holder"`
	Initialized bool          `json:"jj_initialized"`
	*Scan
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	if c.Null {
		c.FilesOnly = true
	}
	if c.FilesOnly && c.JSON {
		return exitcode.UsageError(errors.New("--files-only/-z and --json cannot be combined"))
	}
	if c.Quiet && (c.FilesOnly || c.JSON) {
		return exitcode.UsageError(errors.New("-q/--quiet prints nothing: it cannot be combined with --json, --files-only or -z"))
	}
	if c.History && (c.Quiet || c.FilesOnly || c.AllHosts) {
		return exitcode.UsageError(errors.New("--history lists the sides not taken: it cannot be combined with -q, --files-only, -z or --all-hosts"))
	}
	loc, err := c.Resolve(ctx, app)
	if err != nil {
		return err
	}
	if c.History {
		doc, err := History(app.StateDir, loc.SourceDir)
		if err != nil {
			return err
		}
		if jj.HasStatusRepo(loc.SourceDir) {
			if err := AddUnrecorded(ctx, &jj.StatusQuery{Runner: app.Runner, Dir: loc.SourceDir}, doc); err != nil {
				return err
			}
		}
		if c.JSON {
			return app.IO.WriteJSON(doc)
		}
		RenderHistory(app.IO, doc)
		return nil
	}
	if loc.SourceErr != nil {
		return loc.SourceErr
	}
	busy, holder, err := state.Busy(app.StateDir, state.SyncLock)
	if err != nil {
		return err
	}
	if busy && app.Globals.Wait > 0 {
		// Asked to wait: until the running sync let go of the lock, without
		// taking it (root reading a user's state directory must not write
		// the user's lock file; a reader needs no lock).
		if err := app.WaitIdle(ctx, state.SyncLock); err != nil {
			return err
		}
		busy = false
	}
	if busy && !c.Quiet {
		app.IO.Warnf("a sync is running (%s); showing the repository as it is now (--wait DURATION waits for it)", holder)
	}
	// chezmoi-sync parks nothing on a bookmark when the conflicting edits
	// were never committed (autoCommit off): its record says so, and then
	// the working copy itself is merged with the upstream branch.
	wcCheck := false
	if rec, err := syncstate.Load(app.StateDir); err == nil {
		wcCheck = rec.Status == syncstate.ConflictsPreserved && rec.Parked == ""
	}
	scan, err := Run(ctx, Options{Runner: app.Exec, SourceDir: loc.SourceDir, Remote: loc.Remote, Branch: loc.Branch, Host: loc.Host,
		AllHosts: c.AllHosts, CheckWorkingCopy: wcCheck})
	noRepo := errors.Is(err, ErrNoRepo)
	if err != nil && !noRepo {
		return err
	}
	if noRepo && !c.JSON && !c.Quiet {
		fmt.Fprintf(app.IO.Err, "jj is not initialised in %s yet (chezmoi-sync does it on its first run): no conflicts can exist\n", loc.SourceDir)
	}
	switch {
	case c.Quiet:
	case c.JSON:
		out := Output{Version: 1, SyncRunning: busy, Initialized: !noRepo, Scan: scan}
		if busy {
			out.SyncHolder = &holder
		}
		if err := app.IO.WriteJSON(out); err != nil {
			return err
		}
	case c.FilesOnly:
		if err := WriteFiles(app.IO.Out, scan, c.Null); err != nil {
			return err
		}
	default:
		Render(app.IO, scan)
	}
	if len(scan.Conflicts) > 0 {
		return exitcode.Silent{Code: exitcode.Conflicts}
	}
	return nil
}

// WriteFiles prints the conflicted paths, absolute, one per line or
// NUL-terminated.
func WriteFiles(w io.Writer, s *Scan, null bool) error {
	end := "\n"
	if null {
		end = "\x00"
	}
	for _, f := range s.Files {
		if _, err := io.WriteString(w, s.SourceDir+"/"+f+end); err != nil {
			return err
		}
	}
	return nil
}

// Render prints the human report.
func Render(io *ui.Streams, s *Scan) {
	if len(s.Conflicts) == 0 {
		io.Println(io.Green("No conflicts") + brief.Safe(fmt.Sprintf(" in %s (host %s).", s.SourceDir, s.Host)))
		renderResolved(io, s)
		return
	}
	defer renderResolved(io, s)
	// Everything printed that comes from the repository (commit messages,
	// authors, file names, bookmarks, jj's marker labels) goes through
	// brief.Safe: terminal escapes in them must not reach the terminal.
	io.Println(io.Red(plural(len(s.Conflicts), "conflict")) + brief.Safe(fmt.Sprintf(" in %s (host %s), %s:", s.SourceDir, s.Host, plural(len(s.Files), "file"))))
	for _, c := range s.Conflicts {
		io.Println()
		switch c.Kind {
		case KindParked:
			if c.Bookmark == "" {
				io.Println(io.Bold("working copy") + brief.Safe(fmt.Sprintf(": uncommitted edits of %s that conflict with %s", c.Host, s.Upstream)))
			} else {
				io.Println(io.Bold(brief.Safe(c.Bookmark)) + brief.Safe(fmt.Sprintf(": parked edits of %s that conflict with %s", c.Host, s.Upstream)))
			}
			io.Printf("  ours:   %s\n", brief.Safe(commitList(c.Local)))
			io.Printf("  theirs: %s\n", brief.Safe(commitList(c.Remote)))
		default:
			where := "in the working copy's history"
			if c.Where != "working-copy" {
				where = "on " + c.Where
			}
			io.Println(io.Bold("conflicted commit") + " " + brief.Safe(where+": "+commitLine(c.Commit)))
		}
		for _, f := range c.Files {
			what := plural(f.Hunks, "hunk")
			switch {
			case f.Binary:
				what = "binary file: a side is taken whole"
			case f.Deleted:
				what = "deleted or renamed on one side, changed on the other: a side is taken whole"
			}
			io.Printf("  %s %s\n", io.Yellow(brief.Safe(f.Path)), io.Faint("("+what+")"))
			for i, sd := range f.Sides {
				label := sd.Label
				if label == "" {
					label = fmt.Sprintf("side %d", i+1)
				}
				io.Printf("    side %d: %s", i+1, brief.Safe(label))
				if !f.Binary && !f.Deleted {
					io.Printf(" — %s", plural(sd.Lines, "line"))
				}
				if sd.Preview != "" {
					io.Printf(": %q", sd.Preview)
				}
				io.Println()
			}
		}
		io.Println("  to resolve:")
		for _, cmd := range c.Resolve {
			io.Println("    " + brief.Safe(cmd))
		}
	}
}

// commitLine is "zmymlwtn 03242569 \"b edit\" (b, 2026-11-22 00:01 UTC)".
func commitLine(c jj.StatusCommit) string {
	desc := c.Description
	if desc == "" {
		desc = "(no description)"
	}
	return fmt.Sprintf("%s %s %q (%s, %s)", brief.ID(c.ChangeID), brief.ID(c.CommitID), desc, c.Author, c.Time.UTC().Format("2006-01-02 15:04 UTC"))
}

// commitList summarises one side's commits on one line.
func commitList(cs []jj.StatusCommit) string {
	if len(cs) == 0 {
		return "no commits"
	}
	s := plural(len(cs), "commit") + ", newest " + commitLine(cs[0])
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// renderResolved says that conflicts resolved in the working copy's files
// wait for chezmoi-sync --continue (and nothing else: the recipe is done).
func renderResolved(io *ui.Streams, s *Scan) {
	if len(s.ResolvedFiles) == 0 {
		return
	}
	io.Println()
	io.Println(io.Bold("resolved in the working copy, not published yet") + ": " + brief.Safe(strings.Join(s.ResolvedFiles, ", ")))
	io.Println("  the resolution waits for:")
	io.Println("    " + brief.Safe(ContinueNext(hostkey.ParkBookmark(s.Host))))
}
