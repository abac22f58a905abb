package rebuildsmart_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/history"
)

// The full happy path: a new file and an upstream change come in, the
// system is evaluated and built once (nix build), activated the way
// nixos-rebuild does it (a profile generation, then switch-to-configuration),
// the tree the build used is committed and pushed, the history records it.
func TestHappyPathGit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.fakeChezmoiSync("success", 0)
	e.upstreamCommit("hosts/beta.conf", "v2 from another machine\n")
	write(t, filepath.Join(e.repo, "hosts", "extra.nix"), "{ }\n")
	// A tracked edit: the build uses it, so the commit holds it.
	write(t, filepath.Join(e.repo, "flake.nix"), read(t, filepath.Join(e.repo, "flake.nix"))+"\n# local note\n")
	// A staged edit of another file the build also uses.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\npkg hello 1.0\n")

	res, rep := e.rsJSON("--verbose")
	if res.Code != 0 {
		t.Fatalf("rebuild-smart failed:\n%s", res)
	}
	if rep["outcome"] != "success" || rep["generation"].(float64) != 1 || rep["evaluated"] != true || rep["dirty"] != false {
		t.Fatalf("outcome %v generation %v evaluated %v dirty %v", rep["outcome"], rep["generation"], rep["evaluated"], rep["dirty"])
	}
	gens := e.generations()
	if len(gens) != 1 || !gens[0].Current {
		t.Fatalf("generations: %+v", gens)
	}
	if e.current() != gens[0].Toplevel || rep["toplevel"] != gens[0].Toplevel {
		t.Fatalf("current-system %q, generation 1 %q, reported %v", e.current(), gens[0].Toplevel, rep["toplevel"])
	}
	// One evaluation: one nix build of the toplevel, nothing else evaluates it.
	if n := strings.Count(res.Stderr, "nix build --no-link --json"); n != 1 || strings.Contains(res.Stderr, ".toplevel.outPath") {
		t.Fatalf("want exactly one evaluation of the system, got %d nix builds:\n%s", n, res.Stderr)
	}
	stc := e.called("switch-to-configuration")
	if len(stc) != 1 || stc[0].Argv[2] != "switch" || len(e.called("nh")) != 0 || len(e.called("nixos-rebuild")) != 0 {
		t.Fatalf("activation calls: stc %+v nh %d nixos-rebuild %d", stc, len(e.called("nh")), len(e.called("nixos-rebuild")))
	}
	// Upstream came in.
	if got := read(t, filepath.Join(e.repo, "hosts", "beta.conf")); got != "v2 from another machine\n" {
		t.Fatalf("upstream change not pulled: %q", got)
	}
	// The commit holds exactly what was built: the new file and both edits.
	msg := e.git("log", "-1", "--format=%s")
	if !strings.HasPrefix(msg, "chore(alpha): rebuild 1 - ") {
		t.Fatalf("commit message %q", msg)
	}
	if files := strings.Fields(e.git("show", "--name-only", "--format=", "HEAD")); !slices.Equal(files, []string{"flake.nix", "hosts/alpha.conf", "hosts/extra.nix"}) {
		t.Fatalf("committed files %q", files)
	}
	if st := e.git("status", "--porcelain"); st != "" {
		t.Fatalf("the build's tree is not all committed: %q", st)
	}
	if remote := e.h.Run(e.repo, "git", "rev-parse", "origin/main"); remote != e.git("rev-parse", "HEAD") || rep["pushed"] != true {
		t.Fatal("not pushed")
	}
	hist := e.history()
	if len(hist) != 1 || hist[0].Outcome != history.OutcomeSuccess || hist[0].Generation != 1 || hist[0].Dirty ||
		hist[0].Toplevel != gens[0].Toplevel || hist[0].Source != "rebuild-smart" || hist[0].Commit != e.git("rev-parse", "HEAD") || hist[0].FlakeLockHash != "" && len(hist[0].FlakeLockHash) != 64 {
		t.Fatalf("history: %+v", hist)
	}
	if !strings.Contains(e.chezmoiSyncCalls(), "--json") {
		t.Fatalf("chezmoi-sync not run with --json: %q", e.chezmoiSyncCalls())
	}
	for _, p := range []string{"Prepare", "Upstream sync", "Dotfiles sync", "Rebuild", "Post-checks", "Commit & push"} {
		if ph := phase(rep, p); ph == nil || ph["status"] != "ok" {
			t.Errorf("phase %s: %v", p, ph)
		}
	}
	if !strings.Contains(res.Stderr, "Summary") {
		t.Errorf("no summary table on stderr with --json:\n%s", res.Stderr)
	}
}

