package rollback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/reposave"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// The dotfiles side of a rollback (`--with-dotfiles`, docs/rebuild-rollback.md
// "Dotfiles"): every rebuild-smart record holds the chezmoi source commit
// chezmoi-sync had applied when the system was built (history.Entry's
// DotfilesCommit and DotfilesSource); the home is moved back to it with
// chezmoi-sync's own undo (`chezmoi-sync --undo-to COMMIT`), so there is one
// implementation of "never overwrite a home edit made since": the undo keeps
// such a file as it is and reports it, copies every home file it replaces
// first, and never publishes the revert unless asked (a revert of commits
// the remote has is held on undo/<host> until `chezmoi-sync --publish`).
//
// chezmoi-sync runs as the user running rebuild-rollback, on that user's
// HOME, after the same checks as the flake repository (owner.go): the home
// and the source directory must be that user's, so root never runs the
// undo over a user's files (it would leave root-owned files in the jj
// repository and chezmoi's state, as a root `git` in a user's repository
// does).

// DotfilesPlan is what moving the home dotfiles back would do, found by a
// dry run of the undo (which runs chezmoi-sync's refusals for real).
type DotfilesPlan struct {
	Source   string `json:"source"` // the chezmoi source directory (repository)
	From     string `json:"from"`   // the source commit HOME follows now
	To       string `json:"to"`     // the build's dotfiles commit
	Does     string `json:"does"`   // chezmoi-sync's own plan of the undo
	AtTarget bool   `json:"at_target,omitempty"`
	Command  string `json:"command"` // what runs: the same undo, by hand too
}

// DotfilesMove is what moving the home dotfiles back did.
type DotfilesMove struct {
	Source string `json:"source"` // the chezmoi source directory
	From   string `json:"from"`   // source commits: before
	To     string `json:"to"`     // whose files HOME and the source now hold
	// Revert is the new commit that restores To's files (history is never
	// rewritten); "" when nothing was to undo.
	Revert  string   `json:"revert,omitempty"`
	Applied []string `json:"applied"` // home files set back to the build's version (written or removed)
	// Kept are home files edited since chezmoi last wrote them: left as they
	// are, never overwritten (the next chezmoi-sync captures them).
	Kept []DotfilesKept `json:"kept,omitempty"`
	// BackedUp are the copies made of the home files the undo replaced.
	BackedUp []syncstate.Backup `json:"backed_up,omitempty"`
	// Held: the revert takes back commits the remote keeps, so it is not
	// published until `chezmoi-sync --publish` (Publish says so).
	Held    bool   `json:"held,omitempty"`
	Publish string `json:"publish,omitempty"`
	Moved   bool   `json:"moved"`
}

// DotfilesKept is one home edit the move left alone, and what to do.
type DotfilesKept struct {
	Path string `json:"path"`
	Next string `json:"next,omitempty"`
}

// DotfilesMover moves the running user's home dotfiles to the chezmoi
// source commit a build was made with.
type DotfilesMover interface {
	// Plan says what Move would do, changing nothing; it refuses a state
	// the undo does not accept (a parked conflict, uncommitted changes in
	// the source, an unknown commit) before any step of the rollback runs.
	Plan(ctx context.Context, commit string) (*DotfilesPlan, error)
	// Move does it.
	Move(ctx context.Context, commit string) (*DotfilesMove, error)
}

// syncMover is the DotfilesMover of the chezmoi-sync binary: `chezmoi-sync
// --undo-to COMMIT --json`, its --dry-run for the plan. It shares
// rebuild-rollback's state directory (where rebuild-smart's dotfiles phase
// ran it too) and its --wait for chezmoi-sync's lock.
type syncMover struct {
	run  runner.Runner
	args []string
}

func newSyncMover(app *cli.App) syncMover {
	var args []string
	if app.Globals.StateDir != "" {
		args = append(args, "--state-dir", app.Globals.StateDir)
	}
	if app.Globals.Wait > 0 {
		args = append(args, "--wait", app.Globals.Wait.String())
	}
	return syncMover{run: app.Runner, args: args}
}

// undoCommand is the undo as a user would type it.
func undoCommand(commit string) string { return "chezmoi-sync --undo-to " + commit }

