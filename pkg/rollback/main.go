// Package rollback implements the rebuild-rollback command: back to an
// earlier successful build from rebuild-smart's history — the system
// (through nh, nixos-rebuild or the profile's own switch-to-configuration)
// and the flake repository (through reposave, which never loses uncommitted
// work) — plus --list of that history and the --record entry point the
// NixOS pre-switch check calls.
package rollback

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/reposave"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "rebuild-rollback",
	Description: "Go back to an earlier successful build, system and repository, without losing uncommitted work.",
	Section:     "rebuildSmart",
}

// Command is the kong model of rebuild-rollback.
type Command struct {
	cli.Globals
	cli.DryRunFlag
	cli.ReadStateFlag

	To         string `name:"to" placeholder:"GENERATION" xor:"target" help:"Go back to this system generation (see --list)."`
	ToCommit   string `name:"to-commit" placeholder:"REV" xor:"target" help:"Go back to the latest successful build of this commit."`
	List       bool   `name:"list" short:"l" xor:"target" help:"Show the rebuild history (generation, time, commit, outcome, current) and exit."`
	SystemOnly bool   `name:"system-only" xor:"side" help:"Switch the system only; leave the repository as it is."`
	RepoOnly   bool   `name:"repo-only" xor:"side" help:"Move the repository only; leave the system as it is."`
	Flake      string `name:"flake" placeholder:"PATH" env:"REBUILD_SMART_FLAKE,NH_OS_FLAKE,NH_FLAKE" config:"flake" help:"Flake repository to move (default: the one the build was made from)."`

	// The NixOS pre-switch check (system.preSwitchChecks) calls
	// --record "$toplevel" --action "$action" so generations activated
	// outside rebuild-smart appear in the history.
	Record string `name:"record" placeholder:"TOPLEVEL" xor:"target" hidden:"" help:"Append an 'activated' history entry for TOPLEVEL (used by the pre-switch check); never takes the lock, never fails."`
	Action string `name:"action" placeholder:"ACTION" hidden:"" default:"switch" help:"With --record: the switch-to-configuration action (switch, boot, test)."`
}

// Main runs rebuild-rollback with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// SourceRecord is the history source of --record entries.
const SourceRecord = "pre-switch-check"

// SourceRollback is the history source of rollback entries.
const SourceRollback = "rebuild-rollback"

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	if c.Record != "" {
		return c.record(app)
	}
	if c.Action != "switch" {
		return exitcode.UsageError(errors.New("--action is only valid with --record"))
	}
	sys := nixsys.New(app.Getenv, app.Runner)
	if !c.List && !app.DryRun {
		// Taken before the history and the system are read, so the plan
		// is made from a state no rebuild-smart is changing.
		lock, err := app.Lock(ctx, state.RebuildLock)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	entries, err := loadHistory(append([]string{app.StateDir}, app.ReadStateDirs...)...)
	if err != nil {
		return err
	}
	view := NewView(entries, sys)
	if c.List {
		return list(app, view)
	}
	if len(entries) == 0 {
		return exitcode.UsageError(fmt.Errorf("the rebuild history %s is empty: nothing to roll back to", histPath(app.StateDir)))
	}
	return c.rollback(ctx, app, sys, view)
}

func histPath(dir string) string { return dir + "/" + history.FileName }

// loadHistory reads the history of the state directory and of the other
// side's (--read-state-dir, read-only: root's pre-switch records and timer
// builds for a user), merged oldest first. Missing is "empty", garbled is
// bad input, unsafe is refused (exit 10).
func loadHistory(dirs ...string) ([]history.Entry, error) {
	var all []history.Entry
	sources := 0
	for _, dir := range dirs {
		entries, err := history.Load(dir)
		var ce *state.CorruptError
		var ue *state.UnsafeError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.As(err, &ue):
			return nil, err
		case errors.As(err, &ce):
			return nil, exitcode.UsageError(fmt.Errorf("the rebuild history %s is corrupt (%v); fix or move that line away, nothing was changed", ce.Path, ce.Err))
		case err != nil:
			return nil, exitcode.UsageError(fmt.Errorf("read the rebuild history %s: %w", histPath(dir), err))
		}
		if len(entries) > 0 {
			sources++
		}
		all = append(all, entries...)
	}
	if sources > 1 {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	}
	return all, nil
}

