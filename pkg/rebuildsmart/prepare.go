package rebuildsmart

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/flake"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/vcs"
)

// ---- 1. Prepare ----

type prepare struct{}

func (prepare) Name() string     { return "Prepare" }
func (prepare) Skip(*Run) string { return "" }

// Run finds and checks the flake, the repository, nix and the host, and
// records what a rollback needs. Bad input is exit 2 with one line.
func (prepare) Run(ctx context.Context, r *Run) (Outcome, error) {
	if err := r.findFlake(); err != nil {
		return Outcome{}, err
	}
	repo, err := vcs.Open(r.Flake.Ref.Dir, r.App.Runner, vcs.Options{ReadOnly: r.App.DryRun})
	if err != nil {
		return Outcome{}, exitcode.UsageError(fmt.Errorf("%v: the flake must live in a git or jj repository", err))
	}
	r.VCS.Repo = repo
	if _, err := runner.LookPath("nix", r.App.Environ); err != nil {
		return Outcome{}, exitcode.UsageError(errors.New("nix is not installed (not on PATH)"))
	}
	r.setupNix(repo)
	if r.Flake.LockBefore, r.Flake.LockBeforeData, err = flake.ReadLock(r.Flake.Ref.Dir); err != nil {
		return Outcome{}, exitcode.UsageError(err)
	}
	// The queries below are independent; run at once, they cost the
	// slowest of them rather than their sum (each is a process). Except
	// the head and the host check: evaluating a git flake runs git, which
	// takes .git/index.lock, and in a colocated jj repository the head's
	// jj command writes .git/index too ("File exists ... index.lock", a
	// CI failure of TestJJCommitPush): one after the other.
	var verErr, headErr, hostErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.Flake.NixVer, verErr = r.Flake.Nix.Version(ctx) }()
	go func() {
		defer wg.Done()
		if r.VCS.CommitBefore, headErr = repo.Head(ctx); headErr == nil {
			hostErr = r.checkHost(ctx)
		}
	}()
	r.readSystem()
	r.checkNetwork(ctx)
	wg.Wait()
	switch {
	case hostErr != nil:
		return Outcome{}, hostErr
	case verErr != nil:
		return Outcome{}, fmt.Errorf("nix --version: %w", verErr)
	case headErr != nil:
		return Outcome{}, fmt.Errorf("reading the repository's commit: %w", headErr)
	}
	// Last, once the flake and host are known and before anything changes:
	// a failing pre hook vetoes the run (exit 9).
	if err := r.preHooks(ctx); err != nil {
		return Outcome{Detail: brief.Line(err.Error())}, err
	}
	return Outcome{Detail: r.prepareDetail()}, nil
}

// findFlake resolves --flake (or "."), the host, and checks flake.nix.
func (r *Run) findFlake() error {
	c := r.Cmd
	cwd, _ := os.Getwd()
	if err := flake.CheckLocal(c.Flake, cwd); err != nil {
		return exitcode.UsageError(err)
	}
	r.Flake.Ref = flake.ParseRef(c.Flake, cwd)
	host, fromDefault, err := r.resolveHost(r.Flake.Ref)
	if err != nil {
		return err
	}
	r.Host, r.HostFromDefault = host, fromDefault
	if r.HostFromDefault && r.Target.Remote() {
		// This machine's name is the wrong configuration for another one.
		return exitcode.UsageError(fmt.Errorf("--target-host %s needs --host NAME (or --flake DIR#NAME): the target's nixosConfigurations attribute", r.Target.TargetHost))
	}
	if err := flake.Check(r.Flake.Ref.Dir); err != nil {
		return exitcode.UsageError(fmt.Errorf("%v: pass --flake DIR or set NH_OS_FLAKE", err))
	}
	return nil
}

