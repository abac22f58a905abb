package rebuildsmart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/remotetarget"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// ---- 1. Prepare ----

type prepare struct{}

func (prepare) Name() string     { return "Prepare" }
func (prepare) Skip(*Run) string { return "" }

// Run finds and checks the flake, the repository, nix and the host, and
// records what a rollback needs. Bad input is exit 2 with one line.
func (prepare) Run(ctx context.Context, r *Run) (Outcome, error) {
	c := r.Cmd
	cwd, _ := os.Getwd()
	if c.Flake == "" {
		c.Flake = "."
	}
	r.Flake = flake.ParseRef(c.Flake, cwd)
	r.Host = c.Host
	if r.Host == "" {
		r.Host = r.Flake.Host
	}
	if r.Host == "" {
		r.Host = r.App.Hostname()
		r.HostFromDefault = true
	}
	if r.HostFromDefault && r.Target.Remote() {
		// This machine's name is the wrong configuration for another one.
		return Outcome{}, exitcode.UsageError(fmt.Errorf("--target-host %s needs --host NAME (or --flake DIR#NAME): the target's nixosConfigurations attribute", r.Target.TargetHost))
	}
	if err := flake.Check(r.Flake.Dir); err != nil {
		return Outcome{}, exitcode.UsageError(fmt.Errorf("%v: pass --flake DIR or set NH_OS_FLAKE", err))
	}
	repo, err := vcs.Open(r.Flake.Dir, r.App.Runner, vcs.Options{ReadOnly: r.App.DryRun})
	if err != nil {
		return Outcome{}, exitcode.UsageError(fmt.Errorf("%v: the flake must live in a git or jj repository", err))
	}
	r.Repo = repo
	if _, err := runner.LookPath("nix", r.App.Environ); err != nil {
		return Outcome{}, exitcode.UsageError(errors.New("nix is not installed (not on PATH)"))
	}
	// nix runs git on the flake's repository; GIT_OPTIONAL_LOCKS=0 keeps
	// those queries from rewriting the index (a dry run changes nothing).
	r.Nix = &flake.Nix{Runner: r.App.Runner, Dir: r.Flake.Dir, Env: []string{"GIT_OPTIONAL_LOCKS=0"}}
	if r.App.DryRun {
		// nix's `git diff HEAD --quiet` refreshes the index even with
		// GIT_OPTIONAL_LOCKS=0: give it a copy so a dry run writes nothing.
		if idx, err := privateIndex(repo.Dir()); err == nil && idx != "" {
			r.Nix.Env = append(r.Nix.Env, "GIT_INDEX_FILE="+idx)
			r.cleanup = append(r.cleanup, func() { os.Remove(idx) })
		}
	}
	if r.NixVer, err = r.Nix.Version(ctx); err != nil {
		return Outcome{}, fmt.Errorf("nix --version: %w", err)
	}
	_, err = runner.LookPath("nh", r.App.Environ)
	r.HasNH = err == nil
	if r.CommitBefore, err = repo.Head(ctx); err != nil {
		return Outcome{}, fmt.Errorf("reading the repository's commit: %w", err)
	}
	if r.LockBefore, r.LockBeforeData, err = flake.ReadLock(r.Flake.Dir); err != nil {
		return Outcome{}, exitcode.UsageError(err)
	}
	hosts, err := r.Nix.Hosts(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "does not provide attribute") {
			return Outcome{}, exitcode.UsageError(fmt.Errorf("%s defines no nixosConfigurations", r.Flake.Dir))
		}
		// A flake that does not evaluate is a failed build, not bad input.
		r.NextStep = "the flake does not evaluate; fix the error above (the repository and the system are unchanged)"
		return Outcome{}, fmt.Errorf("evaluating %s#nixosConfigurations: %w", r.Flake.Dir, err)
	}
	if !slices.Contains(hosts, r.Host) {
		return Outcome{}, exitcode.UsageError(fmt.Errorf("unknown host %q: %s defines nixosConfigurations %s (pass --host)", r.Host, r.Flake.Dir, strings.Join(hosts, ", ")))
	}
	r.PrevSystem, _ = r.Sys.CurrentSystem()
	if g, err := r.Sys.CurrentGeneration(); err == nil {
		r.PrevProfile = g.Number
		r.PrevGeneration = g.Number
	}
	// What a rollback goes back to is the running system's generation, which
	// differs from the profile's after a `boot` or a half-failed switch.
	if g, ok := r.Sys.GenerationOf(r.PrevSystem); ok && r.PrevSystem != "" {
		r.PrevGeneration = g.Number
	}
	r.RemoteURL, _ = repo.RemoteURL(ctx)
	r.Online, r.OfflineReason = true, ""
	if c.Offline {
		r.Online, r.OfflineReason = false, "offline mode"
	} else if r.RemoteURL != "" {
		if why := reachable(ctx, r.RemoteURL); why != "" {
			r.Online, r.OfflineReason = false, why
		}
	}
	network := "online"
	if !r.Online {
		network = "offline (" + r.OfflineReason + "): network phases skipped"
	}
	gen := "no generation yet"
	if r.PrevGeneration > 0 {
		gen = fmt.Sprintf("generation %d", r.PrevGeneration)
	}
	detail := fmt.Sprintf("%s (%s) host %s, commit %s, %s, nix %s, %s",
		r.Flake.Dir, repo.Kind(), r.Host, short(r.CommitBefore), gen, r.NixVer, network)
	// Last, once the flake and host are known and before anything changes:
	// a failing pre hook vetoes the run (exit 9).
	if err := r.preHooks(ctx); err != nil {
		return Outcome{Detail: brief.Line(err.Error())}, err
	}
	return Outcome{Detail: detail}, nil
}

