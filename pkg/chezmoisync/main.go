// Package chezmoisync implements the chezmoi-sync command: capture the
// home directory's dotfile edits into the chezmoi source directory, commit
// them with jj, rebase them onto the branch all hosts share, push, and
// apply what came in, without ever losing an edit. The sync is a program
// of steps (program.go) run by one driver (engine.go) over a typed run
// state (run.go). The order matters and differs from the seed plan:
// capture happens BEFORE the fetch (a re-add after the rebase would copy
// stale home files over incoming changes), and a conflicting rebase is
// undone and parked on a per-host bookmark instead of being pushed or
// applied. docs/chezmoi-sync.md is the user's manual.
package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runhooks"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "chezmoi-sync",
	Description: "Capture local dotfile edits, rebase them onto the shared remote with jj, push, and apply what came in. " +
		"chezmoi-sync takes the edits made in the home directory into the chezmoi source directory, commits them " +
		"with the host name and time, fetches, rebases them onto the branch all hosts share (jj colocated with git), " +
		"pushes, and applies what the other hosts pushed. Nothing is lost: offline it commits locally and pushes " +
		"next time; a conflicting rebase leaves the home files as they are and parks the commits on sync/<host> " +
		"for chezmoi-show-conflicts. Run it by hand, from the NixOS module's timer, or as chezmoi's update command.",
	Section: "chezmoiSync",
	Examples: []cli.Example{
		{Command: "chezmoi-sync", Explain: "Sync now: capture, commit, fetch, rebase, push, apply; one line per step."},
		{Command: "chezmoi-sync --dry-run", Explain: "Print what would be captured, committed, pushed and applied; change nothing."},
		{Command: "chezmoi-sync --no-auto-push", Explain: "Commit and rebase, but keep the commits on this host for now."},
		{Command: "chezmoi-sync --json --exit-code", Explain: "For scripts and timers: one JSON record on stdout; exit 4 when the remote is unreachable."},
		{Command: "chezmoi-sync --accept-rewind", Explain: "After someone force-pushed the shared branch on purpose: take it as it is (the dropped commits stay on a local bookmark)."},
		{Command: "chezmoi-sync --take-remote ~/.bashrc --keep-local", Explain: "Resolve the parked conflict: main@origin's side for ~/.bashrc, this host's for every other file; then publish, unpark and apply. The side not taken stays in a commit (chezmoi-show-conflicts --history)."},
		{Command: "chezmoi-sync --continue", Explain: "Finish a conflict you resolved by hand in the source directory (refused while conflict markers remain)."},
		{Command: "chezmoi-sync --abort", Explain: "Give up the parked attempt: this host's side goes on a kept/<host>/<time> bookmark, the source and HOME follow main@origin (home edits are kept)."},
		{Command: "chezmoi-sync --undo --list", Explain: "The syncs that can be taken back: when, what came in, what went out."},
		{Command: "chezmoi-sync --undo 2", Explain: "Put HOME and the source back to how they were before the last two syncs (home files edited since are kept); an undo is itself undoable."},
		{Command: "chezmoi-sync --publish", Explain: "Publish a held undo: revert commits are pushed (never a force-push)."},
		{Command: "chezmoi update", Explain: "With update.command = \"chezmoi-sync\" in chezmoi.toml, chezmoi's own update runs the sync (docs/chezmoi-sync.md)."},
	},
	ExitCodes: []exitcode.Use{
		{Code: exitcode.OK, Meaning: "synced, or nothing to do"},
		{Code: exitcode.Failure},
		{Code: exitcode.Usage},
		{Code: exitcode.Locked, Meaning: "another chezmoi-sync holds the sync lock (--wait DURATION waits for it)"},
		{Code: exitcode.Offline, Meaning: "with --exit-code: the remote was unreachable; local commits are kept and pushed next time"},
		{Code: exitcode.Conflicts, Meaning: "the rebase conflicted: the commits are parked on sync/<host>, the home files untouched; or conflicts were already there (nothing changed); or files are still conflicted after --keep-local/--take-remote/--continue (named in the output)"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.Refused, Meaning: "a repository or remote state it will not touch: a git rebase in progress, conflict markers jj does not know, a rewound, deleted or unrelated remote branch, no identity, chezmoi's git.autoPush; an undo whose target holds conflicts or whose repository changed outside chezmoi-sync (nothing was changed)"},
		{Code: exitcode.Interrupted},
	},
}

