package rebuildsmart

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/secretscan"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// ---- 6. Rebuild ----

type rebuild struct{}

func (rebuild) Name() string     { return "Rebuild" }
func (rebuild) Skip(*Run) string { return "" }

// Run evaluates and builds the system exactly once (nix build), or not at
// all when the no-op fingerprint says nothing it depends on changed since
// the running system was built; then activate.go shows the diff, asks when
// --ask, and activates that exact store path. A remote target is handed to
// nh or nixos-rebuild whole (they copy and activate over ssh).
func (rebuild) Run(ctx context.Context, r *Run) (Outcome, error) {
	if r.Target.Remote() {
		return r.remoteRebuild(ctx)
	}
	// Independent work at once: the fingerprint hashes the tree (it covers
	// untracked files whether or not they get added) while git lists what
	// is new and changed and the scanner reads those (its rules compile only
	// when there is something to scan: a no-op run never pays for them).
	var fp string
	var fpErr error
	fpDone := make(chan struct{})
	go func() { defer close(fpDone); fp, fpErr = r.fingerprint(ctx) }()
	checked, err := r.exposeNewFiles(ctx)
	<-fpDone
	if err != nil {
		return Outcome{}, err
	}
	// Changed tracked files matter only to the commit: they are checked
	// while nix builds.
	defer checked()
	r.VCS.BuiltCommit = r.head(ctx)
	if r.App.DryRun {
		if why := r.pendingChanges(); why != "" {
			// The lock or the tree the real run builds does not exist yet:
			// never claim "nothing to switch" for a run that may switch.
			return Outcome{Detail: fmt.Sprintf("would build and %s; whether anything changes depends on %s (not evaluated: a dry run applies neither)", r.Mode, why)}, nil
		}
	}
	if fpErr != nil {
		r.Warn("no-op fingerprint not computed (evaluating): %v", fpErr)
	}
	r.Flake.Fingerprint = fp
	if o, ok := r.noOp(); ok {
		return o, nil
	}
	top, res, err := r.build(ctx)
	if err != nil {
		return r.buildFailed(ctx, res, err)
	}
	r.System.Toplevel = top
	r.Flake.Evaluated = true
	r.rememberEval()
	return r.activate(ctx)
}

// exposeNewFiles makes new files visible to nix (git add --intent-to-add,
// which stages no content), except files that look like secrets: nix would
// copy them into the world-readable store, and the auto-commit would
// publish them. Changed tracked files that look like secrets are built (nix
// sees them anyway) but never committed.
//
// The changed tracked files are checked in the background (nix sees them
// whatever the verdict; only the commit needs it): the returned wait
// joins that check and reports what it found.
func (r *Run) exposeNewFiles(ctx context.Context) (wait func(), err error) {
	repo := r.VCS.Repo
	untracked, modified, err := repo.Pending(ctx)
	if err != nil {
		return func() {}, fmt.Errorf("listing new and changed files: %w", err)
	}
	found := make(chan []secretscan.Finding, 1)
	go func() {
		var fs []secretscan.Finding
		for _, f := range modified {
			if fnd, secret := r.scanner.ScanFile(repo.Dir(), f); secret {
				fs = append(fs, fnd)
			}
		}
		found <- fs
	}()
	wait = func() {
		for _, f := range <-found {
			r.withhold(f, true)
		}
	}
	var add []string
	for _, f := range untracked {
		if fnd, secret := r.scanner.ScanFile(repo.Dir(), f); secret {
			r.withhold(fnd, false)
			continue
		}
		add = append(add, f)
	}
	if err := repo.IntentToAdd(ctx, add); err != nil {
		wait()
		return func() {}, fmt.Errorf("git add --intent-to-add: %w", err)
	}
	r.VCS.Added = add
	r.VCS.BuiltFiles = append(slices.Clone(modified), add...)
	slices.Sort(r.VCS.BuiltFiles)
	r.VCS.BuiltFiles = slices.Compact(r.VCS.BuiltFiles)
	return wait, nil
}

// head is the commit the repository is at now: the one Prepare read, unless
// the upstream sync moved it or jj's working copy may have (a process each
// time saved on the usual run).
func (r *Run) head(ctx context.Context) string {
	if r.VCS.Repo.Kind() == vcs.Git && (r.VCS.Upstream == nil || !r.VCS.Upstream.Rebased) && r.VCS.Committed == "" {
		return r.VCS.CommitBefore
	}
	h, err := r.VCS.Repo.Head(ctx)
	if err != nil {
		return r.VCS.CommitBefore
	}
	return h
}

func (r *Run) withhold(f secretscan.Finding, tracked bool) {
	r.VCS.Withheld = append(r.VCS.Withheld, f)
	if tracked {
		r.Warn("%s looks like a secret (%s): it is tracked, so this build uses it, but it is not committed or pushed; commit it yourself if it belongs there, or move the secret out (sops-nix, agenix)", f.Path, f.Rule)
		return
	}
	r.Warn("%s looks like a secret (%s): left alone (not shown to nix, not committed, not pushed); if the build needs it, check it and `git add` it yourself, else add it to .gitignore", f.Path, f.Rule)
}