// privateIndex copies <repo>/.git/index to a temporary file and returns its
// path ("" when the repository has no index file of its own).
func privateIndex(repoDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(repoDir, ".git", "index"))
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "rebuild-smart-index-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// reachable returns "" when the remote at u answers, else why not. Local
// remotes are checked on disk; network ones with a TCP connect (no git
// round trip: it only has to tell offline from online).
func reachable(ctx context.Context, u string) string {
	if strings.HasPrefix(u, "/") || strings.HasPrefix(u, "file://") {
		p := strings.TrimPrefix(u, "file://")
		if _, err := os.Stat(p); err != nil {
			return "remote " + u + " not reachable"
		}
		return ""
	}
	host, port := "", ""
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		host, port = pu.Hostname(), pu.Port()
		if port == "" {
			port = map[string]string{"ssh": "22", "git+ssh": "22", "http": "80", "git": "9418"}[pu.Scheme]
			if port == "" {
				port = "443"
			}
		}
	} else if at, rest, ok := strings.Cut(u, ":"); ok { // scp-like user@host:path
		_, h, found := strings.Cut(at, "@")
		if !found {
			h = at
		}
		host, port = h, "22"
		_ = rest
	}
	if host == "" {
		return ""
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "cannot reach " + host
	}
	conn.Close()
	return ""
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	if rev == "" {
		return "none"
	}
	return rev
}

// ---- 2. Upstream sync ----

type upstream struct{}

func (upstream) Name() string { return "Upstream sync" }
func (upstream) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipUpstream:
		return "--skip-upstream"
	case !r.Online:
		return r.OfflineReason
	}
	return ""
}

func (upstream) Run(ctx context.Context, r *Run) (Outcome, error) {
	if r.RemoteURL == "" {
		return Outcome{Status: ui.Skipped, Detail: "the repository has no remote"}, nil
	}
	res, err := r.Repo.Sync(ctx)
	r.Upstream = &res
	if r.App.DryRun && err == nil {
		// The fetch was not run: what we know is as of the last fetch.
		return Outcome{Detail: "would fetch and rebase; as of the last fetch: " + res.Detail}, nil
	}
	if err != nil {
		r.Warn("building on stale upstream: %v", err)
		return Outcome{Status: ui.Warn, Detail: "building on stale upstream: " + brief.First(err.Error())}, nil
	}
	if res.Conflict {
		r.Warn("upstream: %s; resolve it by hand when convenient (git: `git rebase <upstream>`; jj: `jj rebase -b @ -d <bookmark>@origin`)", res.Detail)
		return Outcome{Status: ui.Warn, Detail: res.Detail}, nil
	}
	return Outcome{Detail: res.Detail}, nil
}

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
	case !r.Online:
		return r.OfflineReason + "; run chezmoi-sync later"
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

