package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/reposave"
	"github.com/nixdots/nixdots/pkg/ui"
)

// systemStep switches the system to the target generation. Its plan is
// made before anything runs (planSystem); a dry run prints it.
type systemStep struct {
	sys   *nixsys.System
	view  View
	build Build
	plan  systemPlan

	ran, unitsFailed bool
}

func (s *systemStep) planLines() []string {
	if s.plan.Unchanged {
		return []string{fmt.Sprintf("already running generation %d", s.build.Generation)}
	}
	return s.plan.Commands
}

// changed reports whether the step switched the system.
func (s *systemStep) changed() bool { return s.ran && !s.plan.Unchanged }

func (s *systemStep) run(ctx context.Context, app *cli.App) error {
	start := time.Now()
	unitsFailed, err := runSystem(ctx, app.Runner, s.sys, s.plan)
	if err != nil {
		app.IO.Step(ui.Failed, "system", err.Error(), time.Since(start))
		note := ""
		if g, gerr := s.sys.CurrentGeneration(); gerr == nil && g.Number != s.view.ProfileGen {
			note = fmt.Sprintf(" (the system profile now points at generation %d, which boots next; rebuild-rollback --system-only --to %d puts it back)", g.Number, s.view.ProfileGen)
		}
		return fmt.Errorf("system switch to generation %d failed%s; the repository was not touched: %w", s.build.Generation, note, err)
	}
	s.ran, s.unitsFailed = true, unitsFailed
	switch {
	case s.plan.Unchanged:
		app.IO.Step(ui.Skipped, "system", fmt.Sprintf("already running generation %d", s.build.Generation), 0)
	case unitsFailed:
		app.IO.Step(ui.Warn, "system", fmt.Sprintf("switched to generation %d, but the activation reported errors (failed units: systemctl --failed)", s.build.Generation), time.Since(start))
	default:
		app.IO.Step(ui.OK, "system", fmt.Sprintf("generation %d -> %d", s.plan.From, s.build.Generation), time.Since(start))
	}
	return nil
}

// repoStep moves the flake repository to the build's commit, saving
// uncommitted work first (reposave).
type repoStep struct {
	repo   *reposave.Repo
	st     *reposave.State
	target string // full commit id
	build  Build
}

// planRepo resolves the build's commit and checks the repository's state:
// a merge or rebase in progress refuses the rollback before anything runs.
func planRepo(ctx context.Context, repo *reposave.Repo, b Build) (*repoStep, error) {
	target, err := repo.Resolve(ctx, b.Commit)
	var unknown *reposave.UnknownRevError
	switch {
	case errors.As(err, &unknown):
		return nil, exitcode.UsageError(fmt.Errorf("commit %s of generation %d is not in %s (fetch it, or use --system-only): %w", brief.ID(b.Commit), b.Generation, repo.Root, err))
	case err != nil:
		return nil, err
	}
	st, err := repo.Inspect(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := st.Check(repo.Root); err != nil {
		return nil, err
	}
	return &repoStep{repo: repo, st: st, target: target, build: b}, nil
}

func (r *repoStep) atTarget() bool { return r.st.AtTarget(r.target) }

// plan says what the move will do, in the words of the tool.
func (r *repoStep) plan() string {
	repo, st, target := r.repo, r.st, r.target
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

// run moves the repository. done names what earlier steps changed, for
// the message when this one fails; rest is the command that moves the
// repository alone once the system has moved ("" when it has not).
func (r *repoStep) run(ctx context.Context, app *cli.App, done, rest string) (*reposave.Result, error) {
	start := time.Now()
	res, err := r.repo.Move(ctx, r.target, app.Now())
	if err != nil {
		var blocked *reposave.BlockedError
		if rest != "" && errors.As(err, &blocked) {
			blocked.Next = "move the repository alone with `" + rest + "` (running rebuild-rollback again would go back one more generation)"
		}
		where := ""
		if res != nil && res.SavedTo != "" {
			where = fmt.Sprintf("; %s is saved in %s (%s)", savedWhat(res), res.SavedTo, res.Restore)
		}
		app.IO.Step(ui.Failed, "repository", err.Error(), time.Since(start))
		return res, fmt.Errorf("%sthe repository %s could not be moved to %s: %w%s", done, r.repo.Root, brief.ID(r.target), err, where)
	}
	reportRepo(app, res, time.Since(start))
	return res, nil
}

// summary is the repository's part of the last line.
func (r *repoStep) summary(dryRun bool, res *reposave.Result) string {
	id := brief.ID(r.target)
	switch {
	case dryRun && r.atTarget():
		return fmt.Sprintf("%s is already at %s", r.repo.Root, id)
	case dryRun && r.repo.Kind == reposave.JJ:
		return fmt.Sprintf("start a new working-copy change on %s in %s (the current change keeps its edits)", id, r.repo.Root)
	case dryRun && r.st.Changes > 0:
		return fmt.Sprintf("save %d uncommitted change(s) on a rollback/ branch and check out %s in %s", r.st.Changes, id, r.repo.Root)
	case dryRun:
		return fmt.Sprintf("check out %s in %s", id, r.repo.Root)
	case res == nil || !res.Moved && res.SavedTo == "":
		return fmt.Sprintf("%s is already at %s", r.repo.Root, id)
	case res.SavedTo != "":
		return fmt.Sprintf("moved %s to %s, %s saved in %s (%s)", r.repo.Root, id, savedWhat(res), res.SavedTo, res.Restore)
	default:
		return fmt.Sprintf("moved %s to %s", r.repo.Root, id)
	}
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
		io.Printf("  %s is in %s; to get it back: %s\n", savedWhat(res), where, res.Restore)
	}
}

// savedWhat names what Move put on a branch or left in a change. A clean
// detached HEAD that no ref held is saved as it is (the saved commit is the
// one the repository was on): that is committed work, and calling it
// uncommitted would send the user looking for edits that never existed.
func savedWhat(res *reposave.Result) string {
	if res.Kind == reposave.Git && res.SavedCommit == res.From {
		return "your work on the detached HEAD"
	}
	return "your uncommitted work"
}
