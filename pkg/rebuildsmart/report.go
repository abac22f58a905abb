package rebuildsmart

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/secretscan"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// Report is the --json document (docs/rebuild-smart.md lists the fields).
// Add fields, never rename them; every documented field is always present
// (null, 0, "" or [] when it does not apply): consumers must not see
// fields come and go.
type Report struct {
	Version        int                  `json:"version"` // schema version, 1
	Outcome        OutcomeWord          `json:"outcome"`
	ExitCode       int                  `json:"exit_code"`
	Host           string               `json:"host"`
	Flake          string               `json:"flake"`
	VCS            string               `json:"vcs"`
	Mode           string               `json:"mode"`
	DryRun         bool                 `json:"dry_run"`
	Online         bool                 `json:"online"`
	OfflineReason  string               `json:"offline_reason"`
	Start          time.Time            `json:"start"`
	DurationMS     int64                `json:"duration_ms"`
	CommitBefore   string               `json:"commit_before"`
	CommitAfter    string               `json:"commit_after"`
	Committed      string               `json:"committed"`
	Pushed         bool                 `json:"pushed"`
	Dirty          bool                 `json:"dirty"`
	PrevSystem     string               `json:"previous_system"`
	PrevGeneration int                  `json:"previous_generation"`
	Toplevel       string               `json:"toplevel"`
	Generation     int                  `json:"generation"`
	Evaluated      bool                 `json:"evaluated"`
	Fingerprint    string               `json:"fingerprint"`
	SwitchCommand  string               `json:"switch_command"`
	Diff           *nixsys.ClosureDiff  `json:"diff"`
	Changelog      []flake.Change       `json:"changelog"`
	IntentToAdd    []string             `json:"intent_to_add"`
	Withheld       []secretscan.Finding `json:"withheld"`
	FailedUnits    []string             `json:"failed_units"`
	Upstream       *vcs.SyncResult      `json:"upstream"`
	Dotfiles       *syncstate.Record    `json:"dotfiles"`
	Phases         []PhaseResult        `json:"phases"`
	Warnings       []string             `json:"warnings"`
	Error          string               `json:"error"`
	RollbackCmd    string               `json:"rollback_command"`
	RolledBack     bool                 `json:"rolled_back"`
	FailedChecks   []string             `json:"failed_checks"`
	NextStep       string               `json:"next_step"`
	TargetHost     string               `json:"target_host"`
	Confirmation   *Confirmation        `json:"confirmation"`
	BuildHost      string               `json:"build_host"`
	Unattended     bool                 `json:"unattended"`
	// ActionReason says why the action differs from the one asked for
	// (unattended.boot, changed switch inhibitors).
	ActionReason string `json:"action_reason"`
	HooksFailed  int    `json:"hooks_failed"`
}