// ---- 4. Secrets ----

type secrets struct{}

func (secrets) Name() string { return "Secrets input" }
func (secrets) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipSecrets:
		return "--skip-secrets"
	case r.Cmd.SecretsInput == "":
		return "no secrets input configured"
	case !r.LockBefore.Has(r.Cmd.SecretsInput):
		return "the flake has no input " + r.Cmd.SecretsInput
	case !r.Online:
		return r.OfflineReason
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
	before, _, err := flake.ReadLock(r.Flake.Dir)
	if err != nil {
		return Outcome{}, err
	}
	cmd := r.Nix.UpdateCmd(r.NixVer, inputs, timeout)
	if r.App.DryRun {
		r.mu.Lock()
		r.PlannedLockUpdate = true
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
	after, _, err := flake.ReadLock(r.Flake.Dir)
	if err != nil {
		return Outcome{}, err
	}
	changes := flake.Changelog(before, after)
	r.mu.Lock()
	r.Changelog = append(r.Changelog, changes...)
	r.mu.Unlock()
	if len(changes) == 0 {
		return Outcome{Detail: "already up to date"}, nil
	}
	var lines []string
	for _, ch := range changes {
		lines = append(lines, ch.String())
		if !secret {
			r.IO.Println("    " + ch.String())
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
	case !r.Online:
		return r.OfflineReason
	}
	return ""
}

func (update) Run(ctx context.Context, r *Run) (Outcome, error) {
	c := r.Cmd
	if len(c.UpdateInput) > 0 {
		lock, _, err := flake.ReadLock(r.Flake.Dir)
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
	lock, _, err := flake.ReadLock(r.Flake.Dir)
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

// ---- 6. Rebuild ----

type rebuild struct{}

func (rebuild) Name() string     { return "Rebuild" }
func (rebuild) Skip(*Run) string { return "" }

// Run makes new files visible to nix, evaluates the toplevel, skips the
// activation when it is already running, else builds and activates through
// nh or nixos-rebuild. Failure leaves the repository as it was and says how
// to roll back.
func (rebuild) Run(ctx context.Context, r *Run) (Outcome, error) {
	added, err := r.Repo.Untracked(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("listing new files: %w", err)
	}
	if err := r.Repo.IntentToAdd(ctx, added); err != nil {
		return Outcome{}, fmt.Errorf("git add --intent-to-add: %w", err)
	}
	r.Added = added
	if head, err := r.Repo.Head(ctx); err == nil {
		r.BuiltCommit = head
	}
	top, err := r.Nix.Toplevel(ctx, r.Host)
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{}, ctx.Err()
		}
		r.BuildOutcome = history.OutcomeFailed
		r.undoIntentToAdd(ctx)
		r.failureHint(ctx, err, "")
		return Outcome{Detail: "evaluation failed"}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("evaluating %s: %w", r.Host, err))
	}
	r.Toplevel = top
	r.readTargetSystem(ctx)
	if err := r.chooseForInhibitors(ctx); err != nil {
		r.BuildOutcome = history.OutcomeFailed
		r.undoIntentToAdd(ctx)
		r.NextStep = "the system is unchanged; activate with --boot and reboot"
		return Outcome{Detail: brief.First(err.Error())}, exitcode.Wrap(exitcode.Failure, err)
	}
	if !r.Cmd.ForceSwitch && r.Mode != "build" && top == r.activeFor(r.Mode) {
		r.BuildOutcome = "nothing-to-switch"
		r.Generation = r.PrevGeneration
		return Outcome{Status: ui.Skipped, Detail: "nothing to switch: " + top + " is already active (--force-switch to activate anyway)"}, nil
	}
	cmd := r.switchCommand()
	r.SwitchCmd = cmd.String()
	if r.App.DryRun {
		_, _ = r.App.Runner.Run(ctx, cmd)
		return Outcome{Detail: "would build " + top + " with: " + cmd.String()}, nil
	}
	if r.Cmd.Ask && !r.HasNH && r.Mode != "build" && !r.Target.Remote() {
		if !r.confirm(fmt.Sprintf("Activate %s (%s)? [y/N] ", top, r.Mode)) {
			r.BuildOutcome = ""
			return Outcome{Status: ui.Skipped, Detail: "not activated (answered no)"}, nil
		}
	}
	res, runErr := r.App.Runner.Run(ctx, cmd)
	if ctx.Err() != nil {
		r.BuildOutcome = history.OutcomeFailed
		return Outcome{}, ctx.Err()
	}
	r.noteSystem()
	if runErr == nil {
		r.BuildOutcome = history.OutcomeSuccess
		return Outcome{Detail: r.builtDetail()}, nil
	}
	if r.Target.Remote() {
		return r.remoteFailure(ctx, res, runErr)
	}
	// nixos-rebuild passes switch-to-configuration's exit 4 through; nh
	// reports every activation error alike, so also look at what happened:
	// the new system is active and systemd lists failed units.
	if nixsys.IsUnitsFailed(runErr) || (r.Mode != "build" && r.activeFor(r.Mode) == top) {
		if units := r.failedUnits(ctx); len(units) > 0 || nixsys.IsUnitsFailed(runErr) {
			r.BuildOutcome = history.OutcomeUnitsFailed
			r.FailedUnits = units
			r.Warn("switched to %s, but some units failed: %s (see `systemctl --failed`, `journalctl -u <unit>`)", top, strings.Join(units, ", "))
			return Outcome{Status: ui.Warn, Detail: "switched; units failed: " + strings.Join(units, ", ")}, nil
		}
	}
	r.BuildOutcome = history.OutcomeFailed
	r.undoIntentToAdd(ctx)
	r.showTail(res, runErr)
	r.failureHint(ctx, runErr, top)
	return Outcome{Detail: "build failed: " + brief.First(runErr.Error())}, exitcode.Wrap(exitcode.Failure, fmt.Errorf("%s failed (repository left as it was): %w", r.Mode, runErr))
}