// call runs the undo (dry: its plan) and reads its JSON record. A refusal
// keeps chezmoi-sync's exit code (5 a conflict waits, 11 a state the undo
// will not touch, 2 an unknown commit, 3 its lock, 10 an unsafe state
// directory) and its message and next step.
func (m syncMover) call(ctx context.Context, commit string, dry bool) (*syncstate.Record, error) {
	// --undo-to=COMMIT: a commit read from the history is never a flag.
	args := append([]string{"--undo-to=" + commit, "--json", "--no-color"}, m.args...)
	if dry {
		args = append(args, "--dry-run")
	}
	res, err := m.run.Run(ctx, runner.Cmd{Name: "chezmoi-sync", Args: args, Mutates: !dry, Timeout: 10 * time.Minute})
	var rec *syncstate.Record
	var r syncstate.Record
	if json.Unmarshal(bytes.TrimSpace(res.Stdout), &r) == nil && r.Status != "" {
		rec = &r
	}
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	if err == nil {
		if rec == nil {
			return nil, fmt.Errorf("chezmoi-sync --undo-to gave no JSON record")
		}
		return rec, nil
	}
	why := brief.First(err.Error())
	if rec != nil && rec.Error != "" {
		why = rec.Error
		if rec.NextStep != "" {
			why += "; next: " + rec.NextStep
		}
	}
	code := exitcode.Failure
	var ee *runner.ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case exitcode.Usage, exitcode.Locked, exitcode.Conflicts, exitcode.Unsafe, exitcode.Refused:
			code = ee.Code
		}
		if ee.Code == exitcode.Locked && (rec == nil || rec.Error == "") {
			why = brief.Line(ee.Stderr)
		}
	}
	return rec, exitcode.Wrap(code, errors.New(brief.Line(why)))
}

func (m syncMover) Plan(ctx context.Context, commit string) (*DotfilesPlan, error) {
	rec, err := m.call(ctx, commit, true)
	if err != nil {
		return nil, err
	}
	p := &DotfilesPlan{Source: rec.SourceDir, From: rec.BeforeLocal, To: commit, Command: undoCommand(commit)}
	for _, st := range rec.Steps {
		if st.Name != "undo" {
			continue
		}
		p.Does = st.Detail
		p.AtTarget = st.Status != "plan"
	}
	if p.Does == "" {
		return nil, fmt.Errorf("chezmoi-sync --undo-to --dry-run planned no undo step (status %s)", rec.Status)
	}
	if p.AtTarget {
		return p, nil // nothing runs there
	}
	if err := m.uncommitted(ctx, p.Source); err != nil {
		return nil, err
	}
	return p, nil
}

// uncommitted refuses, as the undo itself would, a source directory whose
// files differ from the commit under the working copy. The undo's dry run
// does not see an edit jj has not snapshotted yet (a `chezmoi edit`: it
// runs jj with --ignore-working-copy), and the real undo would refuse it
// only after the system and the repository moved. git's view of the
// colocated repository (HEAD is jj's @-, tracked files only: jj tracks no
// other) answers without writing anything.
func (m syncMover) uncommitted(ctx context.Context, source string) error {
	res, err := m.run.Run(ctx, runner.Cmd{Name: "git", Args: []string{"--no-optional-locks", "status", "--porcelain", "--untracked-files=no"}, Dir: source})
	if err != nil {
		return fmt.Errorf("cannot read the dotfiles repository %s: %s", source, brief.First(err.Error()))
	}
	var files []string
	for _, l := range strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n") {
		if len(l) > 3 {
			files = append(files, l[3:])
		}
	}
	if len(files) == 0 {
		return nil
	}
	return exitcode.Wrap(exitcode.Refused, fmt.Errorf("the source directory holds changes no sync has committed (%s): an undo would take them back with the rest; next: commit them with chezmoi-sync (or drop them: cd %s && jj restore)",
		strings.Join(files, ", "), source))
}

