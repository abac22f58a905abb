// Package chezmoistatus implements the chezmoi-status command: the state of
// the dotfile sync for a person (what happened, what is pending, what to do)
// and for scripts (--json, --check). It only reads: jj runs with
// --ignore-working-copy, chezmoi runs status and managed, the state files are
// read as chezmoi-sync atomically wrote them, and a running sync is reported,
// never waited for unless --wait asks.
package chezmoistatus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "chezmoi-status",
	Description: "Show the state of dotfile sync: last run, pending pushes, incoming commits, parked conflicts, drift. " +
		"chezmoi-status only reads: the last chezmoi-sync run and its outcome, commits waiting to be pushed, " +
		"commits on the remote not applied here (as of the last fetch; --fetch fetches first), parked sync/<host> " +
		"bookmarks, conflicts, and the files in the home directory that differ from the source directory, each with " +
		"what to do next. A running sync is reported, never waited for unless --wait asks. With --check it is a " +
		"health check for scripts and timers; --json prints the whole report.",
	Section: "chezmoiSync",
	Examples: []cli.Example{
		{Command: "chezmoi-status", Explain: "What the last sync did, what is pending, and what to do next."},
		{Command: "chezmoi-status --fetch", Explain: "Fetch first, so \"incoming\" counts what the remote has now."},
		{Command: "chezmoi-status --check --max-age 36h", Explain: "Exit 0 when healthy; 5, 1, 12, 6 or 7 for conflicts, a repository jj cannot read, edits waiting for you, a failed last sync, or no success for 36 hours."},
		{Command: "chezmoi-status --json | jq .pending_push", Explain: "For scripts: the report as one JSON document."},
		{Command: "chezmoi-status --limit 0", Explain: "Only the state, without the recent runs and commits."},
	},
	ExitCodes: []exitcode.Use{
		{Code: exitcode.OK, Meaning: "shown (with --check: healthy)"},
		{Code: exitcode.Failure, Meaning: "a step failed; with --check also: jj cannot read the repository (its state is unknown)"},
		{Code: exitcode.Usage},
		{Code: exitcode.Locked, Meaning: "--wait expired while a sync held the lock"},
		{Code: exitcode.Conflicts, Meaning: "--check: conflicts exist (conflicted commits or a parked sync/<host> bookmark)"},
		{Code: exitcode.SyncFailed, Meaning: "--check: the last sync did not succeed"},
		{Code: exitcode.Stale, Meaning: "--check: never synced, or the last success is older than --max-age"},
		{Code: exitcode.Waiting, Meaning: "--check: home edits wait for you (the sync cannot capture them)"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.Interrupted},
	},
	ExitNote: "When several --check problems apply, the first in the order 5, 1, 12, 6, 7 is returned.",
}

// Command is the kong model of chezmoi-status.
type Command struct {
	cli.Globals
	showconflicts.SyncFlags
	Fetch  bool          `name:"fetch" group:"show" help:"Fetch from the remote first (takes the sync lock for the fetch; skipped while a sync runs). Default: no network, as of the last fetch."`
	Limit  int           `name:"limit" group:"show" default:"5" placeholder:"N" help:"Show the last N sync runs and commits (0: none)."`
	Check  bool          `name:"check" group:"check" help:"Exit non-zero when unhealthy: 5 conflicts, 1 repository unreadable, 12 edits waiting for you, 6 last sync failed, 7 stale or never synced."`
	MaxAge time.Duration `name:"max-age" group:"check" default:"0s" placeholder:"DURATION" env:"CHEZMOI_STATUS_MAX_AGE" help:"With --check: the last success must be younger than DURATION (e.g. 36h; 0: no age limit)."`
}

// Main runs chezmoi-status with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	if c.Limit < 0 {
		return exitcode.UsageError(fmt.Errorf("--limit must not be negative, got %d", c.Limit))
	}
	if c.MaxAge < 0 {
		return exitcode.UsageError(fmt.Errorf("--max-age must not be negative, got %s", c.MaxAge))
	}
	loc, err := c.Resolve(ctx, app)
	if err != nil {
		return err
	}
	rep := &Report{
		Version: 1, Host: loc.Host, SourceDir: loc.SourceDir, StateDir: app.StateDir, Remote: loc.Remote, Branch: loc.Branch,
		Upstream: loc.Branch + "@" + loc.Remote, SourceExists: loc.SourceErr == nil,
		PendingPush: []jj.StatusCommit{}, Incoming: []jj.StatusCommit{}, Parked: []Parked{}, ConflictFiles: []string{},
		Templates: []string{}, Log: []jj.StatusCommit{}, History: []syncstate.Record{}, Warnings: []string{},
	}
	if loc.SourceErr != nil {
		rep.Warnings = append(rep.Warnings, loc.SourceErr.Error())
	}
	rep.JJInitialized = rep.SourceExists && jj.HasStatusRepo(loc.SourceDir)

	busy, holder, err := state.Busy(app.StateDir, state.SyncLock)
	if err != nil {
		return err
	}
	if busy && app.Globals.Wait > 0 {
		// Asked to wait for the running sync: wait until nobody holds the
		// lock, without taking it. Taking it would write the lock file,
		// which root must not do in a user's state directory (exit 10);
		// reading needs no lock.
		if err := app.WaitIdle(ctx, state.SyncLock); err != nil {
			return err
		}
		busy = false
	}
	rep.SyncRunning = busy
	if busy {
		rep.SyncHolder = &holder
	}

	if c.Fetch && rep.JJInitialized {
		c.fetch(ctx, app, rep)
	}

	corrupt, scanFailed, unsafe := gather(ctx, app.Exec, rep, app.Getenv("HOME"), c.Limit)
	if unsafe != nil {
		return unsafe
	}
	in := checkInput{rep: rep, recordCorrupt: corrupt, scanFailed: scanFailed, maxAge: c.MaxAge, now: app.Now()}
	rep.Check = evaluate(in)

	if c.JSON {
		if err := app.IO.WriteJSON(rep); err != nil {
			return err
		}
		for _, w := range rep.Warnings {
			app.IO.Warnf("%s", w)
		}
	} else {
		render(app.IO, rep, app.Now(), c.Check)
	}
	if c.Check && rep.Check.Code != exitcode.OK {
		return exitcode.Silent{Code: rep.Check.Code}
	}
	return nil
}

// fetch refreshes <branch>@<remote>. It changes the repository, so unlike
// everything else here it takes the sync lock, and gives way to a running
// sync (which fetches anyway) instead of racing it.
func (c *Command) fetch(ctx context.Context, app *cli.App, rep *Report) {
	if rep.SyncRunning {
		rep.Warnings = append(rep.Warnings, "--fetch skipped: a sync is running and fetches itself")
		return
	}
	lock, err := app.Lock(ctx, state.SyncLock)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			rep.Warnings = append(rep.Warnings, "--fetch skipped: "+err.Error())
			return
		}
		rep.Warnings = append(rep.Warnings, "--fetch failed: "+err.Error())
		return
	}
	defer lock.Release()
	q := &jj.StatusQuery{Runner: app.Runner, Dir: rep.SourceDir}
	if err := q.Fetch(ctx, rep.Remote); err != nil {
		rep.Warnings = append(rep.Warnings, "--fetch failed, showing the state as of the last fetch: "+err.Error())
		return
	}
	rep.Fetched = true
}