// activeFor is what counts as "already running" for mode: the current
// system for switch and test, the profile's generation for boot.
func (r *Run) activeFor(mode string) string {
	if r.Target.Remote() {
		return r.TargetPrev
	}
	if mode == nixsys.ActionBoot {
		if g, err := r.Sys.CurrentGeneration(); err == nil {
			return g.Toplevel
		}
		return ""
	}
	cur, _ := r.Sys.CurrentSystem()
	return cur
}

// switchCommand is `nh os <mode> <flake> -H <host>` (never -u: updates are
// phase 5's) or `[sudo] nixos-rebuild <mode> --flake <flake>#<host>`.
func (r *Run) switchCommand() runner.Cmd {
	c := runner.Cmd{Mutates: true, Dir: r.Flake.Dir}
	if r.HasNH {
		c.Name = "nh"
		c.Args = []string{"os", r.Mode, r.Flake.Dir, "-H", r.Host}
		if r.Cmd.Ask && r.Mode != "build" {
			c.Args = append(c.Args, "--ask")
			c.Stdin = r.App.Stdin
		}
	} else {
		args := []string{r.Mode, "--flake", r.Flake.Dir + "#" + r.Host}
		c.Name, c.Args = "nixos-rebuild", args
		if r.Mode == "build" {
			// build leaves ./result: keep it out of the repository.
			c.Dir = os.TempDir()
		} else if r.Sys.Sudo {
			c.Name, c.Args = "sudo", append([]string{"nixos-rebuild"}, args...)
		}
	}
	if r.Cmd.Verbose {
		c.Stream = r.IO.Human
	}
	// --target-host / --build-host the way each tool understands them.
	return remotetarget.Apply(c, r.Target, remotetarget.Options{})
}