func (m syncMover) Move(ctx context.Context, commit string) (*DotfilesMove, error) {
	rec, err := m.call(ctx, commit, false)
	if err != nil {
		return nil, err
	}
	mv := &DotfilesMove{Source: rec.SourceDir, From: rec.BeforeLocal, To: commit,
		Applied: append(append([]string{}, rec.Applied...), rec.Removed...), BackedUp: rec.Backups}
	if u := rec.Undo; u != nil {
		mv.To, mv.Revert, mv.Held, mv.Moved = u.To, u.Revert, u.Held, true
		if u.Held {
			mv.Publish = "chezmoi-sync --publish"
		}
	}
	seen := map[string]bool{}
	for _, w := range rec.Waiting {
		seen[w.Path] = true
		mv.Kept = append(mv.Kept, DotfilesKept{Path: w.Path, Next: w.Next})
	}
	for _, p := range rec.Skipped {
		if !seen[p] {
			mv.Kept = append(mv.Kept, DotfilesKept{Path: p})
		}
	}
	return mv, nil
}

// dotfilesStep moves the home dotfiles to the build's dotfiles commit.
type dotfilesStep struct {
	mover  DotfilesMover
	build  Build
	plan   *DotfilesPlan
	result *DotfilesMove
}

// planDotfiles checks, before chezmoi-sync runs at all, that the home and
// the recorded source directory are the running user's, then asks the
// undo's dry run for the plan: every refusal of the undo comes before any
// step of the rollback runs. histDir is the state directory whose history
// named the source ("" when unknown).
func planDotfiles(ctx context.Context, app *cli.App, mover DotfilesMover, b Build, histDir string) (*dotfilesStep, error) {
	commit, source := b.DotfilesCommit, b.DotfilesSource
	if strings.HasPrefix(commit, "-") || strings.ContainsFunc(commit, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, exitcode.UsageError(fmt.Errorf("the dotfiles commit %q recorded for generation %d is not a commit id; nothing was changed (roll back without --with-dotfiles)", commit, b.Generation))
	}
	if err := mayMoveDotfiles(app.Getenv("HOME"), source, histDir, commit); err != nil {
		return nil, err
	}
	if _, err := runner.LookPath("chezmoi-sync", app.Environ); err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("--with-dotfiles moves the dotfiles with chezmoi-sync, which is not on PATH; nothing was changed"))
	}
	p, err := mover.Plan(ctx, commit)
	if err != nil {
		return nil, dotfilesRefusal(err, source, commit, b)
	}
	if source != "" && !samePath(p.Source, source) {
		return nil, exitcode.UsageError(fmt.Errorf("generation %d was built with the dotfiles of %s, but chezmoi-sync now works on %s: the commit %s is not moved into another repository; nothing was changed (roll back without --with-dotfiles, or point chezmoi-sync at %s)",
			b.Generation, source, p.Source, brief.ID(commit), source))
	}
	return &dotfilesStep{mover: mover, build: b, plan: p}, nil
}

// dotfilesRefusal says why the dotfiles cannot go back, that nothing
// changed, and the two ways on: fix the dotfiles first, or roll back the
// rest alone and the dotfiles later. The undo's exit code is kept.
func dotfilesRefusal(err error, source, commit string, b Build) error {
	where := "the dotfiles"
	if source != "" {
		where += " in " + source
	}
	msg := fmt.Sprintf("--with-dotfiles: %s cannot go back to %s (the dotfiles of generation %d): %s; nothing was changed. Fix that and run again, or roll back without --with-dotfiles and later run `%s`",
		where, brief.ID(commit), b.Generation, brief.Line(err.Error()), undoCommand(commit))
	return exitcode.Wrap(exitcode.FromError(err), errors.New(msg))
}

func samePath(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}

// mayMoveDotfiles: the home and the source directory belong to the user
// running; a source named by another user's history (root reading a
// user's state directory) is not moved on that user's word. Checked before
// chezmoi-sync runs at all: even its dry run snapshots with jj.
func mayMoveDotfiles(home, source, histDir, commit string) error {
	me := uint32(os.Geteuid())
	if home == "" {
		return exitcode.UsageError(errors.New("--with-dotfiles: HOME is not set, so there is no home to move back; nothing was changed"))
	}
	for _, p := range []string{home, source} {
		if p == "" {
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return exitcode.UsageError(fmt.Errorf("--with-dotfiles: %v; nothing was changed (roll back without --with-dotfiles)", err))
		}
		if owner := info.Sys().(*syscall.Stat_t).Uid; owner != me {
			return exitcode.UsageError(fmt.Errorf("--with-dotfiles: %s belongs to %s, not to %s: rebuild-rollback moves only the dotfiles of the user running it and never runs chezmoi-sync over another user's home (nothing was changed); run `%s` as %s, and this rollback without --with-dotfiles",
				p, reposave.UserName(owner), reposave.UserName(me), undoCommand(commit), reposave.UserName(owner)))
		}
	}
	if histDir == "" {
		return nil
	}
	info, err := os.Stat(histDir)
	if err != nil {
		return err
	}
	if by := info.Sys().(*syscall.Stat_t).Uid; by != me && by != 0 {
		return exitcode.UsageError(fmt.Errorf("--with-dotfiles: the dotfiles commit is named by the rebuild history %s of %s: dotfiles are not moved on another user's word (nothing was changed); run `%s` yourself if you want it",
			histPath(histDir), reposave.UserName(by), undoCommand(commit)))
	}
	return nil
}