func (r *Run) report(results []PhaseResult, code int, err error) Report {
	rep := Report{
		Version: 1, ExitCode: code, Host: r.Host, Flake: r.Flake.Ref.Dir, Mode: r.Mode, DryRun: r.App.DryRun,
		Online: r.VCS.Online, OfflineReason: r.VCS.OfflineReason, Start: r.Start.UTC(),
		DurationMS:   r.App.Now().Sub(r.Start).Milliseconds(),
		CommitBefore: r.VCS.CommitBefore, CommitAfter: r.VCS.CommitAfter, Committed: r.VCS.Committed, Pushed: r.VCS.Pushed,
		PrevSystem: r.System.PrevSystem, PrevGeneration: r.System.PrevGeneration, Toplevel: r.System.Toplevel,
		Generation: r.System.Generation, Evaluated: r.Flake.Evaluated, Fingerprint: r.Flake.Fingerprint,
		SwitchCommand: r.System.ActivateCmd, Diff: r.System.Diff, Changelog: r.Flake.Changelog,
		IntentToAdd: r.VCS.Added, Withheld: r.VCS.Withheld, FailedUnits: r.System.FailedUnits,
		Upstream: r.VCS.Upstream, Dotfiles: r.Dotfiles, Phases: results, Warnings: r.Warnings,
		RollbackCmd: r.System.RollbackHint, RolledBack: r.System.RolledBack, FailedChecks: r.System.FailedChecks, NextStep: r.NextStep,
		TargetHost: r.Target.TargetHost, Confirmation: r.System.Confirm, BuildHost: r.Target.BuildHost, Unattended: r.Cmd.Unattended,
		ActionReason: r.ActionReason,
	}
	if r.Outcome.recorded() {
		rep.Dirty = r.builtDirty()
	}
	if !r.Outcome.madeGeneration() {
		rep.Generation = 0 // declined, nothing to switch: no generation was made
	}
	rep.Changelog = nonNil(rep.Changelog)
	rep.Phases = nonNil(rep.Phases)
	rep.Warnings = nonNil(rep.Warnings)
	rep.IntentToAdd = nonNil(rep.IntentToAdd)
	rep.Withheld = nonNil(rep.Withheld)
	rep.FailedUnits = nonNil(rep.FailedUnits)
	rep.FailedChecks = nonNil(rep.FailedChecks)
	if r.VCS.Repo != nil {
		rep.VCS = r.VCS.Repo.Kind()
	}
	if err != nil {
		rep.Error = brief.Line(err.Error())
	}
	rep.Outcome = r.finalOutcome(code)
	return rep
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// finalOutcome is the run's word: the build's, or why there was none.
func (r *Run) finalOutcome(code int) OutcomeWord {
	switch {
	case code == exitcode.Interrupted:
		return OutcomeInterrupted
	case code == exitcode.Usage:
		return OutcomeBadInput
	case code == exitcode.Locked:
		return OutcomeLocked
	case code == exitcode.Vetoed:
		return OutcomeVetoed
	case code == exitcode.UnitsFailed:
		return OutcomeUnitsFailed
	case code == exitcode.RolledBack:
		return OutcomeRolledBack
	case code != exitcode.OK:
		return OutcomeFailed
	case r.App.DryRun:
		return OutcomeDryRun
	case r.Outcome == OutcomeNothingToSwitch, r.Outcome == OutcomeDeclined:
		return r.Outcome
	}
	return OutcomeSuccess
}

// printSummary prints the table the seed shows, then the outcome line and,
// on failure, what to do next.
func (r *Run) printSummary(rep Report) {
	io := r.IO
	io.Println("")
	io.Println(io.Bold("Summary"))
	for _, p := range rep.Phases {
		d := ""
		if p.Duration > 0 {
			d = ui.FormatDuration(p.Duration)
		}
		status := p.Status
		if status != StatusNotRun {
			status = io.Mark(p.Status)
		} else {
			status = "[not run]"
		}
		io.Println(fmt.Sprintf("  %-10s %d %-15s %7s  %s", status, p.Number, p.Name, d, clip(brief.Safe(p.Detail), 100)))
	}
	total := ui.FormatDuration(time.Duration(rep.DurationMS) * time.Millisecond)
	switch rep.Outcome {
	case OutcomeSuccess:
		io.Println(io.Green(fmt.Sprintf("rebuild-smart: %s: %s in %s", rep.Host, r.builtDetail(), total)))
	case OutcomeNothingToSwitch:
		io.Println(io.Green(fmt.Sprintf("rebuild-smart: %s: nothing to switch (generation %d is current) in %s", rep.Host, r.System.PrevGeneration, total)))
	case OutcomeDeclined:
		io.Println(fmt.Sprintf("rebuild-smart: %s: not activated (answered no) in %s", rep.Host, total))
		io.Println("  next: " + rep.NextStep)
	case OutcomeDryRun:
		io.Println(fmt.Sprintf("rebuild-smart: %s: dry run finished in %s; nothing was changed", rep.Host, total))
	case OutcomeUnitsFailed:
		io.Println(io.Yellow(fmt.Sprintf("rebuild-smart: %s: switched to generation %d, but units failed: %s", rep.Host, rep.Generation, strings.Join(rep.FailedUnits, ", "))))
		io.Println("  next: `systemctl status <unit>`, `journalctl -u <unit> -b`; to go back: rebuild-rollback")
	case OutcomeRolledBack:
		// On stderr, like a failure: the new system is not running.
		msg := fmt.Sprintf("rebuild-smart: %s: rolled back: %s", rep.Host, rep.Error)
		if rep.NextStep != "" {
			msg += "\n  next: " + rep.NextStep
		}
		fmt.Fprintln(io.Err, msg)
	case OutcomeFailed:
		// On stderr, with what to do next; main prints nothing more.
		msg := brief.Safe(fmt.Sprintf("rebuild-smart: %s: failed: %s", rep.Host, rep.Error))
		if rep.NextStep != "" {
			msg += "\n  next: " + brief.Safe(rep.NextStep)
		}
		if rep.RollbackCmd != "" && !rep.RolledBack {
			msg += "\n  rollback: " + brief.Safe(rep.RollbackCmd) + " (or rerun with --rollback-on-failure)"
		}
		fmt.Fprintln(io.Err, msg)
	}
	if n := len(rep.Warnings); n > 0 {
		io.Println(io.Yellow(fmt.Sprintf("  %d warning(s) above", n)))
	}
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