// hostName is the name history entries carry, found the way rebuild-smart
// finds its host: REBUILD_SMART_HOST, the config's host, then the suite's
// host name (NIXDOTS_HOSTNAME), then the machine's.
func hostName(app *cli.App) string {
	if v := app.Getenv("REBUILD_SMART_HOST"); v != "" {
		return v
	}
	var h string
	if ok, err := app.Config.Decode(config.SectionRebuild, "host", &h); ok && err == nil && h != "" {
		return h
	}
	if v := app.Getenv("NIXDOTS_HOSTNAME"); v != "" {
		return v
	}
	return app.Hostname()
}

// report is the --json document of a rollback (or its dry-run plan).
type report struct {
	DryRun     bool             `json:"dry_run"`
	Outcome    string           `json:"outcome"` // planned, rolled-back, units-failed
	Target     targetJSON       `json:"target"`
	System     *systemPlan      `json:"system,omitempty"`
	Repository *reposave.Result `json:"repository,omitempty"`
	// RepoPlan is what the repository side would do (dry run).
	RepoPlan string   `json:"repository_plan,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

type targetJSON struct {
	Generation int       `json:"generation,omitempty"`
	Commit     string    `json:"commit,omitempty"`
	Toplevel   string    `json:"toplevel,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	Source     string    `json:"source,omitempty"`
}

