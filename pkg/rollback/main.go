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
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/reposave"
	"github.com/nixdots/nixdots/pkg/state"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "rebuild-rollback",
	Description: "Go back to an earlier successful build, system and repository, without losing uncommitted work. " +
		"The system goes back through nh, nixos-rebuild or the generation's own switch-to-configuration; the flake " +
		"repository is checked out at the commit that build was made from, after saving uncommitted work on a " +
		"branch (git) or leaving it in its own change (jj). Without --to it goes back to the build before the " +
		"running one. --with-dotfiles also moves your home dotfiles back to the chezmoi source commit that build was made with, never " +
		"overwriting a home file edited since. --list shows the history rebuild-smart and the pre-switch check record, one line per generation. " +
		"--clean deletes old generations, never the running, booted or last good one, nor the build of a pushed commit.",
	Section: "rebuildSmart",
	Examples: []cli.Example{
		{Command: "rebuild-rollback --list", Explain: "One line per generation: when it was built, from which commit, how it went, which one runs."},
		{Command: "rebuild-rollback", Explain: "Back to the build before the running one: system and repository."},
		{Command: "rebuild-rollback --to 41 --dry-run", Explain: "Show what going back to generation 41 would do; change nothing."},
		{Command: "rebuild-rollback --with-dotfiles --dry-run", Explain: "Show what going back would do to the system, the repository and your home dotfiles; change nothing."},
		{Command: "rebuild-rollback --to 41 --system-only", Explain: "Switch the system to generation 41; leave the repository as it is."},
		{Command: "rebuild-rollback --to-commit 3f2a9c1 --repo-only", Explain: "Check out the commit of that build; leave the system as it is."},
		{Command: "rebuild-rollback --clean --keep 3 --keep-since 30d --dry-run", Explain: "Show which generations a clean-up would delete and why each other one stays."},
		{Command: "rebuild-rollback --clean --gc", Explain: "Delete the generations the policy lets go, then collect the store garbage."},
	},
	ExitCodes: []exitcode.Use{
		{Code: exitcode.OK, Meaning: "rolled back, or already there"},
		{Code: exitcode.Failure, Meaning: "a step failed; the message says which and what was kept"},
		{Code: exitcode.Usage},
		{Code: exitcode.Locked, Meaning: "rebuild-smart or another rebuild-rollback holds the rebuild lock (--with-dotfiles: or chezmoi-sync holds its lock)"},
		{Code: exitcode.Conflicts, Meaning: "--with-dotfiles: a conflict is parked in the dotfiles repository (nothing was changed)"},
		{Code: exitcode.UnitsFailed, Meaning: "switched, but the activation reported failed units (systemctl --failed)"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.Refused, Meaning: "--with-dotfiles: the dotfiles repository is in a state chezmoi-sync's undo will not touch, e.g. changes no sync committed (nothing was changed)"},
		{Code: exitcode.Interrupted},
	},
}

