package rebuildsmart

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// activate takes the built toplevel: nothing to switch when it is already
// active, else the diff, the --ask prompt, and the activation of exactly
// that store path, the way nixos-rebuild does it internally (the profile
// gets a generation, then switch-to-configuration; sudo when not root).
func (r *Run) activate(ctx context.Context) (Outcome, error) {
	top := r.System.Toplevel
	if r.Mode == ModeBuild {
		r.Outcome = OutcomeSuccess
		return Outcome{Detail: r.builtDetail()}, nil
	}
	if !r.Cmd.ForceSwitch && r.activeFor(r.Mode) == top {
		r.Outcome = OutcomeNothingToSwitch
		return Outcome{Detail: "nothing to switch: " + top + " is already active (--force-switch to activate anyway)"}, nil
	}
	if err := r.chooseForInhibitors(); err != nil {
		r.Outcome = OutcomeFailed
		return Outcome{}, err
	}
	r.showDiff(ctx)
	r.System.ActivateCmd = r.activationPlan()
	if r.App.DryRun {
		_, _ = r.System.Sys.ActivateToplevel(ctx, top, r.Mode) // prints "would run: ..."
		return Outcome{Detail: "would " + r.Mode + " to " + top + " with: " + r.System.ActivateCmd}, nil
	}
	if r.Cmd.Ask && !r.confirm(fmt.Sprintf("Activate %s (%s)? [y/N] ", top, r.Mode)) {
		r.Outcome = OutcomeDeclined
		r.NextStep = fmt.Sprintf("nothing was activated (still generation %d); %s stays built: run rebuild-smart again to activate it", r.System.PrevGeneration, top)
		return Outcome{Status: ui.Skipped, Detail: "not activated (answered no)"}, nil
	}
	res, err := r.System.Sys.ActivateToplevel(ctx, top, r.Mode)
	r.noteSystem()
	if ctx.Err() != nil {
		r.Outcome = OutcomeFailed
		return Outcome{}, ctx.Err()
	}
	if err == nil {
		r.Outcome = OutcomeSuccess
		return Outcome{Detail: r.builtDetail()}, nil
	}
	if nixsys.IsUnitsFailed(err) {
		r.Outcome = OutcomeUnitsFailed
		r.System.FailedUnits = r.failedUnits(ctx)
		r.Warn("switched to %s, but some units failed: %s (see `systemctl --failed`, `journalctl -u <unit>`)", top, strings.Join(r.System.FailedUnits, ", "))
		return Outcome{Status: ui.Warn, Detail: "switched; units failed: " + strings.Join(r.System.FailedUnits, ", ")}, nil
	}
	r.Outcome = OutcomeFailed
	r.showTail(res)
	r.failureHint(ctx, err)
	code := exitcode.Failure
	if r.System.RolledBack {
		code = exitcode.RolledBack
	}
	return Outcome{Detail: "activation failed: " + brief.First(err.Error())}, exitcode.Wrap(code, fmt.Errorf("%s failed (repository left as it was): %w", r.Mode, err))
}

// activationPlan is the activation as commands, for the record and plans.
func (r *Run) activationPlan() string {
	s, top := r.System.Sys, r.System.Toplevel
	stc := s.SwitchCmd(top, r.Mode).String()
	if r.Mode == nixsys.ActionTest {
		return stc
	}
	return s.SetProfileToCmd(top).String() + " && " + stc
}

// activeFor is what counts as "already running" for mode: the current
// system for switch and test, the profile's generation for boot.
func (r *Run) activeFor(mode string) string {
	if r.Target.Remote() {
		return r.System.TargetPrev
	}
	if mode == nixsys.ActionBoot {
		if g, err := r.System.Sys.CurrentGeneration(); err == nil {
			return g.Toplevel
		}
		return ""
	}
	cur, _ := r.System.Sys.CurrentSystem()
	return cur
}

// showDiff computes what changes from the running system to the new one
// (before anything is activated) and prints it: nvd's or dix's rendering
// when installed, else the summary of nix store diff-closures.
func (r *Run) showDiff(ctx context.Context) {
	from, to := r.System.PrevSystem, r.System.Toplevel
	if from == "" || to == "" || from == to {
		return
	}
	d, err := nixsys.Diff(ctx, r.App.Runner, from, to, r.Flake.Nix.Env)
	if err != nil {
		r.IO.Println("    changes: not computed (" + brief.Safe(brief.First(err.Error())) + ")")
		return
	}
	r.System.Diff = d
	r.IO.Println("    changes: " + d.Summary())
	text := ""
	for _, tool := range [][]string{{"nvd", "diff"}, {"dix"}} {
		if has(r, tool[0]) {
			args := append(append([]string{}, tool[1:]...), from, to)
			if res, err := r.App.Runner.Run(ctx, runner.Cmd{Name: tool[0], Args: args, Timeout: time.Minute}); err == nil {
				text = strings.TrimSpace(string(res.Stdout))
			}
			break
		}
	}
	r.System.DiffText = text
	lines := d.Lines(30)
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	for _, l := range lines {
		r.IO.Println("      " + brief.Safe(l))
	}
}