// Nothing changed since the last switch: no evaluation at all, no
// activation, no generation; --force-eval evaluates (still nothing to
// switch) and --force-switch activates anyway.
func TestNothingToSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	if res := e.rs("--skip-dotfiles", "--tag"); res.Code != 0 {
		t.Fatal(res)
	}
	if tag := e.git("rev-parse", "rebuild/alpha/1"); tag != e.git("rev-parse", "HEAD") {
		t.Fatalf("--tag: rebuild/alpha/1 is %s", tag)
	}
	before := len(e.called("switch-to-configuration"))
	res, rep := e.rsJSON("--skip-dotfiles", "--verbose")
	if res.Code != 0 || rep["outcome"] != "nothing-to-switch" || rep["evaluated"] != false || !strings.Contains(res.Stderr, "not evaluated") {
		t.Fatalf("second run:\n%s", res)
	}
	if strings.Contains(res.Stderr, "nix build") || strings.Contains(res.Stderr, "nix eval") {
		t.Fatalf("a no-op run evaluated:\n%s", res.Stderr)
	}
	if n := len(e.called("switch-to-configuration")); n != before {
		t.Fatalf("activation ran again (%d -> %d)", before, n)
	}
	if len(e.history()) != 1 {
		t.Fatalf("nothing-to-switch must not add a history entry: %+v", e.history())
	}
	res, rep = e.rsJSON("--skip-dotfiles", "--force-eval")
	if res.Code != 0 || rep["outcome"] != "nothing-to-switch" || rep["evaluated"] != true {
		t.Fatalf("--force-eval:\n%s", res)
	}
	res = e.rs("--skip-dotfiles", "--force-switch")
	if res.Code != 0 || len(e.called("switch-to-configuration")) != before+1 {
		t.Fatalf("--force-switch did not activate:\n%s", res)
	}
}

// Each thing a pure evaluation reads invalidates the no-op fingerprint: a
// tracked edit, a new file (made visible with intent-to-add), flake.lock,
// the host. Edits nix cannot see (an ignored file) do not.
func TestNoOpFingerprint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"oldlib": oldDate}})
	write(t, filepath.Join(e.repo, ".gitignore"), "scratch/\n")
	e.git("add", ".gitignore")
	e.git("commit", "--quiet", "-m", "ignore scratch")
	noop := func(what string, args ...string) bool {
		t.Helper()
		res, rep := e.rsJSON(append([]string{"--skip-dotfiles", "--offline", "--no-auto-commit"}, args...)...)
		if res.Code != 0 {
			t.Fatalf("%s:\n%s", what, res)
		}
		return rep["evaluated"] == false
	}
	noop("first build")
	if !noop("unchanged") {
		t.Fatal("an unchanged tree was evaluated again")
	}
	write(t, filepath.Join(e.repo, "scratch", "notes"), "ignored\n")
	if !noop("ignored file") {
		t.Fatal("an ignored file invalidated the fingerprint")
	}
	cases := []struct {
		name   string
		change func()
		args   []string
	}{
		{"tracked edit", func() { write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\n\n") }, nil},
		{"new file", func() { write(t, filepath.Join(e.repo, "hosts", "new.nix"), "{ }\n") }, nil},
		{"flake.lock", func() {
			e.input("oldlib", nowDate)
			e.h.Run(e.repo, "nix", "flake", "lock", "--update-input", "oldlib")
		}, nil},
		{"host", func() {}, []string{"--host", "beta"}},
	}
	for _, c := range cases {
		c.change()
		if noop(c.name, c.args...) {
			t.Errorf("%s did not invalidate the fingerprint", c.name)
		}
		if !noop(c.name+", again", c.args...) {
			t.Errorf("after %s, the same tree was evaluated again", c.name)
		}
	}
}

// Not root (NIXDOTS_SUDO=always): the profile and switch-to-configuration
// go through sudo; its exit 4 (units failed) is "switched, units failed",
// exit 8, recorded as units-failed with the generation made.
func TestSudoUnitsFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.h.Setenv("NIXDOTS_SUDO", "always")
	e.h.Setenv("FAKE_UNITS_FAILED", "foo.service,bar.service")
	res, rep := e.rsJSON("--skip-dotfiles")
	if res.Code != 8 {
		t.Fatalf("want exit 8:\n%s", res)
	}
	top, _ := rep["toplevel"].(string)
	sudo := e.called("sudo")
	if len(sudo) != 2 || !slices.Equal(sudo[0].Argv, []string{"nix-env", "--profile", e.sys().ProfilePath(), "--set", top}) ||
		!slices.Equal(sudo[1].Argv, []string{top + "/bin/switch-to-configuration", "switch"}) {
		t.Fatalf("sudo calls: %+v", sudo)
	}
	gens := e.generations()
	if len(gens) != 1 || e.current() != gens[0].Toplevel {
		t.Fatalf("not switched: %+v current %q", gens, e.current())
	}
	if got := rep["failed_units"]; got == nil || len(got.([]any)) != 2 {
		t.Fatalf("failed units %v", got)
	}
	if h := e.history(); len(h) != 1 || h[0].Outcome != history.OutcomeUnitsFailed || h[0].Generation != 1 {
		t.Fatalf("history %+v", h)
	}
	if !strings.Contains(res.Stderr, "foo.service") {
		t.Fatalf("units not named:\n%s", res.Stderr)
	}
}

