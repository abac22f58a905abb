package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/ui"
)

// ActionClean is the history action of the records --clean appends.
const ActionClean = "clean"

// cleanReport is the --json document of --clean (and of its dry run, which
// has the same generations, decisions and commands).
type cleanReport struct {
	DryRun  bool   `json:"dry_run"`
	Outcome string `json:"outcome"` // planned, cleaned, unchanged
	Profile string `json:"profile"`
	Policy  struct {
		Keep       int    `json:"keep"`
		KeepSince  string `json:"keep_since"` // "" when not set
		KeepPinned bool   `json:"keep_pinned"`
	} `json:"policy"`
	// PinnedFrom is the repository the pins were read from ("" when none
	// was needed or --no-keep-pinned).
	PinnedFrom  string     `json:"pinned_from"`
	Pins        []Pin      `json:"pins"`
	Generations []Decision `json:"generations"`
	Delete      []int      `json:"delete"`
	Commands    []string   `json:"commands"`
	GC          *gcResult  `json:"gc,omitempty"`
	Warnings    []string   `json:"warnings,omitempty"`
	Summary     string     `json:"summary"`
}

type gcResult struct {
	Command string `json:"command"`
	Ran     bool   `json:"ran"`
	Result  string `json:"result,omitempty"` // nix's last line: "N store paths deleted, X MiB freed"
}

// checkClean refuses flags that make no sense with --clean.
func (c *Command) checkClean() error {
	switch {
	case c.SystemOnly || c.RepoOnly:
		return exitcode.UsageError(errors.New("--clean deletes generations; --system-only and --repo-only are for a rollback"))
	case c.Keep < 0:
		return exitcode.UsageError(fmt.Errorf("--keep %d: keep a number of generations, 0 or more", c.Keep))
	case c.KeepSince < 0:
		return exitcode.UsageError(errors.New("--keep-since: a duration such as 30d"))
	}
	return nil
}

// clean deletes the generations the retention policy lets go. The plan is
// made from one reading of the system, the history and the repository's
// refs (the rebuild lock is held for a real run), printed, and for a real
// run carried out exactly: a dry run and the real run print the same plan.
func (c *Command) clean(ctx context.Context, app *cli.App, sys *nixsys.System, view View) error {
	if err := c.checkClean(); err != nil {
		return err
	}
	facts, err := c.cleanFacts(ctx, app, sys, view)
	if err != nil {
		return err
	}
	pol := Retention{Keep: c.Keep, KeepSince: time.Duration(c.KeepSince), KeepPinned: c.KeepPinned}
	rep := &cleanReport{DryRun: app.DryRun, Outcome: "planned", Profile: sys.ProfilePath(), Pins: facts.Pins}
	rep.Policy.Keep, rep.Policy.KeepPinned = pol.Keep, pol.KeepPinned
	if pol.KeepSince > 0 {
		rep.Policy.KeepSince = formatAge(pol.KeepSince)
	}
	rep.PinnedFrom = facts.pinnedFrom
	rep.Generations = pol.Plan(facts.RetentionFacts)
	rep.Delete = toDelete(rep.Generations)
	if rep.Pins == nil {
		rep.Pins = []Pin{}
	}
	if rep.Delete == nil {
		rep.Delete = []int{}
	}
	rep.Commands = []string{}
	if len(rep.Delete) > 0 {
		rep.Commands = append(rep.Commands, sys.DeleteGenerationsCmd(rep.Delete).String())
	}
	if c.GC {
		rep.GC = &gcResult{Command: nixsys.GarbageCollectCmd().String()}
		rep.Commands = append(rep.Commands, rep.GC.Command)
	}
	for _, w := range facts.warnings {
		rep.warn(app, w)
	}
	printCleanPlan(app, pol, rep)
	if !app.DryRun {
		if err := c.runClean(ctx, app, sys, rep); err != nil {
			return err
		}
	}
	rep.Summary = rep.summary()
	app.IO.Println(brief.Safe(rep.Summary))
	if app.Globals.JSON {
		return app.IO.WriteJSON(rep)
	}
	return nil
}