func (r *Run) confirm(prompt string) bool {
	r.IO.Printf("%s", prompt)
	if r.App.Stdin == nil {
		return false
	}
	line, _ := bufio.NewReader(r.App.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

// noteSystem records the generation and toplevel after an activation.
func (r *Run) noteSystem() {
	if r.Target.Remote() {
		return // the target's generations are not read (docs/fleet.md)
	}
	switch r.Mode {
	case nixsys.ActionSwitch, nixsys.ActionBoot:
		if g, ok := r.Sys.GenerationOf(r.Toplevel); ok {
			r.Generation = g.Number
		} else if g, err := r.Sys.CurrentGeneration(); err == nil {
			r.Generation = g.Number
		}
	}
}

func (r *Run) builtDetail() string {
	if r.Target.Remote() && r.Mode != "build" {
		return fmt.Sprintf("%s %s on %s", r.Mode, r.Toplevel, r.Target.TargetHost)
	}
	switch r.Mode {
	case "build":
		return "built " + r.Toplevel + " (not activated)"
	case nixsys.ActionTest:
		return "activated " + r.Toplevel + " until reboot (test)"
	case nixsys.ActionBoot:
		return fmt.Sprintf("generation %d is the boot default (not activated)", r.Generation)
	}
	return fmt.Sprintf("switched to generation %d", r.Generation)
}

func (r *Run) undoIntentToAdd(ctx context.Context) {
	if len(r.Added) == 0 || r.Repo.Kind() != vcs.Git {
		return
	}
	// An intent-to-add entry holds no content: removing it from the index
	// puts the files back to untracked, exactly as they were.
	args := append([]string{"reset", "--quiet", "--"}, r.Added...)
	if _, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "git", Args: args, Dir: r.Repo.Dir(), Mutates: true}); err != nil {
		r.Warn("could not undo `git add --intent-to-add` for %s: %v", strings.Join(r.Added, ", "), err)
	}
}

func (r *Run) showTail(res runner.Result, err error) {
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
		r.IO.Println("    " + l)
	}
}

// failureHint says whether the system changed and how to go back; with
// --rollback-on-failure it goes back itself.
func (r *Run) failureHint(ctx context.Context, err error, top string) {
	cur, _ := r.Sys.CurrentSystem()
	g, _ := r.Sys.CurrentGeneration()
	changed := (cur != r.PrevSystem) || (g.Number != r.PrevProfile)
	dirty := ""
	if r.LockBeforeData != nil {
		if _, now, _ := flake.ReadLock(r.Flake.Dir); !bytes.Equal(now, r.LockBeforeData) {
			dirty = " flake.lock keeps this run's update (uncommitted); to drop it: " + restoreHint(r.Repo.Kind(), r.lockRel()) + "."
		}
	}
	if !changed {
		r.RollbackHint = ""
		r.NextStep = fmt.Sprintf("the system is unchanged (still generation %d); the repository is as it was.%s Fix the error above and run rebuild-smart again.", r.PrevGeneration, dirty)
		return
	}
	r.RollbackHint = fmt.Sprintf("rebuild-rollback --system-only --to %d", r.PrevGeneration)
	if r.Cmd.RollbackOnFailure && r.PrevGeneration > 0 {
		if _, rbErr := r.Sys.Activate(ctx, r.PrevGeneration, nixsys.ActionSwitch); rbErr != nil && !nixsys.IsUnitsFailed(rbErr) {
			r.Warn("rollback to generation %d failed: %v; run `%s`", r.PrevGeneration, rbErr, r.RollbackHint)
		} else {
			r.RolledBack = true
			r.NextStep = fmt.Sprintf("rolled back to generation %d (--rollback-on-failure).%s", r.PrevGeneration, dirty)
			return
		}
	}
	r.NextStep = fmt.Sprintf("the system changed before the failure; go back with `%s`.%s", r.RollbackHint, dirty)
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

// ---- 7. Post-checks ----

type postChecks struct{}

func (postChecks) Name() string { return "Post-checks" }
func (postChecks) Skip(r *Run) string {
	switch {
	case r.Mode == "build":
		return "--build: nothing was activated"
	case r.App.DryRun:
		return "dry run: nothing was activated"
	case r.BuildOutcome == "":
		return "nothing was activated"
	case r.Target.Remote():
		_, note := remotetarget.PhasePlan(remotetarget.PhasePostChecks, r.Target)
		return note
	}
	return ""
}

func (postChecks) Run(ctx context.Context, r *Run) (Outcome, error) {
	var parts []string
	status := ui.OK
	// Secrets: only meaningful when the flake uses sops-nix or a secrets input.
	dir := r.Sys.Path(r.Cmd.SecretsPath)
	entries, err := os.ReadDir(dir)
	usesSecrets := r.LockBefore.Has("sops-nix") || r.LockBefore.Has(r.Cmd.SecretsInput)
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
				r.FailedUnits = units
				if r.BuildOutcome == history.OutcomeSuccess && r.Toplevel != r.PrevSystem {
					r.BuildOutcome = history.OutcomeUnitsFailed
				}
				parts = append(parts, "failed units: "+strings.Join(units, ", "))
			} else {
				parts = append(parts, "no failed units")
			}
		}
	}
	if d := r.closureDiff(ctx); d != "" {
		parts = append(parts, d)
	}
	return Outcome{Status: status, Detail: strings.Join(parts, "; ")}, nil
}