// pendingChanges says what a dry run did not apply that can change the
// system ("" when nothing).
func (r *Run) pendingChanges() string {
	var what []string
	if r.Flake.PlannedUpdate {
		what = append(what, "the planned flake.lock update")
	}
	if u := r.VCS.Upstream; u != nil && u.Incoming > 0 && !u.Conflict {
		what = append(what, fmt.Sprintf("%d upstream commit(s) the rebase would bring", u.Incoming))
	}
	return strings.Join(what, " and ")
}

// noOp is the evaluation-free "nothing to switch": this fingerprint built
// the system that is running (for boot: the profile's).
func (r *Run) noOp() (Outcome, bool) {
	if r.Cmd.ForceEval || r.Cmd.ForceSwitch || r.Mode == ModeBuild || r.Flake.Fingerprint == "" {
		return Outcome{}, false
	}
	top := loadEvalCache(r.App.StateDir).lookup(r.Flake.Fingerprint)
	if top == "" || r.activeFor(r.Mode) != top {
		return Outcome{}, false
	}
	r.System.Toplevel = top
	r.Outcome = OutcomeNothingToSwitch
	return Outcome{Detail: "nothing to switch: nothing the system depends on changed since " + top + " was built, and it is active (not evaluated; --force-eval to evaluate)"}, true
}

// toplevelAttr is the installable of the host's system.
func (r *Run) toplevelAttr() string {
	return r.Flake.Ref.Dir + "#nixosConfigurations." + r.Host + ".config.system.build.toplevel"
}

// build evaluates and builds the toplevel once and returns its store
// path. A dry run only evaluates it (nothing is built or written).
func (r *Run) build(ctx context.Context) (string, runner.Result, error) {
	n := r.Flake.Nix
	if r.App.DryRun {
		res, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "nix", Dir: n.Dir, Env: n.Env,
			Args: append([]string{"eval", "--no-write-lock-file", "--raw", r.toplevelAttr() + ".outPath"}, r.Cmd.NixArgs...)})
		return res.Out(), res, err
	}
	cmd := runner.Cmd{Name: "nix", Dir: n.Dir, Env: n.Env,
		Args: append([]string{"build", "--no-link", "--json", r.toplevelAttr()}, r.Cmd.NixArgs...)}
	prog := r.progress()
	defer prog.stop()
	cmd.Stream = prog
	if r.Cmd.Verbose {
		cmd.Stream = r.IO.Human
	} else if nom, resume, ok := r.nomBuild(cmd); ok {
		cmd = nom
		defer resume()
	}
	res, err := r.App.Runner.Run(ctx, cmd)
	if err != nil {
		return "", res, err
	}
	var out []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if jErr := json.Unmarshal(res.Stdout, &out); jErr != nil || len(out) == 0 || out[0].Outputs["out"] == "" {
		return "", res, fmt.Errorf("nix build printed no store path: %q", brief.First(string(res.Stdout)))
	}
	return out[0].Outputs["out"], res, nil
}

// buildFailed reports a failed evaluation or build: the repository goes
// back as it was, the system was not touched.
func (r *Run) buildFailed(ctx context.Context, res runner.Result, err error) (Outcome, error) {
	r.Outcome = OutcomeFailed
	r.undoIntentToAdd(ctx)
	if ctx.Err() != nil {
		return Outcome{}, ctx.Err()
	}
	err = flake.EvalError(res, err)
	if r.Flake.HostKnown && strings.Contains(err.Error(), "does not provide attribute") {
		// Prepare trusted the host from an earlier build; it is gone now.
		r.Outcome = OutcomeNone
		if hosts, hErr := r.Flake.Nix.Hosts(ctx); hErr == nil && !slices.Contains(hosts, r.Host) {
			return Outcome{}, exitcode.UsageError(fmt.Errorf("unknown host %q: %s defines nixosConfigurations %s (pass --host)", r.Host, r.Flake.Ref.Dir, strings.Join(hosts, ", ")))
		}
		r.Outcome = OutcomeFailed
	}
	r.showTail(res)
	r.failureHint(ctx, err)
	return Outcome{Detail: "build failed: " + brief.First(err.Error())}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("building %s failed (repository left as it was): %w", r.Host, err))
}

func (r *Run) undoIntentToAdd(ctx context.Context) {
	if len(r.VCS.Added) == 0 || r.VCS.Repo.Kind() != vcs.Git {
		return
	}
	// An intent-to-add entry holds no content: removing it from the index
	// puts the files back to untracked, exactly as they were. This runs
	// after an interrupt too, so it gets a context of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	args := append([]string{"reset", "--quiet", "--"}, r.VCS.Added...)
	if _, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "git", Args: args, Dir: r.VCS.Repo.Dir(), Mutates: true}); err != nil {
		r.Warn("could not undo `git add --intent-to-add` for %s: %v", strings.Join(r.VCS.Added, ", "), err)
	}
}

func (r *Run) showTail(res runner.Result) {
	out := strings.TrimRight(string(res.Stderr)+string(res.Stdout), "\n")
	ls := strings.Split(out, "\n")
	if len(ls) > 20 {
		ls = ls[len(ls)-20:]
	}
	if strings.TrimSpace(out) == "" {
		return
	}
	r.IO.Println("    --- last lines of the build output ---")
	for _, l := range ls {
		r.IO.Println("    " + brief.Safe(l))
	}
}