func (d *dotfilesStep) planLine() string {
	p := d.plan
	if p.AtTarget {
		return fmt.Sprintf("%s: %s", p.Source, p.Does)
	}
	return fmt.Sprintf("%s: %s: %s", p.Source, p.Command, p.Does)
}

// changed: the move wrote a revert (HOME followed it).
func (d *dotfilesStep) changed() bool { return d.result != nil && d.result.Moved }

// run moves the dotfiles. done names what earlier steps changed, for the
// message when this one fails.
func (d *dotfilesStep) run(ctx context.Context, app *cli.App, done string) error {
	start := time.Now()
	if d.plan.AtTarget {
		app.IO.Step(ui.Skipped, "dotfiles", "already at "+brief.ID(d.plan.To), 0)
		return nil
	}
	res, err := d.mover.Move(ctx, d.plan.To)
	d.result = res
	if err != nil {
		app.IO.Step(ui.Failed, "dotfiles", brief.Line(err.Error()), time.Since(start))
		return exitcode.Wrap(exitcode.Failure, fmt.Errorf("%sthe dotfiles in %s could not be moved back to %s: %w (home files edited since are never overwritten; `chezmoi-sync --undo --list` shows what ran, `%s` tries again)",
			done, d.plan.Source, brief.ID(d.plan.To), err, d.plan.Command))
	}
	reportDotfiles(app, res, time.Since(start))
	return nil
}

func reportDotfiles(app *cli.App, res *DotfilesMove, dur time.Duration) {
	io := app.IO
	detail := fmt.Sprintf("%s back to %s", res.Source, brief.ID(res.To))
	if res.Revert != "" {
		detail += fmt.Sprintf(" in a new commit %s (history not rewritten)", brief.ID(res.Revert))
	}
	status := ui.OK
	if len(res.Kept) > 0 {
		status = ui.Warn
	}
	io.Step(status, "dotfiles", brief.Safe(detail), dur)
	if len(res.Applied) > 0 {
		io.Printf("  set back: %s\n", brief.Safe(strings.Join(res.Applied, ", ")))
	}
	for _, k := range res.Kept {
		io.Printf("  kept (edited since, not overwritten): %s\n", brief.Safe(k.Path))
	}
	for _, b := range res.BackedUp {
		io.Printf("  copy of %s before it was replaced: %s\n", brief.Safe(b.Path), brief.Safe(b.Copy))
	}
	if res.Held {
		io.Printf("  not published: the remote keeps the commits taken back; `%s` publishes the revert\n", res.Publish)
	}
}

// summary is the dotfiles' part of the last line.
func (d *dotfilesStep) summary(dryRun bool) string {
	p, id := d.plan, brief.ID(d.plan.To)
	switch {
	case p.AtTarget:
		return fmt.Sprintf("the dotfiles in %s are already as at %s", p.Source, id)
	case dryRun:
		return fmt.Sprintf("move the dotfiles in %s back to %s (%s; home files edited since are kept)", p.Source, id, p.Command)
	case d.result == nil:
		return fmt.Sprintf("the dotfiles in %s were not moved", p.Source)
	}
	s := fmt.Sprintf("moved the dotfiles in %s back to %s", p.Source, id)
	if n := len(d.result.Kept); n > 0 {
		s += fmt.Sprintf(", %d home file(s) edited since kept as they are", n)
	}
	if d.result.Held {
		s += ", not published (" + d.result.Publish + " publishes it)"
	}
	return s
}