// Command is the kong model of chezmoi-sync. Every option is a flag, an
// environment variable and (where tagged config) a key of the config file's
// chezmoiSync section; precedence flag > env > config > default.
type Command struct {
	cli.Globals
	cli.DryRunFlag
	SourceDir   string `name:"source-dir" group:"repo" placeholder:"DIR" env:"CHEZMOI_SYNC_SOURCE_DIR" config:"sourceDir" help:"chezmoi source directory (default: chezmoi's, from its config)."`
	RepoURL     string `name:"repo-url" group:"repo" placeholder:"URL" env:"CHEZMOI_SYNC_REPO_URL" config:"repoUrl" help:"Clone this URL (colocated jj) when the source directory is missing."`
	Remote      string `name:"remote" group:"repo" default:"origin" env:"CHEZMOI_SYNC_REMOTE" config:"remote" help:"git remote shared by all hosts."`
	Branch      string `name:"branch" group:"repo" default:"main" env:"CHEZMOI_SYNC_BRANCH" config:"branch" help:"Branch shared by all hosts."`
	Hostname    string `name:"hostname" group:"repo" placeholder:"NAME" env:"CHEZMOI_SYNC_HOSTNAME" config:"hostname" help:"Host name for commit messages and the sync/<host> bookmark (default: the system host name)."`
	AutoCommit  bool   `name:"auto-commit" group:"sync" default:"true" negatable:"" env:"CHEZMOI_SYNC_AUTO_COMMIT" config:"autoCommit" help:"Commit captured edits as chore(<host>): sync dotfiles - <time>."`
	AutoPush    bool   `name:"auto-push" group:"sync" default:"true" negatable:"" env:"CHEZMOI_SYNC_AUTO_PUSH" config:"autoPush" help:"Push the branch after a clean rebase."`
	ExitCode    bool   `name:"exit-code" group:"sync" env:"CHEZMOI_SYNC_EXIT_CODE" help:"Exit 4 when the remote is unreachable (fetch-failed, push-failed) instead of 0."`
	PushRetries int    `name:"push-retries" group:"sync" default:"3" env:"CHEZMOI_SYNC_PUSH_RETRIES" config:"pushRetries" help:"How often to fetch, rebase and push again when another host pushed first."`
	// jj's own default (1 MiB) silently leaves bigger new files untracked.
	MaxNewFileSize int64 `name:"max-new-file-size" group:"sync" default:"67108864" placeholder:"BYTES" env:"CHEZMOI_SYNC_MAX_NEW_FILE_SIZE" config:"maxNewFileSize" help:"Largest new file jj may snapshot (bytes); a bigger one fails the run, naming the file."`
	// Fleet side (docs/fleet.md): node_exporter textfile; the notify.*
	// settings come from the config file (rebuildSmart's, overridden by ours).
	MetricsFile string `name:"metrics-file" group:"monitor" placeholder:"PATH" env:"CHEZMOI_SYNC_METRICS_FILE" config:"metricsFile" help:"Write Prometheus metrics (node_exporter textfile format) to PATH after every run."`
	// A rewound remote branch is refused unless the user says so.
	AcceptRewind bool `name:"accept-rewind" group:"sync" help:"Take the remote branch as it is after a force-push dropped commits this host had (they stay on a local rewound/<host>/<time> bookmark)."`
	// Parked conflicts and undo (docs/chezmoi-sync.md). The path flags take
	// any number of paths after them.
	KeepLocal  PathArgs  `name:"keep-local" group:"sync" help:"Resolve the parked conflict of [PATH...] (home paths like ~/.bashrc, or source paths; none: every conflicted file) with this host's side of each conflicting hunk, then finish the sync. The other side stays in a commit."`
	TakeRemote PathArgs  `name:"take-remote" group:"sync" help:"Resolve the parked conflict of [PATH...] with the remote branch's side of each conflicting hunk, then finish the sync. This host's side stays on a kept/<host>/<time> bookmark."`
	Continue   bool      `name:"continue" group:"sync" help:"Finish a conflict resolved by hand (edit the files in the source directory first); refused while conflict markers remain."`
	Abort      bool      `name:"abort" group:"sync" help:"Give up the parked attempt: this host's side goes on a kept/<host>/<time> bookmark; the source and HOME follow the remote branch (home files edited since are kept)."`
	Undo       UndoArg   `name:"undo" group:"sync" help:"Put HOME and the source back to how they were before the last [N] syncs that changed them (home files edited since are kept and reported); undoable itself."`
	List       bool      `name:"list" group:"sync" help:"With --undo: list the syncs that can be undone (newest first) and change nothing."`
	UndoTo     CommitArg `name:"undo-to" group:"sync" placeholder:"COMMIT" help:"Like --undo, to the files of a given dotfiles commit: a commit id, change id or bookmark name (rebuild-rollback --with-dotfiles uses it)."`
	Publish    bool      `name:"publish" group:"sync" help:"Publish the revert commits of an undo (with --undo, or later alone); never a force-push."`
}