// confirm asks on stdin (the terminal, or what a script pipes in); the
// live line stays away while the question is up. The diff is printed just
// above it; its summary is repeated in the question.
func (r *Run) confirm(prompt string) bool {
	resume := r.IO.Pause()
	defer resume()
	if d := r.System.Diff; d != nil {
		prompt = "(" + d.Summary() + ") " + prompt
	}
	fmt.Fprint(r.IO.Err, prompt)
	if r.App.Stdin == nil {
		return false
	}
	line, _ := bufio.NewReader(r.App.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

// noteSystem records the generation this run made or activated: the
// newest one holding the built system. A failed build has none; an
// activation that failed after the profile moved has the new one.
func (r *Run) noteSystem() {
	if r.Target.Remote() || r.System.Toplevel == "" {
		return // the target's generations are not read (docs/fleet.md)
	}
	switch r.Mode {
	case nixsys.ActionSwitch, nixsys.ActionBoot:
		if g, ok := r.System.Sys.GenerationOf(r.System.Toplevel); ok {
			r.System.Generation = g.Number
		}
	}
}

func (r *Run) builtDetail() string {
	top := r.System.Toplevel
	if r.Target.Remote() && r.Mode != ModeBuild {
		return fmt.Sprintf("%s %s on %s", r.Mode, top, r.Target.TargetHost)
	}
	switch r.Mode {
	case ModeBuild:
		return "built " + top + " (not activated)"
	case nixsys.ActionTest:
		return "activated " + top + " until reboot (test)"
	case nixsys.ActionBoot:
		return fmt.Sprintf("generation %d is the boot default (not activated)", r.System.Generation)
	}
	return fmt.Sprintf("switched to generation %d", r.System.Generation)
}

// failureHint says whether the system changed and how to go back; with
// --rollback-on-failure it goes back itself.
func (r *Run) failureHint(ctx context.Context, err error) {
	s := &r.System
	cur, _ := s.Sys.CurrentSystem()
	g, _ := s.Sys.CurrentGeneration()
	changed := (cur != s.PrevSystem) || (g.Number != s.PrevProfile)
	dirty := ""
	if r.Flake.LockBeforeData != nil {
		if _, now, _ := flake.ReadLock(r.Flake.Ref.Dir); !bytes.Equal(now, r.Flake.LockBeforeData) {
			dirty = " flake.lock keeps this run's update (uncommitted); to drop it: " + restoreHint(r.VCS.Repo.Kind(), r.lockRel()) + "."
		}
	}
	if !changed {
		s.RollbackHint = ""
		r.NextStep = fmt.Sprintf("the system is unchanged (still generation %d); the repository is as it was.%s Fix the error above and run rebuild-smart again.", s.PrevGeneration, dirty)
		return
	}
	s.RollbackHint = fmt.Sprintf("rebuild-rollback --system-only --to %d", s.PrevGeneration)
	if r.Cmd.RollbackOnFailure && s.PrevGeneration > 0 {
		if rbErr := r.putBack(ctx); rbErr != nil {
			r.Warn("rollback to generation %d failed: %v; run `%s`", s.PrevGeneration, rbErr, s.RollbackHint)
		} else {
			r.NextStep = fmt.Sprintf("rolled back to generation %d (--rollback-on-failure).%s", s.PrevGeneration, dirty)
			return
		}
	}
	r.NextStep = fmt.Sprintf("the system changed before the failure; go back with `%s`.%s", s.RollbackHint, dirty)
}

func restoreHint(kind, path string) string {
	if kind == vcs.JJ {
		return "`jj restore " + path + "`"
	}
	return "`git checkout -- " + path + "`"
}

// failedUnits asks systemctl for failed units; nil when it cannot.
func (r *Run) failedUnits(ctx context.Context) []string {
	res, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "systemctl", Args: []string{"--failed", "--no-legend", "--plain"}, Timeout: 30 * time.Second})
	if err != nil {
		return nil
	}
	return ParseFailedUnits(string(res.Stdout))
}

// ParseFailedUnits reads `systemctl --failed --no-legend --plain` output:
// the unit is the first field of each line (a leading "●" is dropped).
func ParseFailedUnits(out string) []string {
	var units []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "●" || f[0] == "*") {
			f = f[1:]
		}
		if len(f) == 0 || f[0] == "UNIT" || strings.HasSuffix(l, "units listed.") {
			continue
		}
		units = append(units, f[0])
	}
	return units
}