func (r *cleanReport) warn(app *cli.App, msg string) {
	app.IO.Warnf("%s", msg)
	r.Warnings = append(r.Warnings, msg)
}

// cleanFacts are what the plan is made from, plus where the pins came from.
type cleanFacts struct {
	RetentionFacts
	pinnedFrom string
	warnings   []string
}

// cleanFacts reads the system and, when pinned builds are kept and some
// build names a commit, the flake repository's remote tips and tags. A
// profile this tool does not understand, or pins it cannot read, refuse
// the clean-up (exit 2): deleting on a guess could delete the wrong thing.
func (c *Command) cleanFacts(ctx context.Context, app *cli.App, sys *nixsys.System, view View) (cleanFacts, error) {
	gens, err := sys.Generations()
	if err != nil {
		return cleanFacts{}, err
	}
	if len(gens) == 0 {
		return cleanFacts{}, badInput("no system generations under %s: nothing to clean", sys.ProfilePath())
	}
	if _, err := sys.CurrentGeneration(); err != nil {
		return cleanFacts{}, badInput("the system profile does not point at one of its generations (%v): nothing is deleted from a profile in a state this tool does not understand", err)
	}
	f := cleanFacts{RetentionFacts: RetentionFacts{Generations: gens, Now: app.Now(), View: view}}
	f.Running, _ = sys.CurrentSystem()
	f.Booted, _ = sys.BootedSystem()
	if f.Running == "" {
		f.warnings = append(f.warnings, fmt.Sprintf("%s is missing: no generation is kept as the running system", sys.CurrentSystemPath()))
	}
	if !c.KeepPinned || !anyCommit(view) {
		return f, nil
	}
	repo, _, err := c.openRepo(app, view)
	if err == nil {
		f.Pins, err = readPins(ctx, repo)
	}
	if err != nil {
		return cleanFacts{}, exitcode.UsageError(fmt.Errorf("the builds of pushed commits cannot be found, so nothing is deleted: %s; pass --flake PATH (the nix-config repository), or --no-keep-pinned", brief.Line(err.Error())))
	}
	f.pinnedFrom = repo.Root
	return f, nil
}

// anyCommit reports whether some successful build names a commit (else no
// build can be pinned and the repository need not be read).
func anyCommit(v View) bool {
	for _, b := range v.Builds() {
		if b.Commit != "" {
			return true
		}
	}
	return false
}

// runClean deletes the planned generations, records each deletion in the
// history and runs the garbage collection when asked.
func (c *Command) runClean(ctx context.Context, app *cli.App, sys *nixsys.System, rep *cleanReport) error {
	rep.Outcome = "unchanged"
	if len(rep.Delete) > 0 {
		start := time.Now()
		if _, err := sys.DeleteGenerations(ctx, rep.Delete); err != nil {
			app.IO.Step(ui.Failed, "generations", brief.Line(err.Error()), time.Since(start))
			gone := c.recordDeleted(app, sys, rep)
			return fmt.Errorf("deleting generations %s failed (deleted: %s; the rest is as it was): %w", joinInts(rep.Delete), orNone(gone), err)
		}
		app.IO.Step(ui.OK, "generations", "deleted "+joinInts(rep.Delete), time.Since(start))
		c.recordDeleted(app, sys, rep)
		rep.Outcome = "cleaned"
	}
	if rep.GC != nil {
		start := time.Now()
		res, err := app.Runner.Run(ctx, nixsys.GarbageCollectCmd())
		if err != nil {
			app.IO.Step(ui.Failed, "garbage collection", brief.Line(err.Error()), time.Since(start))
			return fmt.Errorf("the generations are deleted (%s) but the garbage collection failed: %w", orNone(rep.Delete), err)
		}
		rep.GC.Ran, rep.GC.Result = true, lastLine(res.Stdout)
		app.IO.Step(ui.OK, "garbage collection", rep.GC.Result, time.Since(start))
		rep.Outcome = "cleaned"
	}
	return nil
}