// Main runs chezmoi-sync with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := c.validateMode(); err != nil {
		return err
	}
	// Bad notify.* settings are bad input (exit 2), refused before anything runs.
	notifyCfg, err := runhooks.LoadSyncConfig(app.Config)
	if err != nil {
		return err
	}
	host := c.Hostname
	if host == "" {
		host = app.Hostname()
	}
	rec := &syncstate.Record{
		Version: 1, Start: app.Now(), Host: hostkey.Sanitize(host), Remote: c.Remote, Branch: c.Branch, DryRun: app.DryRun,
	}
	if !app.DryRun || exists(app.StateDir) {
		// A dry run on a fresh host creates no state directory: no run
		// can hold a lock in a directory that does not exist.
		lock, err := app.Lock(ctx, state.SyncLock, syncstate.Files(runMarkerFile, colocationFile, indexFile)...)
		if err != nil {
			// Another run owns the state; it writes the record, not us.
			return err
		}
		defer func() { _ = lock.Release() }()
	}
	prev, err := syncstate.Load(app.StateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		app.IO.Warnf("%v; this run replaces it", err)
	}
	if c.mode() == modeList {
		return listUndoable(app, c, rec.Host)
	}
	r := newRun(c, app, rec, prev)
	runErr := r.execute(ctx, r.program)
	code := r.finish(ctx, runErr)
	if !app.DryRun {
		if err := syncstate.Save(app.StateDir, rec); err != nil {
			app.IO.Warnf("cannot save the sync state: %v", err)
			if runErr == nil && code == exitcode.OK {
				runErr, code = err, exitcode.FromError(err)
			}
		}
	}
	// After Save (LastSuccess carried forward): notify on parked conflicts
	// and failures, write the metrics file; never changes the outcome.
	(&runhooks.Sync{Notify: notifyCfg, Runner: app.Runner, Env: app.Environ, DryRun: app.DryRun,
		MetricsFile: c.MetricsFile, User: runhooks.CurrentUser(app.Getenv), Warn: app.IO.Warnf}).Finish(ctx, rec)
	r.summary(code)
	if c.JSON {
		if err := app.IO.WriteJSON(rec); err != nil {
			return err
		}
	}
	switch {
	case code == exitcode.OK:
		return nil
	case runErr != nil:
		return exitcode.Wrap(code, runErr)
	default:
		return exitcode.Silent{Code: code}
	}
}