// Command is the kong model of rebuild-rollback.
type Command struct {
	cli.Globals
	cli.DryRunFlag
	cli.ReadStateFlag

	To         string `name:"to" group:"target" placeholder:"GENERATION" xor:"target" help:"Go back to this system generation (see --list)."`
	ToCommit   string `name:"to-commit" group:"target" placeholder:"REV" xor:"target" help:"Go back to the latest successful build of this commit."`
	List       bool   `name:"list" group:"target" short:"l" xor:"target" help:"Show the rebuild history (generation, time, commit, outcome, current) and exit."`
	SystemOnly bool   `name:"system-only" group:"scope" xor:"side" help:"Switch the system only; leave the repository as it is."`
	RepoOnly   bool   `name:"repo-only" group:"scope" xor:"side" help:"Move the repository only; leave the system as it is."`
	Flake      string `name:"flake" group:"scope" placeholder:"PATH" env:"REBUILD_SMART_FLAKE,NH_OS_FLAKE,NH_FLAKE" config:"flake" help:"Flake repository to move (default: the one the build was made from)."`
	// A per-run choice, no config key: a rollback that also rewrites home
	// files is asked for each time.
	WithDotfiles bool `name:"with-dotfiles" group:"scope" help:"Also move your home dotfiles back to the chezmoi source commit the build was made with (chezmoi-sync --undo-to; home files edited since are kept, files replaced are copied first, nothing is published)."`

	// Clean-up (clean.go, retention.go): delete old generations by a
	// retention policy that knows which builds matter.
	Clean      bool         `name:"clean" group:"clean" xor:"target" help:"Delete old system generations: keep the --keep newest and those made within --keep-since; the running, booted and next-boot systems, the last successful build and (unless --no-keep-pinned) the builds of remote branch tips and tags always stay."`
	Keep       int          `name:"keep" group:"clean" placeholder:"N" default:"5" config:"clean.keep" help:"With --clean: keep the N newest generations (default 5)."`
	KeepSince  cli.Duration `name:"keep-since" group:"clean" placeholder:"DURATION" config:"clean.keepSince" help:"With --clean: also keep every generation made within DURATION (e.g. 30d; 0: none by age)."`
	KeepPinned bool         `name:"keep-pinned" group:"clean" negatable:"" default:"true" config:"clean.keepPinned" help:"With --clean: keep the build of every commit that is a remote branch's tip or has a tag (read from the flake repository's refs, no network)."`
	GC         bool         `name:"gc" group:"clean" negatable:"" config:"clean.gc" help:"With --clean: afterwards collect the store garbage (nix-collect-garbage, without -d)."`

	// The NixOS pre-switch check (system.preSwitchChecks) calls
	// --record "$toplevel" --action "$action" so generations activated
	// outside rebuild-smart appear in the history.
	Record string `name:"record" placeholder:"TOPLEVEL" xor:"target" hidden:"" help:"Append an 'activated' history entry for TOPLEVEL (used by the pre-switch check); never takes the lock; a history it cannot write is a warning."`
	Action string `name:"action" placeholder:"ACTION" hidden:"" default:"switch" help:"With --record: the switch-to-configuration action (switch, boot, test)."`
	// histDirs[i] is the state directory view.Entries[i] was read from
	// (loadHistory), for where a repository named by the history came
	// from.
	histDirs []string
	// mover moves the dotfiles (nil: chezmoi-sync, dotfiles.go).
	mover DotfilesMover
}

// checkFlags refuses values the parser accepts but no run can use, before
// anything is read, locked or changed, dry run or not: one line, exit 2. A
// flag given an empty value is refused where its zero value would silently
// mean "not given" (and run a real rollback).
func (c *Command) checkFlags(app *cli.App) error {
	bad := func(format string, a ...any) error { return exitcode.UsageError(fmt.Errorf(format, a...)) }
	given := app.Given
	switch {
	case given("action") && !given("record"):
		return bad("--action is only valid with --record")
	case given("record") && (!filepath.IsAbs(c.Record) || strings.ContainsFunc(c.Record, unicode.IsControl)):
		return bad("--record %q: give the system being activated, an absolute path (the pre-switch check passes its $toplevel)", c.Record)
	case given("action") && strings.ContainsFunc(c.Action, unicode.IsControl):
		return bad("--action %q: not an action (switch, boot, test, dry-activate)", c.Action)
	case given("to"):
		if n, err := strconv.Atoi(strings.TrimSpace(c.To)); err != nil || n <= 0 {
			return bad("--to %q: a generation is a positive number (see --list)", c.To)
		}
	case given("to-commit") && (strings.TrimSpace(c.ToCommit) == "" || strings.HasPrefix(c.ToCommit, "-") || strings.ContainsFunc(c.ToCommit, unicode.IsControl)):
		return bad("--to-commit %q: give a commit id, a branch or a revision that names one commit (see --list)", c.ToCommit)
	case c.WithDotfiles && (c.List || c.Clean || given("record")):
		return bad("--with-dotfiles is only valid with a rollback (not with --list, --clean or --record)")
	case given("flake") && strings.TrimSpace(c.Flake) == "":
		return bad("--flake is empty: give the flake repository, or leave the flag out for the one the history names")
	}
	return nil
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
	if err := c.checkFlags(app); err != nil {
		return err
	}
	if app.Given("record") {
		return c.record(app)
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
	entries, dirs, err := loadHistory(append([]string{app.StateDir}, app.ReadStateDirs...)...)
	if err != nil {
		return err
	}
	c.histDirs = dirs
	view := NewView(entries, sys)
	if c.List {
		return list(app, view)
	}
	if c.Clean {
		return c.clean(ctx, app, sys, view)
	}
	if len(entries) == 0 {
		return exitcode.UsageError(fmt.Errorf("the rebuild history %s is empty: nothing to roll back to", histPath(app.StateDir)))
	}
	return c.rollback(ctx, app, sys, view)
}

func histPath(dir string) string { return dir + "/" + history.FileName }

// loadHistory reads the history of the state directory and of the other
// side's (--read-state-dir, read-only: root's pre-switch records and timer
// builds for a user), merged oldest first. from[i] is the directory
// entries[i] came from. Missing is "empty", garbled is bad input, unsafe is
// refused (exit 10).
func loadHistory(dirs ...string) (entries []history.Entry, from []string, err error) {
	type sourced struct {
		e   history.Entry
		dir string
	}
	var all []sourced
	sources := 0
	for _, dir := range dirs {
		loaded, err := history.Load(dir)
		var ce *state.CorruptError
		var ue *state.UnsafeError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.As(err, &ue):
			return nil, nil, err
		case errors.As(err, &ce):
			return nil, nil, exitcode.UsageError(fmt.Errorf("the rebuild history %s is corrupt (%v); fix or move that line away, nothing was changed", ce.Path, ce.Err))
		case err != nil:
			return nil, nil, exitcode.UsageError(fmt.Errorf("read the rebuild history %s: %w", histPath(dir), err))
		}
		if len(loaded) > 0 {
			sources++
		}
		for _, e := range loaded {
			all = append(all, sourced{e, dir})
		}
	}
	if sources > 1 {
		sort.SliceStable(all, func(i, j int) bool { return all[i].e.Time.Before(all[j].e.Time) })
	}
	for _, s := range all {
		entries = append(entries, s.e)
		from = append(from, s.dir)
	}
	return entries, from, nil
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
	RepoPlan string `json:"repository_plan,omitempty"`
	// Dotfiles is what --with-dotfiles did; DotfilesPlan what it would do
	// (dry run) or planned.
	Dotfiles     *DotfilesMove `json:"dotfiles,omitempty"`
	DotfilesPlan *DotfilesPlan `json:"dotfiles_plan,omitempty"`
	Warnings     []string      `json:"warnings,omitempty"`
	// Summary is the last line printed: what happened, or would.
	Summary string `json:"summary"`
}