// A build failure: exit 1, the repository exactly as it was (new files
// untracked again), the system untouched, the output's tail and the next
// step shown, a failed history entry that names no generation (the one
// running is not this build's), so rebuild-rollback --list shows it once.
func TestBuildFailureLeavesRepository(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.built("")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\nfail-build\n")
	write(t, filepath.Join(e.repo, "hosts", "new.nix"), "{ }\n")
	repoBefore := repoState(t, e)
	sysBefore := e.current()
	res, rep := e.rsJSON("--skip-dotfiles")
	if res.Code != 1 || rep["generation"] != float64(0) || rep["outcome"] != "failed" {
		t.Fatalf("want exit 1, generation 0:\n%s", res)
	}
	if repoState(t, e) != repoBefore {
		t.Fatalf("repository changed by a failed build: %s", e.git("status", "--porcelain"))
	}
	if e.current() != sysBefore || len(e.generations()) != 1 {
		t.Fatal("system changed by a failed build")
	}
	for _, want := range []string{"asks for a failing build", "system is unchanged (still generation 1)"} {
		if !strings.Contains(res.Stdout+res.Stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, res)
		}
	}
	if n := strings.Count(res.Stderr, "rebuild-smart: alpha: failed:"); n != 1 {
		t.Errorf("the failure should be said once on stderr, %d times:\n%s", n, res.Stderr)
	}
	h := e.history()
	if len(h) != 2 || h[1].Outcome != history.OutcomeFailed || h[1].Generation != 0 || h[1].Toplevel != "" {
		t.Fatalf("history %+v", h)
	}
	list := e.h.Run(e.repo, "rebuild-rollback", "--list")
	if strings.Count(list, "\n  1 ")+strings.Count(list, "\n* 1 ") != 1 {
		t.Fatalf("rebuild-rollback --list shows generation 1 more than once:\n%s", list)
	}
}

// A failure after the profile moved: the record names the new generation
// (it exists), the rollback command is printed, and --rollback-on-failure
// runs it (profile and current system back to the generation that ran),
// records the rollback too and exits 13.
func TestSwitchFailureRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.built("")
	gen1 := e.generations()[0]
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\nfail-switch\n")
	res := e.rs("--skip-dotfiles")
	if res.Code != 1 || !strings.Contains(res.Stderr, "rollback: rebuild-rollback --system-only --to 1") {
		t.Fatalf("want exit 1 and a rollback command:\n%s", res)
	}
	if g, _ := e.sys().CurrentGeneration(); g.Number != 2 {
		t.Fatalf("the failing switch should have left the profile at generation 2, got %d", g.Number)
	}
	if h := e.history(); len(h) != 2 || h[1].Outcome != history.OutcomeFailed || h[1].Generation != 2 {
		t.Fatalf("history after an activation failure: %+v", h)
	}
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v3\nfail-switch\n")
	res = e.rs("--skip-dotfiles", "--rollback-on-failure")
	if res.Code != 13 || !strings.Contains(res.Stderr, "rolled back to generation 1") {
		t.Fatalf("--rollback-on-failure did not roll back:\n%s", res)
	}
	if g, _ := e.sys().CurrentGeneration(); g.Number != 1 || e.current() != gen1.Toplevel {
		t.Fatalf("after rollback: profile %d, current %s, want 1 and %s", g.Number, e.current(), gen1.Toplevel)
	}
	if h := e.history(); len(h) != 4 || h[2].Outcome != history.OutcomeFailed || h[2].Generation != 3 ||
		h[3].Outcome != history.OutcomeRolledBack || h[3].Generation != 1 {
		t.Fatalf("history: the failed activation and the rollback: %+v", h)
	}
}