func (c *Command) rollback(ctx context.Context, app *cli.App, sys *nixsys.System, view View) error {
	choice := Choice{To: c.To, SystemOnly: c.SystemOnly, RepoOnly: c.RepoOnly}
	doRepo := !c.SystemOnly
	var repo *reposave.Repo
	var err error
	if doRepo || c.ToCommit != "" {
		repo, err = c.openRepo(app, view)
		if err != nil && doRepo {
			return err
		}
	}
	if c.ToCommit != "" {
		choice.ToCommit = c.ToCommit
		if repo != nil {
			full, err := repo.Resolve(ctx, c.ToCommit)
			if err != nil {
				return err
			}
			choice.ToCommit = full
		}
	}
	build, err := view.Select(choice)
	if err != nil {
		return err
	}
	rep := report{DryRun: app.DryRun, Outcome: "planned", Target: targetJSON{
		Generation: build.Generation, Commit: build.Commit, Toplevel: build.Toplevel,
		Time: build.Entry.Time, Source: build.Entry.Source,
	}}
	if doRepo && build.Commit == "" {
		msg := fmt.Sprintf("no commit is recorded for generation %d (activated outside rebuild-smart): the repository stays as it is", build.Generation)
		app.IO.Warnf("%s", msg)
		rep.Warnings = append(rep.Warnings, msg)
		doRepo = false
	}

	// Everything below is checked before anything changes.
	var target string
	var st *reposave.State
	if doRepo {
		target, err = repo.Resolve(ctx, build.Commit)
		if err != nil {
			return exitcode.UsageError(fmt.Errorf("commit %s of generation %d is not in %s (fetch it, or use --system-only): %w", brief.ID(build.Commit), build.Generation, repo.Root, err))
		}
		if st, err = repo.Inspect(ctx, false); err != nil {
			return err
		}
		if err := st.Check(repo.Root); err != nil {
			return err
		}
	}
	var sp systemPlan
	if !c.RepoOnly {
		sp = planSystem(envLooker{app.Environ}, sys, view, build)
		rep.System = &sp
	}

	c.printPlan(app, build, sp, repo, st, target, &rep)
	if app.DryRun {
		// A dry run takes no lock (it would write the lock file) but says
		// when a real run would find it held.
		if busy, holder, err := app.Busy(state.RebuildLock); err == nil && busy {
			msg := fmt.Sprintf("the rebuild lock is held by %s: a real run would wait (--wait) or exit 3", holder)
			app.IO.Warnf("%s", msg)
			rep.Warnings = append(rep.Warnings, msg)
		}
		if app.Globals.JSON {
			return app.IO.WriteJSON(rep)
		}
		return nil
	}

	unitsFailed := false
	if !c.RepoOnly {
		start := time.Now()
		unitsFailed, err = runSystem(ctx, app.Runner, sys, sp)
		if err != nil {
			app.IO.Step(ui.Failed, "system", err.Error(), time.Since(start))
			note := ""
			if g, gerr := sys.CurrentGeneration(); gerr == nil && g.Number != view.ProfileGen {
				note = fmt.Sprintf(" (the system profile now points at generation %d, which boots next; rebuild-rollback --system-only --to %d puts it back)", g.Number, view.ProfileGen)
			}
			return fmt.Errorf("system switch to generation %d failed%s; the repository was not touched: %w", build.Generation, note, err)
		}
		switch {
		case sp.Unchanged:
			app.IO.Step(ui.Skipped, "system", fmt.Sprintf("already running generation %d", build.Generation), 0)
		case unitsFailed:
			app.IO.Step(ui.Warn, "system", fmt.Sprintf("switched to generation %d, but the activation reported errors (failed units: systemctl --failed)", build.Generation), time.Since(start))
		default:
			app.IO.Step(ui.OK, "system", fmt.Sprintf("generation %d -> %d", sp.From, build.Generation), time.Since(start))
		}
	}
	if doRepo {
		start := time.Now()
		res, err := repo.Move(ctx, target, app.Now())
		rep.Repository = res
		if err != nil {
			where := ""
			if res != nil && res.SavedTo != "" {
				where = fmt.Sprintf("; your uncommitted work is saved in %s (%s)", res.SavedTo, res.Restore)
			}
			app.IO.Step(ui.Failed, "repository", err.Error(), time.Since(start))
			sysNote := ""
			if !c.RepoOnly && !sp.Unchanged {
				sysNote = fmt.Sprintf("the system is at generation %d but ", build.Generation)
			}
			return fmt.Errorf("%sthe repository %s could not be moved to %s: %w%s", sysNote, repo.Root, brief.ID(target), err, where)
		}
		reportRepo(app, res, time.Since(start))
	}
	systemChanged := !c.RepoOnly && !sp.Unchanged
	repoChanged := rep.Repository != nil && (rep.Repository.Moved || rep.Repository.SavedTo != "")
	if !systemChanged && !repoChanged {
		// Nothing moved: no history entry, so "previous" stays what it was.
		rep.Outcome = "unchanged"
		app.IO.Println("Nothing to do: already there.")
		if app.Globals.JSON {
			return app.IO.WriteJSON(rep)
		}
		return nil
	}

	e := history.Entry{
		Time: app.Now().UTC(), Host: build.Entry.Host, Flake: build.Entry.Flake, Commit: build.Commit,
		Generation: build.Generation, Toplevel: build.Toplevel, Action: "switch",
		Outcome: history.OutcomeRolledBack, Source: SourceRollback,
	}
	if e.Host == "" {
		e.Host = hostName(app)
	}
	if repo != nil && doRepo {
		e.Flake = repo.Root
	}
	switch {
	case c.RepoOnly:
		e.Action, e.Generation, e.Toplevel = "repo-only", 0, ""
	case c.SystemOnly || !doRepo:
		e.Action = "system-only"
	}
	if err := history.Append(app.StateDir, e); err != nil {
		msg := fmt.Sprintf("the rollback is done but could not be recorded in the history: %v", err)
		app.IO.Warnf("%s", msg)
		rep.Warnings = append(rep.Warnings, msg)
	}
	rep.Outcome = history.OutcomeRolledBack
	if unitsFailed {
		rep.Outcome = history.OutcomeUnitsFailed
	}
	if app.Globals.JSON {
		if err := app.IO.WriteJSON(rep); err != nil {
			return err
		}
	}
	if unitsFailed {
		return exitcode.Silent{Code: exitcode.UnitsFailed}
	}
	return nil
}

