package rebuildsmart

import (
	"context"
	"fmt"
	"os"
	"strings"

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

// Run checks what the activation left: the secrets sops-nix should have
// decrypted and failed systemd units. (What changed was shown before the
// activation, activate.go.)
func (postChecks) Run(ctx context.Context, r *Run) (Outcome, error) {
	var parts []string
	status := ui.OK
	// Secrets: only meaningful when the flake uses sops-nix or a secrets input.
	dir := r.System.Sys.Path(r.Cmd.SecretsPath)
	entries, err := os.ReadDir(dir)
	usesSecrets := r.Flake.LockBefore.Has("sops-nix") || r.Flake.LockBefore.Has(r.Cmd.SecretsInput)
	switch {
	case err == nil && len(entries) > 0:
		parts = append(parts, fmt.Sprintf("%d secrets in %s", len(entries), r.Cmd.SecretsPath))
	case usesSecrets && r.Mode != nixsys.ActionBoot:
		status = ui.Warn
		r.Warn("no secrets in %s although the flake uses sops-nix/%s: check `journalctl -u sops-nix` and the age key", r.Cmd.SecretsPath, r.Cmd.SecretsInput)
		parts = append(parts, "secrets missing")
	default:
		parts = append(parts, "no secrets configured")
	}
	if r.Mode != nixsys.ActionBoot {
		if _, err := runner.LookPath("systemctl", r.App.Environ); err == nil {
			units := r.failedUnits(ctx)
			if len(units) > 0 {
				status = ui.Warn
				r.System.FailedUnits = units
				if r.Outcome == OutcomeSuccess && r.System.Toplevel != r.System.PrevSystem {
					r.Outcome = OutcomeUnitsFailed
				}
				parts = append(parts, "failed units: "+strings.Join(units, ", "))
			} else {
				parts = append(parts, "no failed units")
			}
		}
	}
	return Outcome{Status: status, Detail: strings.Join(parts, "; ")}, nil
}