// Bad input: exit 2 with one clear line, nothing changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	notFlake := filepath.Join(e.h.Root, "plain")
	must(t, os.MkdirAll(notFlake, 0o755))
	noRepo := filepath.Join(e.h.Root, "norepo")
	write(t, filepath.Join(noRepo, "flake.nix"), read(t, filepath.Join(e.repo, "flake.nix")))
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"not a flake", []string{"--flake", notFlake}, nil, "not a flake"},
		{"not a repository", []string{"--flake", noRepo}, nil, "not a git or jj repository"},
		{"unknown host", []string{"--host", "gamma"}, nil, `unknown host "gamma"`},
		{"unknown host in the flake ref", []string{"--flake", e.repo + "#delta"}, map[string]string{"REBUILD_SMART_HOST": ""}, `unknown host "delta"`},
		{"bad mode combination", []string{"--boot", "--test"}, nil, "can't be used together"},
		{"nix missing", nil, map[string]string{"PATH": e.bin + ":" + filepath.Dir(mustLook(t, "git"))}, "nix is not installed"},
		{"bad duration", []string{"--stale", "soon"}, nil, "invalid duration"},
	}
	for _, c := range cases {
		h := *e.h
		h.Env = slices.Clone(e.h.Env)
		for k, v := range c.env {
			h.Setenv(k, v)
		}
		res := h.Exec(e.repo, "rebuild-smart", append([]string{"--skip-dotfiles"}, c.args...)...)
		if res.Code != 2 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%s: want exit 2 and %q:\n%s", c.name, c.want, res)
		}
		if n := strings.Count(strings.TrimSpace(res.Stderr), "\n"); n > 0 {
			t.Errorf("%s: error is not one line:\n%s", c.name, res.Stderr)
		}
	}
	if len(e.calls()) != 0 || len(e.generations()) != 0 {
		t.Fatalf("bad input changed the system: %+v", e.calls())
	}
	// A flake without nixosConfigurations is bad input; one that does not
	// evaluate is a failed build (exit 1), the repository untouched.
	noConfigs := filepath.Join(e.h.Root, "noconfigs")
	write(t, filepath.Join(noConfigs, "flake.nix"), "{ outputs = _: { }; }\n")
	e.h.Run(noConfigs, "git", "init", "--quiet")
	e.h.Run(noConfigs, "git", "add", ".")
	if res := e.rs("--skip-dotfiles", "--flake", noConfigs); res.Code != 2 || !strings.Contains(res.Stderr, "defines no nixosConfigurations") {
		t.Errorf("no nixosConfigurations:\n%s", res)
	}
	write(t, filepath.Join(e.repo, "flake.nix"), "{ outputs = _: { nixosConfigurations = ; }; }\n")
	before := repoState(t, e)
	if res := e.rs("--skip-dotfiles"); res.Code != 1 || !strings.Contains(res.Stderr, "syntax error") {
		t.Errorf("broken flake:\n%s", res)
	}
	if repoState(t, e) != before {
		t.Error("a broken flake changed the repository")
	}
}

func mustLook(t *testing.T, tool string) string {
	t.Helper()
	p, err := findTool(tool)
	must(t, err)
	if filepath.Dir(p) == "/usr/bin" || filepath.Dir(p) == "/bin" {
		t.Skipf("%s lives next to nix in %s: cannot hide nix alone", tool, filepath.Dir(p))
	}
	return p
}