// closureDiff prints what changed between the previous and the new system
// with nvd, dix or nix store diff-closures, whichever is installed.
func (r *Run) closureDiff(ctx context.Context) string {
	if r.PrevSystem == "" || r.Toplevel == "" || r.PrevSystem == r.Toplevel {
		return ""
	}
	if _, err := os.Stat(r.PrevSystem); err != nil {
		return ""
	}
	var cmd runner.Cmd
	switch {
	case has(r, "nvd"):
		cmd = runner.Cmd{Name: "nvd", Args: []string{"diff", r.PrevSystem, r.Toplevel}}
	case has(r, "dix"):
		cmd = runner.Cmd{Name: "dix", Args: []string{r.PrevSystem, r.Toplevel}}
	default:
		cmd = runner.Cmd{Name: "nix", Args: []string{"store", "diff-closures", r.PrevSystem, r.Toplevel}}
	}
	cmd.Timeout = time.Minute
	res, err := r.App.Runner.Run(ctx, cmd)
	if err != nil {
		return ""
	}
	out := strings.TrimSpace(string(res.Stdout))
	if out == "" {
		return "closure diff (" + cmd.Name + "): no package changes"
	}
	ls := strings.Split(out, "\n")
	r.IO.Println("    changes (" + cmd.Name + "):")
	for i, l := range ls {
		if i == 30 {
			r.IO.Println(fmt.Sprintf("    ... %d more lines", len(ls)-30))
			break
		}
		r.IO.Println("    " + l)
	}
	return fmt.Sprintf("closure diff (%s): %d lines", cmd.Name, len(ls))
}

func has(r *Run, tool string) bool {
	_, err := runner.LookPath(tool, r.App.Environ)
	return err == nil
}

// ---- 8. Commit and push ----

type commitPush struct{}

func (commitPush) Name() string { return "Commit & push" }
func (commitPush) Skip(r *Run) string {
	switch {
	case r.Mode == "build" || r.Mode == nixsys.ActionTest:
		return "--" + r.Mode + ": nothing to record"
	case r.BuildOutcome == "" && !r.App.DryRun:
		return "nothing was switched"
	}
	return ""
}

// lockRel is flake.lock's path relative to the repository's top (the flake
// may live in a subdirectory).
func (r *Run) lockRel() string {
	rel, err := filepath.Rel(r.Repo.Dir(), filepath.Join(r.Flake.Dir, "flake.lock"))
	if err != nil {
		return "flake.lock"
	}
	return rel
}

