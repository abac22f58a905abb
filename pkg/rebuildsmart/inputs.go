package rebuildsmart

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/ui"
)

// ---- 4. Secrets ----

type secrets struct{}

func (secrets) Name() string { return "Secrets input" }
func (secrets) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipSecrets:
		return "--skip-secrets"
	case r.Cmd.SecretsInput == "":
		return "no secrets input configured"
	case !r.Flake.LockBefore.Has(r.Cmd.SecretsInput):
		return "the flake has no input " + r.Cmd.SecretsInput
	case !r.VCS.Online:
		return r.VCS.OfflineReason
	}
	return ""
}

func (secrets) Run(ctx context.Context, r *Run) (Outcome, error) {
	return updateInputs(ctx, r, []string{r.Cmd.SecretsInput}, time.Duration(r.Cmd.SecretsTimeout), true)
}

// updateInputs runs the version-appropriate update command and reports the
// changelog. A failed update leaves flake.lock as it was (nix writes it only
// on success) and is a warning.
func updateInputs(ctx context.Context, r *Run, inputs []string, timeout time.Duration, secret bool) (Outcome, error) {
	before, _, err := flake.ReadLock(r.Flake.Ref.Dir)
	if err != nil {
		return Outcome{}, err
	}
	cmd := r.Flake.Nix.UpdateCmd(r.Flake.NixVer, inputs, timeout)
	if r.App.DryRun {
		r.mu.Lock()
		r.Flake.PlannedUpdate = true
		r.mu.Unlock()
		what := "all inputs"
		if len(inputs) > 0 {
			what = strings.Join(inputs, ", ")
		}
		return Outcome{Detail: "would update " + what + ": " + cmd.String()}, nil
	}
	if _, err := r.App.Runner.Run(ctx, cmd); err != nil {
		if ctx.Err() != nil {
			return Outcome{}, ctx.Err()
		}
		r.Warn("flake update failed, building with the old flake.lock: %v", brief.First(err.Error()))
		return Outcome{Status: ui.Warn, Detail: "update failed; building with the old flake.lock"}, nil
	}
	after, _, err := flake.ReadLock(r.Flake.Ref.Dir)
	if err != nil {
		return Outcome{}, err
	}
	changes := flake.Changelog(before, after)
	r.mu.Lock()
	r.Flake.Changelog = append(r.Flake.Changelog, changes...)
	r.mu.Unlock()
	if len(changes) == 0 {
		return Outcome{Detail: "already up to date"}, nil
	}
	var lines []string
	for _, ch := range changes {
		lines = append(lines, ch.String())
		if !secret {
			r.IO.Println("    " + brief.Safe(ch.String()))
		}
	}
	return Outcome{Detail: strings.Join(lines, "; ")}, nil
}

// ---- 5. Flake update ----

type update struct{}

func (update) Name() string { return "Flake update" }

func (update) wanted(r *Run) bool {
	return r.Cmd.Update || len(r.Cmd.UpdateInput) > 0 || r.Cmd.Stale > 0
}

func (u update) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipUpdate:
		return "--skip-update"
	case !u.wanted(r):
		return "not requested (--update, --update-input, --stale)"
	case !r.VCS.Online:
		return r.VCS.OfflineReason
	}
	return ""
}

func (update) Run(ctx context.Context, r *Run) (Outcome, error) {
	c := r.Cmd
	if len(c.UpdateInput) > 0 {
		lock, _, err := flake.ReadLock(r.Flake.Ref.Dir)
		if err != nil {
			return Outcome{}, err
		}
		for _, in := range c.UpdateInput {
			if !lock.Has(in) {
				return Outcome{}, exitcode.UsageError(fmt.Errorf("--update-input %s: the flake has no such input (inputs: %s)", in, strings.Join(lock.Names(), ", ")))
			}
		}
		return updateInputs(ctx, r, c.UpdateInput, 10*time.Minute, false)
	}
	stale := time.Duration(c.Stale)
	if stale == 0 {
		stale = time.Duration(c.StaleAfter)
	}
	if stale == 0 {
		return updateInputs(ctx, r, nil, 10*time.Minute, false)
	}
	lock, _, err := flake.ReadLock(r.Flake.Ref.Dir)
	if err != nil {
		return Outcome{}, err
	}
	old := lock.Stale(r.App.Now(), stale)
	if len(old) == 0 {
		return Outcome{Detail: "no input is older than " + ui.FormatDuration(stale)}, nil
	}
	var names []string
	for _, in := range old {
		names = append(names, in.Name)
		r.IO.Println(fmt.Sprintf("    stale: %s (last modified %s)", in.Name, in.LastModified.Format("2006-01-02")))
	}
	return updateInputs(ctx, r, names, 10*time.Minute, false)
}
