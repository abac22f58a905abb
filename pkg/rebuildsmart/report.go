package rebuildsmart

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// Report is the --json document (docs/rebuild-smart.md lists the fields).
// Add fields, never rename them.
type Report struct {
	Version        int               `json:"version"` // schema version, 1
	Outcome        string            `json:"outcome"` // success, nothing-to-switch, units-failed, failed, vetoed, bad-input, locked, interrupted, dry-run
	ExitCode       int               `json:"exit_code"`
	Host           string            `json:"host"`
	Flake          string            `json:"flake"`
	VCS            string            `json:"vcs,omitempty"`
	Mode           string            `json:"mode"`
	DryRun         bool              `json:"dry_run,omitempty"`
	Online         bool              `json:"online"`
	OfflineReason  string            `json:"offline_reason,omitempty"`
	Start          time.Time         `json:"start"`
	DurationMS     int64             `json:"duration_ms"`
	CommitBefore   string            `json:"commit_before,omitempty"`
	CommitAfter    string            `json:"commit_after,omitempty"`
	Committed      string            `json:"committed,omitempty"`
	Pushed         bool              `json:"pushed"`
	PrevSystem     string            `json:"previous_system,omitempty"`
	PrevGeneration int               `json:"previous_generation,omitempty"`
	Toplevel       string            `json:"toplevel,omitempty"`
	Generation     int               `json:"generation,omitempty"`
	SwitchCommand  string            `json:"switch_command,omitempty"`
	Changelog      []flake.Change    `json:"changelog"`
	IntentToAdd    []string          `json:"intent_to_add,omitempty"`
	FailedUnits    []string          `json:"failed_units,omitempty"`
	Upstream       *vcs.SyncResult   `json:"upstream,omitempty"`
	Dotfiles       *syncstate.Record `json:"dotfiles,omitempty"`
	Phases         []PhaseResult     `json:"phases"`
	Warnings       []string          `json:"warnings"`
	Error          string            `json:"error,omitempty"`
	RollbackCmd    string            `json:"rollback_command,omitempty"`
	RolledBack     bool              `json:"rolled_back,omitempty"`
	NextStep       string            `json:"next_step,omitempty"`
	TargetHost     string            `json:"target_host,omitempty"`
	BuildHost      string            `json:"build_host,omitempty"`
	Unattended     bool              `json:"unattended,omitempty"`
	// ActionReason says why the action differs from the one asked for
	// (unattended.boot, changed switch inhibitors).
	ActionReason string `json:"action_reason,omitempty"`
	HooksFailed  int    `json:"hooks_failed,omitempty"`
}

func (r *Run) report(results []PhaseResult, code int, err error) Report {
	rep := Report{
		Version: 1, ExitCode: code, Host: r.Host, Flake: r.Flake.Dir, Mode: r.Mode, DryRun: r.App.DryRun,
		Online: r.Online, OfflineReason: r.OfflineReason, Start: r.Start.UTC(),
		DurationMS:   r.App.Now().Sub(r.Start).Milliseconds(),
		CommitBefore: r.CommitBefore, CommitAfter: r.CommitAfter, Committed: r.Committed, Pushed: r.Pushed,
		PrevSystem: r.PrevSystem, PrevGeneration: r.PrevGeneration, Toplevel: r.Toplevel, Generation: r.Generation,
		SwitchCommand: r.SwitchCmd, Changelog: r.Changelog, IntentToAdd: r.Added, FailedUnits: r.FailedUnits,
		Upstream: r.Upstream, Dotfiles: r.Dotfiles, Phases: results, Warnings: r.Warnings,
		RollbackCmd: r.RollbackHint, RolledBack: r.RolledBack, NextStep: r.NextStep,
		TargetHost: r.Target.TargetHost, BuildHost: r.Target.BuildHost, Unattended: r.Cmd.Unattended,
		ActionReason: r.ActionReason,
	}
	if rep.Changelog == nil {
		rep.Changelog = []flake.Change{}
	}
	if rep.Phases == nil {
		rep.Phases = []PhaseResult{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	if r.Repo != nil {
		rep.VCS = r.Repo.Kind()
	}
	if err != nil {
		rep.Error = brief.Line(err.Error())
	}
	switch {
	case code == exitcode.Interrupted:
		rep.Outcome = "interrupted"
	case code == exitcode.Usage:
		rep.Outcome = "bad-input"
	case code == exitcode.Locked:
		rep.Outcome = "locked"
	case code == exitcode.Vetoed:
		rep.Outcome = OutcomeVetoed
	case code == exitcode.UnitsFailed:
		rep.Outcome = history.OutcomeUnitsFailed
	case code != exitcode.OK:
		rep.Outcome = history.OutcomeFailed
	case r.App.DryRun:
		rep.Outcome = "dry-run"
	case r.BuildOutcome == "nothing-to-switch":
		rep.Outcome = "nothing-to-switch"
	default:
		rep.Outcome = history.OutcomeSuccess
	}
	return rep
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
		io.Println(fmt.Sprintf("  %-10s %d %-15s %7s  %s", status, p.Number, p.Name, d, clip(p.Detail, 100)))
	}
	total := ui.FormatDuration(time.Duration(rep.DurationMS) * time.Millisecond)
	switch rep.Outcome {
	case history.OutcomeSuccess:
		io.Println(io.Green(fmt.Sprintf("rebuild-smart: %s: %s in %s", rep.Host, r.builtDetail(), total)))
	case "nothing-to-switch":
		io.Println(io.Green(fmt.Sprintf("rebuild-smart: %s: nothing to switch (generation %d is current) in %s", rep.Host, rep.Generation, total)))
	case "dry-run":
		io.Println(fmt.Sprintf("rebuild-smart: %s: dry run finished in %s; nothing was changed", rep.Host, total))
	case history.OutcomeUnitsFailed:
		io.Println(io.Yellow(fmt.Sprintf("rebuild-smart: %s: switched to generation %d, but units failed: %s", rep.Host, rep.Generation, strings.Join(rep.FailedUnits, ", "))))
		io.Println("  next: `systemctl status <unit>`, `journalctl -u <unit> -b`; to go back: rebuild-rollback")
	case history.OutcomeFailed:
		// On stderr, with what to do next; main prints nothing more.
		msg := fmt.Sprintf("rebuild-smart: %s: failed: %s", rep.Host, rep.Error)
		if rep.NextStep != "" {
			msg += "\n  next: " + rep.NextStep
		}
		if rep.RollbackCmd != "" && !rep.RolledBack {
			msg += "\n  rollback: " + rep.RollbackCmd + " (or rerun with --rollback-on-failure)"
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