func (r *Run) lockChanged() bool {
	_, now, _ := flake.ReadLock(r.Flake.Dir)
	return !bytes.Equal(now, r.LockBeforeData)
}

func (commitPush) Run(ctx context.Context, r *Run) (Outcome, error) {
	var parts []string
	status := ui.OK
	if r.Cmd.AutoCommit {
		var paths []string
		lockPath := r.lockRel()
		if r.lockChanged() || r.PlannedLockUpdate {
			paths = append(paths, lockPath)
		}
		paths = append(paths, r.Added...)
		changed, err := r.Repo.Changed(ctx, paths)
		if err != nil {
			return Outcome{}, err
		}
		if r.PlannedLockUpdate && !slices.Contains(changed, lockPath) {
			changed = append(changed, lockPath) // after the planned update
		}
		if len(changed) == 0 {
			parts = append(parts, "nothing to commit")
		} else {
			gen := "?"
			if r.Generation > 0 {
				gen = fmt.Sprint(r.Generation)
			}
			msg := fmt.Sprintf("chore(%s): rebuild %s - %s", r.Host, gen, r.App.Now().UTC().Format("2006-01-02 15:04 UTC"))
			if r.App.DryRun {
				parts = append(parts, fmt.Sprintf("would commit %s as %q", strings.Join(changed, ", "), msg))
			} else {
				id, err := r.Repo.Commit(ctx, msg, changed)
				if err != nil {
					r.Warn("auto-commit failed; the changes stay uncommitted: %v", err)
					status = ui.Warn
					parts = append(parts, "commit failed")
				} else {
					r.Committed = id
					parts = append(parts, "committed "+short(id)+" ("+strings.Join(changed, ", ")+")")
				}
			}
		}
	} else {
		parts = append(parts, "autoCommit off")
	}
	if r.Cmd.Tag && r.Generation > 0 {
		rev := r.Committed
		if rev == "" {
			rev = r.BuiltCommit
		}
		name := fmt.Sprintf("rebuild/%s/%d", r.Host, r.Generation)
		if r.App.DryRun {
			parts = append(parts, "would tag "+name)
		} else if err := r.Repo.Tag(ctx, name, rev); err != nil {
			r.Warn("tag %s: %v", name, err)
			status = ui.Warn
		} else {
			parts = append(parts, "tagged "+name)
		}
	}
	switch {
	case !r.Cmd.AutoPush:
		parts = append(parts, "autoPush off")
	case !r.Online:
		parts = append(parts, "offline: push next time")
	case r.Committed == "" && !r.App.DryRun:
		if ahead := r.ahead(ctx); ahead {
			r.push(ctx, &parts, &status)
		}
	default:
		r.push(ctx, &parts, &status)
	}
	if head, err := r.Repo.Head(ctx); err == nil {
		r.CommitAfter = head
	}
	return Outcome{Status: status, Detail: strings.Join(parts, "; ")}, nil
}

// ahead reports whether git HEAD has commits its upstream lacks (a push a
// previous offline run left for "next time"). jj: never guessed.
func (r *Run) ahead(ctx context.Context) bool {
	if r.Repo.Kind() != vcs.Git {
		return false
	}
	res, err := r.App.Runner.Run(ctx, runner.Cmd{Name: "git", Dir: r.Repo.Dir(), Args: []string{"--no-optional-locks", "rev-list", "--count", "@{upstream}..HEAD"}})
	return err == nil && res.Out() != "0" && res.Out() != ""
}

func (r *Run) push(ctx context.Context, parts *[]string, status *string) {
	if r.RemoteURL == "" {
		*parts = append(*parts, "no remote to push to")
		return
	}
	if err := r.Repo.Push(ctx); err != nil {
		r.Warn("push failed; the commit stays local and the next online run pushes it: %v", brief.First(err.Error()))
		*status = ui.Warn
		*parts = append(*parts, "push failed")
		return
	}
	if r.App.DryRun {
		*parts = append(*parts, "would push")
		return
	}
	r.Pushed = true
	*parts = append(*parts, "pushed")
}
