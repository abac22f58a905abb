package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/ui"
)

// ---- 7. Post-checks ----

type postChecks struct{}

func (postChecks) Name() string { return "Post-checks" }
func (postChecks) Skip(r *Run) string {
	switch {
	case r.Mode == ModeBuild:
		return "--build: nothing was activated"
	case r.App.DryRun:
		return "dry run: nothing was activated"
	case !r.Outcome.activated():
		return "nothing was activated"
	case r.Target.Remote():
		_, note := remotetarget.PhasePlan(remotetarget.PhasePostChecks, r.Target)
		return note
	}
	return ""
}

// The kinds of post-check, as failed checks name them in the records.
const (
	checkUnits   = "units"
	checkSecrets = "secrets"
	checkHealth  = "health"
)

// Run checks what the activation left: the secrets sops-nix should have
// decrypted, failed systemd units, and the user's health checks. (What
// changed was shown before the activation, activate.go.) Without
// --rollback-on-failure a failure is reported (failed units keep exit 8,
// the others are warnings); with it, the previous generation is put back
// and the run ends with exit 13.
func (postChecks) Run(ctx context.Context, r *Run) (Outcome, error) {
	var parts, failed []string
	status := ui.OK
	check := func(part string, failure string) {
		if part != "" {
			parts = append(parts, part)
		}
		if failure != "" {
			status = ui.Warn
			failed = append(failed, failure)
		}
	}
	check(r.checkSecrets())
	if r.Mode != nixsys.ActionBoot {
		if _, err := runner.LookPath("systemctl", r.App.Environ); err == nil {
			check(r.checkUnits(ctx))
		}
		check(r.checkHealth(ctx))
	}
	if len(failed) > 0 && r.Cmd.RollbackOnFailure {
		return r.rollBackAfterChecks(ctx, failed, parts)
	}
	return Outcome{Status: status, Detail: strings.Join(parts, "; ")}, nil
}

// checkSecrets: only meaningful when the flake uses sops-nix or the
// secrets input, and after an activation (boot decrypts nothing yet).
func (r *Run) checkSecrets() (part, failure string) {
	entries, err := os.ReadDir(r.System.Sys.Path(r.Cmd.SecretsPath))
	usesSecrets := r.Flake.LockBefore.Has("sops-nix") || r.Flake.LockBefore.Has(r.Cmd.SecretsInput)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Sprintf("%d secrets in %s", len(entries), r.Cmd.SecretsPath), ""
	case usesSecrets && r.Mode != nixsys.ActionBoot:
		r.Warn("no secrets in %s although the flake uses sops-nix/%s: check `journalctl -u sops-nix` and the age key", r.Cmd.SecretsPath, r.Cmd.SecretsInput)
		return "secrets missing", checkSecrets + ": none in " + r.Cmd.SecretsPath
	}
	return "no secrets configured", ""
}

// checkUnits asks systemctl for failed units. A switch that left units
// failed is units-failed (exit 8) unless it is rolled back.
func (r *Run) checkUnits(ctx context.Context) (part, failure string) {
	units := r.failedUnits(ctx)
	if len(units) == 0 {
		return "no failed units", ""
	}
	r.System.FailedUnits = units
	if r.Outcome == OutcomeSuccess && r.System.Toplevel != r.System.PrevSystem {
		r.Outcome = OutcomeUnitsFailed
	}
	list := strings.Join(units, ", ")
	return "failed units: " + list, checkUnits + ": " + list
}

// checkHealth runs the user's health checks (hooks.healthCheck and
// hooks.d/health/, docs/fleet.md).
func (r *Run) checkHealth(ctx context.Context) (part, failure string) {
	if r.Fleet == nil {
		return "", ""
	}
	ran, failed := r.Fleet.HealthChecks(ctx, r.hookDetails(r.Outcome, ""))
	switch {
	case ran == 0 && len(failed) == 0:
		return "no health checks", ""
	case len(failed) == 0:
		return fmt.Sprintf("%d health check(s) passed", ran), ""
	}
	for _, f := range failed {
		r.Warn("health check %s", f)
	}
	return fmt.Sprintf("%d of %d health check(s) failed", len(failed), max(ran, len(failed))), checkHealth + ": " + strings.Join(failed, "; ")
}

// rollBackAfterChecks puts the previous generation back after failed
// post-checks. The build is recorded as checks-failed with the failed
// checks, the rollback as a record of its own, nothing is committed (the
// phase's error stops the run before Commit & push: a configuration that
// broke the machine is not published), and the run exits 13. A rollback
// that fails leaves the new system running: exit 1, with the command to
// try by hand.
func (r *Run) rollBackAfterChecks(ctx context.Context, failed, parts []string) (Outcome, error) {
	s := &r.System
	s.FailedChecks = failed
	what := strings.Join(failed, "; ")
	if err := r.putBack(ctx); err != nil {
		r.NextStep = fmt.Sprintf("the new system (generation %d) failed its checks (%s) and is still running; go back with `%s`", s.Generation, what, s.RollbackHint)
		return Outcome{Detail: "checks failed; rollback failed: " + err.Error()},
			exitcode.Wrap(exitcode.Failure, fmt.Errorf("post-checks failed (%s) and the rollback to generation %d failed: %w", what, s.PrevGeneration, err))
	}
	r.Outcome = OutcomeChecksFailed
	r.NextStep = fmt.Sprintf("generation %d failed its checks and generation %d runs again; the changes stay uncommitted in the repository. Fix them and run rebuild-smart again", s.Generation, s.PrevGeneration)
	return Outcome{Status: ui.Failed, Detail: strings.Join(parts, "; ") + fmt.Sprintf("; rolled back to generation %d", s.PrevGeneration)},
		exitcode.Wrap(exitcode.RolledBack, fmt.Errorf("the new system failed its post-checks (%s); rolled back to generation %d (--rollback-on-failure)", what, s.PrevGeneration))
}

// putBack brings back the system that ran before the activation, the way
// `nixos-rebuild switch --rollback` does: its generation becomes the
// profile's again (so it also boots next) and its switch-to-configuration
// runs. After a `test` activation the profile and the boot entry were never
// touched, so only the old system is activated again (test). On success
// System.RolledBack is set; the running system is checked, not assumed.
func (r *Run) putBack(ctx context.Context) error {
	s := &r.System
	s.RollbackHint = fmt.Sprintf("rebuild-rollback --system-only --to %d", s.PrevGeneration)
	var err error
	switch {
	case s.PrevSystem == "":
		return errors.New("the system that ran before is not known (there was no /run/current-system)")
	case r.Mode == nixsys.ActionTest:
		_, err = s.Sys.Switch(ctx, s.PrevSystem, nixsys.ActionTest)
	case s.PrevGeneration > 0:
		_, err = s.Sys.Activate(ctx, s.PrevGeneration, nixsys.ActionSwitch)
	default:
		return fmt.Errorf("the system that ran before (%s) is not a generation of the system profile", s.PrevSystem)
	}
	if err != nil && !nixsys.IsUnitsFailed(err) {
		return err
	}
	if cur, err := s.Sys.CurrentSystem(); err != nil || cur != s.PrevSystem {
		return fmt.Errorf("after the rollback /run/current-system is %q, not %s", cur, s.PrevSystem)
	}
	s.RolledBack = true
	return nil
}
