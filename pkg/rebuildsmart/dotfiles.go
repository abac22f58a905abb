package rebuildsmart

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// ---- 3. Dotfiles ----

type dotfiles struct{}

func (dotfiles) Name() string { return "Dotfiles sync" }
func (dotfiles) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipDotfiles:
		return "--skip-dotfiles"
	case !r.Cmd.SyncDotfiles:
		return "syncDotfiles is off"
	case r.Target.Remote():
		_, note := remotetarget.PhasePlan(remotetarget.PhaseDotfiles, r.Target)
		return note
	case !r.VCS.Online:
		return r.VCS.OfflineReason + "; run chezmoi-sync later"
	}
	if _, err := runner.LookPath("chezmoi-sync", r.App.Environ); err != nil {
		return "chezmoi-sync is not installed"
	}
	return ""
}

// Run runs the chezmoi-sync binary and reads its exit code and its --json
// record. Its own dry run does the planning under --dry-run.
func (dotfiles) Run(ctx context.Context, r *Run) (Outcome, error) {
	args := []string{"--json"}
	if r.App.Globals.StateDir != "" {
		args = append(args, "--state-dir", r.App.Globals.StateDir)
	}
	cmd := runner.Cmd{Name: "chezmoi-sync", Args: args, Mutates: true, Timeout: 10 * time.Minute}
	if r.App.DryRun {
		cmd.Args = append(cmd.Args, "--dry-run")
		cmd.Mutates = false
	}
	res, err := r.App.Runner.Run(ctx, cmd)
	var rec syncstate.Record
	if jErr := json.Unmarshal(bytes.TrimSpace(res.Stdout), &rec); jErr == nil && rec.Status != "" {
		r.Dotfiles = &rec
	}
	if ctx.Err() != nil {
		return Outcome{}, ctx.Err()
	}
	// chezmoi-sync exits 0 for an unreachable remote unless --exit-code:
	// its record's status word is what says whether the dotfiles synced.
	if err == nil && (r.Dotfiles == nil || r.Dotfiles.Status == syncstate.Success) {
		detail := "dotfiles in sync"
		if r.Dotfiles != nil {
			detail = fmt.Sprintf("%s (%d incoming, pushed %v)", r.Dotfiles.Status, r.Dotfiles.Incoming, r.Dotfiles.Pushed)
		}
		return Outcome{Detail: detail}, nil
	}
	what := ""
	if err != nil {
		what = brief.First(err.Error())
	}
	if r.Dotfiles != nil {
		what = r.Dotfiles.Status
		if r.Dotfiles.Error != "" {
			what += ": " + r.Dotfiles.Error
		}
		if r.Dotfiles.Parked != "" {
			what += "; conflicts parked on " + r.Dotfiles.Parked
		}
		if r.Dotfiles.NextStep != "" {
			what += "; " + r.Dotfiles.NextStep
		}
	}
	r.Warn("dotfiles may be out of sync: %s (run `chezmoi-status` for details)", what)
	return Outcome{Status: ui.Warn, Detail: "dotfiles may be out of sync: " + what}, nil
}

// dotfilesAtBuild is the chezmoi source commit chezmoi-sync had applied
// when this system was built, and its source directory: from this run's
// dotfiles phase when it ran, else from the last record chezmoi-sync saved
// in the shared state directory (the phase was skipped, offline or
// --skip-dotfiles: the home still holds what that run left). "" when
// neither knows. The history keeps it for `rebuild-rollback
// --with-dotfiles` (docs/rebuild-rollback.md, "Dotfiles").
func (r *Run) dotfilesAtBuild() (commit, source string) {
	rec := r.Dotfiles
	if rec == nil || rec.DryRun || rec.AfterLocal == "" {
		last, err := syncstate.Load(r.App.StateDir)
		if err != nil {
			return "", ""
		}
		rec = last
	}
	return rec.AfterLocal, rec.SourceDir
}