// recordDeleted appends a "deleted" record for each planned generation
// whose link is gone, and returns those. The build's own records stay:
// --list shows the generation as deleted, with the commit it was built
// from. A history that cannot be written is a warning: the generations
// are gone either way.
func (c *Command) recordDeleted(app *cli.App, sys *nixsys.System, rep *cleanReport) []int {
	var gone []int
	for _, d := range rep.Generations {
		if !d.Delete {
			continue
		}
		if _, err := sys.Generation(d.Generation); err == nil {
			continue // still there: nix refused
		}
		gone = append(gone, d.Generation)
		e := history.Entry{
			Time: app.Now().UTC(), Host: hostName(app), Commit: d.Commit, Generation: d.Generation,
			Toplevel: d.Toplevel, Action: ActionClean, Outcome: history.OutcomeDeleted, Source: SourceRollback,
		}
		if err := history.Append(app.StateDir, e); err != nil {
			rep.warn(app, fmt.Sprintf("generation %d is deleted but could not be marked so in the history: %v", d.Generation, err))
		}
	}
	return gone
}

func orNone(ns []int) string {
	if len(ns) == 0 {
		return "none"
	}
	return joinInts(ns)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(bytes.TrimSpace(b))), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// summary is the last line printed.
func (r *cleanReport) summary() string {
	kept := len(r.Generations) - len(r.Delete)
	what := fmt.Sprintf("delete %d generation(s) (%s) of %s and keep %d", len(r.Delete), orNone(r.Delete), r.Profile, kept)
	if len(r.Delete) == 0 {
		what = fmt.Sprintf("keep all %d generation(s) of %s", kept, r.Profile)
	}
	if r.GC != nil {
		what += ", then collect the store garbage"
	}
	switch {
	case r.DryRun:
		return "Dry run, nothing was changed. A real run would " + what + "."
	case r.Outcome == "unchanged":
		return "Nothing to delete: all " + fmt.Sprint(kept) + " generation(s) stay."
	}
	done := fmt.Sprintf("Deleted %d generation(s) (%s); kept %d", len(r.Delete), orNone(r.Delete), kept)
	if len(r.Delete) == 0 {
		done = fmt.Sprintf("Deleted no generation; kept %d", kept)
	}
	if r.GC != nil && r.GC.Ran {
		done += "; garbage collection: " + r.GC.Result
	}
	return done + "."
}

// printCleanPlan prints the policy and one line per generation: delete or
// keep, and why.
func printCleanPlan(app *cli.App, pol Retention, rep *cleanReport) {
	io := app.IO
	head := "Cleaning up"
	if rep.DryRun {
		head = "Clean-up plan (dry run, nothing is changed) for"
	}
	rules := []string{fmt.Sprintf("the %d newest", pol.Keep)}
	if pol.KeepSince > 0 {
		rules = append(rules, "those made within "+formatAge(pol.KeepSince))
	}
	if pol.KeepPinned {
		pinned := "builds of remote branch tips and tags"
		if rep.PinnedFrom != "" {
			pinned += fmt.Sprintf(" (%d ref(s) in %s)", len(rep.Pins), rep.PinnedFrom)
		}
		rules = append(rules, pinned)
	}
	io.Printf("%s %s: keep %s; always the running, booted, next-boot and last good generations\n", io.Bold(head), rep.Profile, brief.Safe(strings.Join(rules, ", ")))
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GEN\tMADE\tCOMMIT\tPLAN\tWHY")
	for _, d := range rep.Generations {
		plan, commit := "keep", brief.ID(d.Commit)
		if d.Delete {
			plan = "delete"
		}
		if commit == "" {
			commit = "-"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", d.Generation, d.Time.UTC().Format(time.DateTime), brief.Safe(commit), plan, brief.Safe(strings.Join(d.Reasons, "; ")))
	}
	_ = tw.Flush()
	io.Printf("%s", b.String())
	for _, cmd := range rep.Commands {
		io.Printf("  run: %s\n", cmd)
	}
}