// openRepo finds the flake repository: --flake/NH_OS_FLAKE/NH_FLAKE/config,
// else the flake the history recorded, else the current directory.
func (c *Command) openRepo(app *cli.App, view View) (*reposave.Repo, error) {
	cwd, _ := os.Getwd()
	ref, from := c.Flake, "--flake"
	if ref == "" {
		for i := len(view.Entries) - 1; i >= 0; i-- {
			if f := view.Entries[i].Flake; f != "" {
				ref, from = f, "the rebuild history"
				break
			}
		}
	}
	dir := cwd
	if ref != "" {
		d, ok := FlakeDir(ref, cwd)
		if !ok {
			return nil, exitcode.UsageError(fmt.Errorf("flake %s (from %s) is not a local repository; pass --flake PATH, or --system-only", ref, from))
		}
		dir = d
	}
	return reposave.Open(dir, app.Runner)
}

func (c *Command) printPlan(app *cli.App, b Build, sp systemPlan, repo *reposave.Repo, st *reposave.State, target string, rep *report) {
	io := app.IO
	head := "Rolling back to"
	if app.DryRun {
		head = "Plan (dry run, nothing is changed): back to"
	}
	what := fmt.Sprintf("generation %d", b.Generation)
	if b.Generation == 0 {
		what = "the build"
	}
	if b.Commit != "" {
		what += ", commit " + brief.ID(b.Commit)
	}
	if !b.Entry.Time.IsZero() {
		what += ", built " + b.Entry.Time.UTC().Format("2006-01-02 15:04 UTC")
	}
	io.Printf("%s %s\n", io.Bold(head), what)
	if rep.System != nil {
		switch {
		case sp.Unchanged:
			io.Printf("  system:     already running generation %d\n", b.Generation)
		default:
			for i, cmd := range sp.Commands {
				label := "  system:     "
				if i > 0 {
					label = "              "
				}
				io.Printf("%s%s\n", label, cmd)
			}
		}
	}
	if st != nil {
		rep.RepoPlan = repoPlan(repo, st, target)
		io.Printf("  repository: %s\n", rep.RepoPlan)
	}
}

func repoPlan(repo *reposave.Repo, st *reposave.State, target string) string {
	if st.AtTarget(target) {
		return fmt.Sprintf("%s (%s) is already at %s", repo.Root, repo.Kind, brief.ID(target))
	}
	if repo.Kind == reposave.JJ {
		return fmt.Sprintf("%s (jj): the working-copy change %s stays as it is, with its edits; a new working-copy change on %s", repo.Root, brief.ID(st.Change), brief.ID(target))
	}
	save := ""
	switch {
	case st.Changes > 0:
		save = fmt.Sprintf("save %d uncommitted change(s), untracked files included, to a new branch rollback/<time>, then ", st.Changes)
	case st.Unreachable:
		save = fmt.Sprintf("keep the detached commit %s on a new branch rollback/<time>, then ", brief.ID(st.Head))
	}
	return fmt.Sprintf("%s (git): %sgit checkout --detach %s", repo.Root, save, brief.ID(target))
}

func reportRepo(app *cli.App, res *reposave.Result, d time.Duration) {
	io := app.IO
	if !res.Moved && res.SavedTo == "" {
		io.Step(ui.Skipped, "repository", "already at "+brief.ID(res.To), 0)
		return
	}
	detail := fmt.Sprintf("%s now at %s", res.Root, brief.ID(res.To))
	if res.Kind == reposave.Git && res.Branch != "" {
		detail += fmt.Sprintf(" (detached; branch %s unchanged, back with: git switch %s)", res.Branch, res.Branch)
	}
	if res.Kind == reposave.JJ && res.NewChange != "" {
		detail += fmt.Sprintf(" (new working-copy change %s)", brief.ID(res.NewChange))
	}
	io.Step(ui.OK, "repository", detail, d)
	if res.SavedTo != "" {
		where := "branch " + res.SavedTo
		if res.Kind == reposave.JJ {
			where = fmt.Sprintf("change %s (commit %s)", brief.ID(res.SavedTo), brief.ID(res.SavedCommit))
		}
		io.Printf("  your uncommitted work is in %s; to get it back: %s\n", where, res.Restore)
	}
}