// setupNix prepares the nix runner for the flake directory.
func (r *Run) setupNix(repo vcs.Repo) {
	// nix runs git on the flake's repository; GIT_OPTIONAL_LOCKS=0 keeps
	// those queries from rewriting the index (a dry run changes nothing).
	r.Flake.Nix = &flake.Nix{Runner: r.App.Runner, Dir: r.Flake.Ref.Dir, Env: []string{"GIT_OPTIONAL_LOCKS=0"}}
	if r.App.DryRun {
		// nix's `git diff HEAD --quiet` refreshes the index even with
		// GIT_OPTIONAL_LOCKS=0: give it a copy so a dry run writes nothing.
		if idx, err := privateIndex(repo.Dir()); err == nil && idx != "" {
			r.Flake.Nix.Env = append(r.Flake.Nix.Env, "GIT_INDEX_FILE="+idx)
			r.cleanup = append(r.cleanup, func() { os.Remove(idx) })
		}
	}
}

// checkHost makes sure the host exists in nixosConfigurations. Listing
// them is an evaluation of its own; a host this flake has built before
// (the evaluation cache names it) skips it, and a host removed since is
// caught by the build's own error (rebuild.go, unknownHost).
func (r *Run) checkHost(ctx context.Context) error {
	if !r.Target.Remote() && !r.Cmd.ForceEval && knownHost(r.App.StateDir, r.Flake.Ref.Dir, r.Host) {
		r.Flake.HostKnown = true
		return nil
	}
	hosts, err := r.Flake.Nix.Hosts(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "does not provide attribute") {
			return exitcode.UsageError(fmt.Errorf("%s defines no nixosConfigurations", r.Flake.Ref.Dir))
		}
		// A flake that does not evaluate is a failed build, not bad input.
		r.NextStep = "the flake does not evaluate; fix the error above (the repository and the system are unchanged)"
		return fmt.Errorf("evaluating %s#nixosConfigurations: %w", r.Flake.Ref.Dir, err)
	}
	if !slices.Contains(hosts, r.Host) {
		return exitcode.UsageError(fmt.Errorf("unknown host %q: %s defines nixosConfigurations %s (pass --host)", r.Host, r.Flake.Ref.Dir, strings.Join(hosts, ", ")))
	}
	return nil
}

// checkNetwork decides online or offline: --offline, else whether the
// repository's remote answers.
func (r *Run) checkNetwork(ctx context.Context) {
	r.VCS.RemoteURL, _ = r.VCS.Repo.RemoteURL(ctx)
	r.VCS.Online, r.VCS.OfflineReason = true, ""
	if r.Cmd.Offline {
		r.VCS.Online, r.VCS.OfflineReason = false, "offline mode"
	} else if r.VCS.RemoteURL != "" {
		if why := reachable(ctx, r.VCS.RemoteURL); why != "" {
			r.VCS.Online, r.VCS.OfflineReason = false, why
		}
	}
}

// readSystem records the running system and its generation (what a
// rollback goes back to).
func (r *Run) readSystem() {
	s := &r.System
	s.PrevSystem, _ = s.Sys.CurrentSystem()
	if g, err := s.Sys.CurrentGeneration(); err == nil {
		s.PrevProfile = g.Number
		s.PrevGeneration = g.Number
	}
	// What a rollback goes back to is the running system's generation, which
	// differs from the profile's after a `boot` or a half-failed switch.
	if g, ok := s.Sys.GenerationOf(s.PrevSystem); ok && s.PrevSystem != "" {
		s.PrevGeneration = g.Number
	}
}

func (r *Run) prepareDetail() string {
	network := "online"
	if !r.VCS.Online {
		network = "offline (" + r.VCS.OfflineReason + "): network phases skipped"
	}
	gen := "no generation yet"
	if r.System.PrevGeneration > 0 {
		gen = fmt.Sprintf("generation %d", r.System.PrevGeneration)
	}
	return fmt.Sprintf("%s (%s) host %s, commit %s, %s, nix %s, %s",
		r.Flake.Ref.Dir, r.VCS.Repo.Kind(), r.Host, short(r.VCS.CommitBefore), gen, r.Flake.NixVer, network)
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
	} else if at, _, ok := strings.Cut(u, ":"); ok { // scp-like user@host:path
		_, h, found := strings.Cut(at, "@")
		if !found {
			h = at
		}
		host, port = h, "22"
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