// finish settles the record after the program ended: the marker, the
// status word, the error and next step, and the exit code.
func (r *run) finish(ctx context.Context, runErr error) int {
	rec := r.rec
	if r.marker.active {
		rec.OpBefore = r.marker.m.OpBefore
	}
	if ctx.Err() == nil || runErr == nil {
		r.unmark()
	}
	if r.shadow != nil {
		r.shadow.remove()
	}
	r.finalHead(ctx)
	rec.DurationMS = r.app.Now().Sub(rec.Start).Milliseconds()
	if rec.AcceptedRemote == "" && !r.dry {
		rec.AcceptedRemote = r.acceptedRemote()
	}
	if runErr == nil {
		runErr = r.pushErr
	}
	switch {
	case runErr != nil && ctx.Err() != nil:
		rec.Status, rec.Error = syncstate.Interrupted, "interrupted"
		return exitcode.Interrupted
	case runErr != nil:
		return r.failed(runErr)
	}
	if len(rec.Externals) > 0 && rec.Status == "" {
		rec.Status = syncstate.FetchFailed
		rec.Error = "external unreachable: " + rec.Externals[0]
		rec.NextStep = "your edits are committed; the next sync with the network reachable fetches the external"
	}
	if rec.Status == "" && len(rec.Waiting) > 0 {
		rec.Status = syncstate.EditsWaiting
		if rec.NextStep == "" {
			rec.NextStep = rec.Waiting[0].Path + ": " + rec.Waiting[0].Next
		}
	}
	if rec.Status == "" {
		rec.Status = syncstate.Success
	}
	switch rec.Status {
	case syncstate.ConflictsPreserved:
		return exitcode.Conflicts
	case syncstate.FetchFailed, syncstate.PushFailed:
		if r.c.ExitCode {
			return exitcode.Offline
		}
	}
	return exitcode.OK
}

// failed records a run that stopped on an error.
func (r *run) failed(err error) int {
	rec := r.rec
	rec.Error = brief.Line(err.Error())
	if rf, ok := asRefusal(err); ok {
		rec.Status, rec.NextStep = rf.word, rf.next
		return rf.code
	}
	if rec.Status == "" || rec.Status == syncstate.Success || rec.Status == syncstate.EditsWaiting {
		rec.Status = syncstate.Failed
	}
	var big *jj.SnapshotRefusedError
	switch {
	case errors.As(err, &big):
		rec.NextStep = fmt.Sprintf("nothing was committed; list the file(s) in .chezmoiignore and .gitignore of %s if they are not dotfiles, or raise --max-new-file-size (CHEZMOI_SYNC_MAX_NEW_FILE_SIZE) above their size", rec.SourceDir)
	case strings.Contains(rec.Error, "chezmoi status") && strings.Contains(rec.Error, "not a directory"):
		// chezmoi cannot even read the target: a home file stands where
		// the dotfiles have a directory (attack 4, F7).
		rec.NextStep = "a file in your home directory stands where the dotfiles have a directory (the path named above, or one of its parents): move it aside (mv FILE FILE.orig), run chezmoi-sync again, then merge what it held back in by hand"
	}
	return exitcode.FromError(err)
}

// finalHead records the local head after the run: the analysis's view
// when nothing changed after it, else one more query.
func (r *run) finalHead(ctx context.Context) {
	if r.a != nil && !r.stale {
		if p := r.a.parent(); p != nil {
			r.rec.AfterLocal = p.CommitID
		}
		return
	}
	if !r.mutated || ctx.Err() != nil || r.dry {
		return
	}
	if cs, err := r.jj.Commits(ctx, "@-", nil); err == nil && len(cs) > 0 {
		r.rec.AfterLocal = cs[0].CommitID
	}
}

func (c *Command) validate() error {
	for name, v := range map[string]string{"--remote": c.Remote, "--branch": c.Branch} {
		if v == "" || strings.ContainsAny(v, " \t\n\"'\\:^~?*[") || strings.HasPrefix(v, "-") {
			return exitcode.UsageError(fmt.Errorf("%s %q is not a valid git name", name, v))
		}
	}
	if c.MaxNewFileSize <= 0 {
		return exitcode.UsageError(fmt.Errorf("--max-new-file-size %d must be a positive number of bytes", c.MaxNewFileSize))
	}
	if c.PushRetries < 0 || c.PushRetries > 20 {
		return exitcode.UsageError(fmt.Errorf("--push-retries %d is out of range (0-20)", c.PushRetries))
	}
	return nil
}

// backoff is the pause before push retry n (0-based): 200ms, 400ms, 800ms...
// plus a per-host jitter so two hosts that raced do not race again in step.
func backoff(n int, host string) time.Duration {
	d := 200 * time.Millisecond << n
	var h int
	for _, r := range host {
		h = h*31 + int(r)
	}
	if h < 0 {
		h = -h
	}
	return d + time.Duration(h%100)*time.Millisecond
}