type targetJSON struct {
	Generation int       `json:"generation,omitempty"`
	Commit     string    `json:"commit,omitempty"`
	Toplevel   string    `json:"toplevel,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	Source     string    `json:"source,omitempty"`
	// DotfilesCommit is the chezmoi source commit the build was made with
	// (what --with-dotfiles moves the home back to: dotfiles.go).
	DotfilesCommit string `json:"dotfiles_commit,omitempty"`
}

// rollback plans (everything is checked before anything changes), prints
// the plan, and for a real run executes its steps — the system first, then
// the repository — records the result and says what happened.
func (c *Command) rollback(ctx context.Context, app *cli.App, sys *nixsys.System, view View) error {
	p, err := c.plan(ctx, app, sys, view)
	if err != nil {
		return err
	}
	c.printPlan(app, p)
	if app.DryRun {
		return finishDryRun(app, p)
	}
	if err := p.run(ctx, app); err != nil {
		c.recordPartial(app, p)
		return err
	}
	return c.finish(app, p)
}

// recordPartial writes the history entry of a rollback that failed after
// it moved something (the system switched, then the repository could not
// move): the history says which generation runs, for --list and the next
// "previous". A repository step that failed moved nothing: the entry is
// the system's alone.
func (c *Command) recordPartial(app *cli.App, p *rollbackPlan) {
	systemChanged := p.system != nil && p.system.changed()
	repoChanged := p.rep.Repository != nil && (p.rep.Repository.Moved || p.rep.Repository.SavedTo != "")
	if !systemChanged && !repoChanged {
		return
	}
	e := c.historyEntry(app, p)
	if p.system != nil && p.system.unitsFailed {
		e.Outcome = history.OutcomeUnitsFailed
	}
	if p.repo != nil && !repoChanged {
		e.Action = "system-only"
	}
	if err := history.Append(app.StateDir, e); err != nil {
		p.warn(app, fmt.Sprintf("the system was moved but it could not be recorded in the history: %v", err))
	}
}

// rollbackPlan is what a rollback will do, decided before anything changes.
type rollbackPlan struct {
	build  Build
	rep    report
	system *systemStep // nil with --repo-only
	repo   *repoStep   // nil with --system-only, or when no commit is recorded
	// dotfiles is nil without --with-dotfiles, or when the build recorded
	// no dotfiles commit.
	dotfiles *dotfilesStep
}

// plan selects the build and prepares the steps: the repository's target
// is resolved and its state checked (a merge in progress refuses the run),
// the system's switch commands chosen.
func (c *Command) plan(ctx context.Context, app *cli.App, sys *nixsys.System, view View) (*rollbackPlan, error) {
	choice := Choice{To: c.To, SystemOnly: c.SystemOnly, RepoOnly: c.RepoOnly}
	doRepo := !c.SystemOnly
	var repo *reposave.Repo
	var foreign error
	if doRepo || c.ToCommit != "" {
		var src repoSource
		var err error
		repo, src, err = c.openRepo(app, view)
		if err != nil && doRepo {
			return nil, err
		}
		if repo != nil {
			// Checked before git or jj runs there at all; reported once
			// the target is known, to say what to run as the owner.
			if foreign = mayMove(repo, src); foreign != nil {
				repo = nil
			}
		}
	}
	if c.ToCommit != "" {
		choice.ToCommit = c.ToCommit
		if repo != nil {
			full, err := repo.Resolve(ctx, c.ToCommit)
			if err != nil {
				return nil, err
			}
			choice.ToCommit = full
		}
	}
	build, err := view.Select(choice)
	switch {
	case foreign != nil && doRepo && (err == nil || c.ToCommit != ""):
		// (A --to-commit revision could not be resolved in it: the
		// ownership is the first thing to fix.)
		return nil, c.refuseForeign(foreign, build, err == nil)
	case foreign != nil && err != nil && c.ToCommit != "":
		return nil, exitcode.UsageError(fmt.Errorf("%v (another user's repository is not read to resolve --to-commit: give the commit id --list shows)", brief.Line(err.Error())))
	case err != nil:
		return nil, err
	}
	p := &rollbackPlan{build: build, rep: report{DryRun: app.DryRun, Outcome: "planned", Target: targetJSON{
		Generation: build.Generation, Commit: build.Commit, Toplevel: build.Toplevel,
		Time: build.Entry.Time, Source: build.Entry.Source, DotfilesCommit: build.DotfilesCommit,
	}}}
	if doRepo && build.Commit == "" {
		p.warn(app, fmt.Sprintf("no commit is recorded for generation %d (activated outside rebuild-smart): the repository stays as it is", build.Generation))
		doRepo = false
	}
	if doRepo {
		if p.repo, err = planRepo(ctx, repo, build); err != nil {
			return nil, err
		}
		p.rep.RepoPlan = p.repo.plan()
	}
	if c.WithDotfiles {
		if err := c.planDotfiles(ctx, app, p); err != nil {
			return nil, err
		}
	}
	if !c.RepoOnly {
		sp := planSystem(envLooker{environ: app.Environ, root: os.Geteuid() == 0}, sys, view, build)
		p.system = &systemStep{sys: sys, view: view, build: build, plan: sp}
		p.rep.System = &p.system.plan
	}
	return p, nil
}

// planDotfiles adds the dotfiles step: checked (owner, the undo's own
// refusals) before anything runs, like the rest of the plan.
func (c *Command) planDotfiles(ctx context.Context, app *cli.App, p *rollbackPlan) error {
	b := p.build
	if b.DotfilesCommit == "" {
		p.warn(app, fmt.Sprintf("no dotfiles commit is recorded for %s (built before rebuild-smart recorded one, with chezmoi-sync never run, or activated outside rebuild-smart): the dotfiles stay as they are", genName(b)))
		return nil
	}
	histDir := ""
	if b.dotfilesAt > 0 && b.dotfilesAt <= len(c.histDirs) {
		histDir = c.histDirs[b.dotfilesAt-1]
	}
	mover := c.mover
	if mover == nil {
		mover = newSyncMover(app)
	}
	step, err := planDotfiles(ctx, app, mover, b, histDir)
	if err != nil {
		return err
	}
	p.dotfiles = step
	p.rep.DotfilesPlan = step.plan
	return nil
}

func genName(b Build) string {
	if b.Generation == 0 {
		return "the build of " + brief.ID(b.Commit)
	}
	return fmt.Sprintf("generation %d", b.Generation)
}

func (p *rollbackPlan) warn(app *cli.App, msg string) {
	app.IO.Warnf("%s", msg)
	p.rep.Warnings = append(p.rep.Warnings, msg)
}

// run executes the steps in order. A failed step stops the run; its error
// says what the steps before it already changed.
func (p *rollbackPlan) run(ctx context.Context, app *cli.App) error {
	if p.system != nil {
		if err := p.system.run(ctx, app); err != nil {
			return err
		}
	}
	if p.repo != nil {
		done, rest := "", ""
		if p.system != nil && p.system.changed() {
			done = fmt.Sprintf("the system is at generation %d but ", p.build.Generation)
			rest = fmt.Sprintf("rebuild-rollback --repo-only --to %d", p.build.Generation)
		}
		res, err := p.repo.run(ctx, app, done, rest)
		p.rep.Repository = res
		if err != nil {
			return err
		}
	}
	if p.dotfiles != nil {
		err := p.dotfiles.run(ctx, app, p.doneSoFar())
		p.rep.Dotfiles = p.dotfiles.result
		if err != nil {
			return err
		}
	}
	return nil
}

// doneSoFar names what the system and repository steps changed, for the
// message of a dotfiles step that fails after them.
func (p *rollbackPlan) doneSoFar() string {
	var parts []string
	if p.system != nil && p.system.changed() {
		parts = append(parts, fmt.Sprintf("the system is at generation %d", p.build.Generation))
	}
	if r := p.rep.Repository; r != nil && (r.Moved || r.SavedTo != "") {
		parts = append(parts, fmt.Sprintf("the repository %s at %s", r.Root, brief.ID(r.To)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ") + ", but "
}

// finishDryRun says what a real run would do. A dry run takes no lock (it
// would write the lock file) but says when a real run would find it held.
func finishDryRun(app *cli.App, p *rollbackPlan) error {
	if busy, holder, err := app.Busy(state.RebuildLock); err == nil && busy {
		p.warn(app, fmt.Sprintf("the rebuild lock is held by %s: a real run would wait (--wait) or exit 3", holder))
	}
	p.rep.Summary = p.summary()
	app.IO.Println(brief.Safe(p.rep.Summary))
	if app.Globals.JSON {
		return app.IO.WriteJSON(p.rep)
	}
	return nil
}

// finish records the rollback in the history (when something moved), says
// what happened and returns the exit code's error.
func (c *Command) finish(app *cli.App, p *rollbackPlan) error {
	systemChanged := p.system != nil && p.system.changed()
	repoChanged := p.rep.Repository != nil && (p.rep.Repository.Moved || p.rep.Repository.SavedTo != "")
	dotfilesChanged := p.dotfiles != nil && p.dotfiles.changed()
	switch {
	case !systemChanged && !repoChanged && !dotfilesChanged:
		// Nothing moved: no history entry, so "previous" stays what it was.
		p.rep.Outcome = "unchanged"
	case p.system != nil && p.system.unitsFailed:
		p.rep.Outcome = history.OutcomeUnitsFailed
	default:
		p.rep.Outcome = history.OutcomeRolledBack
	}
	if systemChanged || repoChanged || dotfilesChanged {
		if err := history.Append(app.StateDir, c.historyEntry(app, p)); err != nil {
			p.warn(app, fmt.Sprintf("the rollback is done but could not be recorded in the history: %v", err))
		}
	}
	p.rep.Summary = p.summary()
	app.IO.Println(brief.Safe(p.rep.Summary))
	if app.Globals.JSON {
		if err := app.IO.WriteJSON(p.rep); err != nil {
			return err
		}
	}
	if p.rep.Outcome == history.OutcomeUnitsFailed {
		return exitcode.Silent{Code: exitcode.UnitsFailed}
	}
	return nil
}

// historyEntry is the rollback's record: the target build, with what moved.
func (c *Command) historyEntry(app *cli.App, p *rollbackPlan) history.Entry {
	b := p.build
	e := history.Entry{
		Time: app.Now().UTC(), Host: b.Entry.Host, Flake: b.Entry.Flake, Commit: b.Commit,
		Generation: b.Generation, Toplevel: b.Toplevel, Action: "switch",
		Outcome: history.OutcomeRolledBack, Source: SourceRollback,
	}
	if e.Host == "" {
		e.Host = hostName(app)
	}
	if p.repo != nil {
		e.Flake = p.repo.repo.Root
	}
	switch {
	case c.RepoOnly:
		e.Action, e.Generation, e.Toplevel = "repo-only", 0, ""
	case p.repo == nil:
		e.Action = "system-only"
	}
	if p.dotfiles != nil && p.dotfiles.changed() {
		// What the home was moved to, so --list shows it on the line.
		e.DotfilesCommit, e.DotfilesSource = p.dotfiles.result.To, p.dotfiles.result.Source
	}
	return e
}

// summary is the last line: what happened, or for a dry run what would.
func (p *rollbackPlan) summary() string {
	var parts []string
	if s := p.system; s != nil {
		switch {
		case s.plan.Unchanged:
			parts = append(parts, fmt.Sprintf("the system already runs generation %d", p.build.Generation))
		case p.rep.DryRun:
			parts = append(parts, fmt.Sprintf("switch the system from generation %d to %d", s.plan.From, p.build.Generation))
		case s.unitsFailed:
			parts = append(parts, fmt.Sprintf("switched the system to generation %d, but the activation reported failed units (systemctl --failed)", p.build.Generation))
		default:
			parts = append(parts, fmt.Sprintf("switched the system from generation %d to %d", s.plan.From, p.build.Generation))
		}
	}
	if r := p.repo; r != nil {
		parts = append(parts, r.summary(p.rep.DryRun, p.rep.Repository))
	}
	if d := p.dotfiles; d != nil {
		parts = append(parts, d.summary(p.rep.DryRun))
	}
	what := strings.Join(parts, "; ")
	switch {
	case p.rep.DryRun && (p.system == nil || p.system.plan.Unchanged) && (p.repo == nil || p.repo.atTarget()) && (p.dotfiles == nil || p.dotfiles.plan.AtTarget):
		return "Dry run, nothing to do: " + what + "."
	case p.rep.DryRun:
		return "Dry run, nothing was changed. A real run would " + what + "."
	case p.rep.Outcome == "unchanged":
		return "Nothing to do: " + what + "."
	default:
		return upperFirst(what) + "."
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// openRepo finds the flake repository: --flake/NH_OS_FLAKE/NH_FLAKE/config,
// else the flake the history recorded, else the current directory.
func (c *Command) openRepo(app *cli.App, view View) (*reposave.Repo, repoSource, error) {
	cwd, _ := os.Getwd()
	src := repoSource{ref: c.Flake, from: "--flake"}
	if src.ref == "" {
		for i := len(view.Entries) - 1; i >= 0; i-- {
			if f := view.Entries[i].Flake; f != "" {
				src.ref, src.from = f, "the rebuild history"
				if i < len(c.histDirs) {
					src.histDir = c.histDirs[i]
				}
				break
			}
		}
	}
	dir := cwd
	if src.ref != "" {
		d, ok := FlakeDir(src.ref, cwd)
		if !ok {
			return nil, src, exitcode.UsageError(fmt.Errorf("flake %s (from %s) is not a local repository; pass --flake PATH, or --system-only", src.ref, src.from))
		}
		dir = d
	}
	repo, err := reposave.Open(dir, app.Runner)
	return repo, src, err
}

// refuseForeign is the line refusing a repository of another user's, with
// what to run as its owner: the target as flags.
func (c *Command) refuseForeign(err error, b Build, selected bool) error {
	fe, ok := err.(*foreignRepoError)
	if !ok {
		return err
	}
	how := ""
	switch {
	case selected && b.Generation > 0:
		how = fmt.Sprintf("--to %d", b.Generation)
	case selected && b.Commit != "":
		how = "--to-commit " + brief.ID(b.Commit)
	case c.To != "":
		how = "--to " + strings.TrimSpace(c.To)
	case c.ToCommit != "":
		how = "--to-commit " + c.ToCommit
	}
	if c.WithDotfiles {
		// The owner's run moves the owner's dotfiles too.
		how = strings.TrimSpace(how + " --with-dotfiles")
	}
	return exitcode.UsageError(errors.New(fe.message(how, c.RepoOnly)))
}

func (c *Command) printPlan(app *cli.App, p *rollbackPlan) {
	io, b := app.IO, p.build
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
	// The commit and the repository come from the history, which is not
	// only ours to write: what a terminal would act on is escaped.
	io.Printf("%s %s\n", io.Bold(head), brief.Safe(what))
	if p.system != nil {
		for i, line := range p.system.planLines() {
			label := "  system:     "
			if i > 0 {
				label = "              "
			}
			io.Printf("%s%s\n", label, brief.Safe(line))
		}
	}
	if p.repo != nil {
		io.Printf("  repository: %s\n", brief.Safe(p.rep.RepoPlan))
	}
	if p.dotfiles != nil {
		io.Printf("  dotfiles:   %s\n", brief.Safe(p.dotfiles.planLine()))
	}
}
