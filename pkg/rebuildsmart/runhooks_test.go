package rebuildsmart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
	"github.com/nixdots/nixdots/pkg/metrics"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/state"
)

// config writes a config file with the rebuildSmart section and returns
// the --config argument pair.
func (e *env) config(section map[string]any) []string {
	e.t.Helper()
	b, err := json.Marshal(map[string]any{"rebuildSmart": section})
	must(e.t, err)
	p := filepath.Join(e.h.Root, "config.json")
	write(e.t, p, string(b))
	return []string{"--config", p}
}

// hook writes an executable hooks.d script.
func (e *env) hook(kind, name, body string) {
	e.t.Helper()
	p := filepath.Join(e.h.Root, "home", ".config", "rebuild-smart", "hooks.d", kind, name)
	if x := e.h.Getenv("XDG_CONFIG_HOME"); x != "" {
		p = filepath.Join(x, "rebuild-smart", "hooks.d", kind, name)
	}
	write(e.t, p, "#!/bin/sh\n"+body+"\n")
	must(e.t, os.Chmod(p, 0o755))
}

func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(read(t, path), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Hooks run in order (config entries, then hooks.d by name) with the
// REBUILD_SMART_* environment; a failing pre hook vetoes the run before
// anything changes (exit 9, said clearly); post hooks see the outcome.
func TestUserHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	log := filepath.Join(e.h.Root, "hooks.log")
	cfg := e.config(map[string]any{"hooks": map[string]any{
		"preRebuild":  [][]string{{"sh", "-c", "echo config-pre >> " + log}},
		"postRebuild": [][]string{{"sh", "-c", "echo config-post >> " + log + "; env > " + filepath.Join(e.h.Root, "post.env")}},
		"onFailure":   [][]string{{"sh", "-c", "echo config-failure >> " + log}},
	}})
	e.hook("pre", "20-second", "echo 20-pre >> "+log)
	e.hook("pre", "10-first", "echo 10-pre >> "+log+"; env > "+filepath.Join(e.h.Root, "pre.env"))
	e.hook("post", "10-post", "echo 10-post >> "+log+"; exit 3") // fails: reported, outcome unchanged

	res, rep := e.rsJSON(append(cfg, "--skip-dotfiles")...)
	if res.Code != 0 || rep["outcome"] != "success" {
		t.Fatalf("a failing post hook changed the outcome:\n%s", res)
	}
	if got := strings.Fields(read(t, log)); !slices.Equal(got, []string{"config-pre", "10-pre", "20-pre", "config-post", "10-post"}) {
		t.Fatalf("hook order %v", got)
	}
	if !strings.Contains(res.Stderr, "10-post: exit 3") || rep["hooks_failed"] != float64(1) {
		t.Fatalf("the failed post hook is not reported:\n%s", res)
	}
	pre, post := envFile(t, filepath.Join(e.h.Root, "pre.env")), envFile(t, filepath.Join(e.h.Root, "post.env"))
	for k, want := range map[string]string{"REBUILD_SMART_HOOK": "pre", "REBUILD_SMART_OUTCOME": "pending", "REBUILD_SMART_HOST": "alpha",
		"REBUILD_SMART_ACTION": "switch", "REBUILD_SMART_FLAKE": e.repo, "REBUILD_SMART_GENERATION": "", "REBUILD_SMART_UNATTENDED": "0"} {
		if v, ok := pre[k]; !ok || v != want {
			t.Errorf("pre hook %s=%q, want %q", k, v, want)
		}
	}
	for k, want := range map[string]string{"REBUILD_SMART_HOOK": "post", "REBUILD_SMART_OUTCOME": "success", "REBUILD_SMART_GENERATION": "1",
		"REBUILD_SMART_TOPLEVEL": e.current(), "REBUILD_SMART_COMMIT_BEFORE": rep["commit_before"].(string)} {
		if v := post[k]; v != want {
			t.Errorf("post hook %s=%q, want %q", k, v, want)
		}
	}

	// Veto: something to build, a pre hook that refuses.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	e.hook("pre", "15-battery", "echo on battery >&2; exit 1")
	must(t, os.Remove(log))
	before, gens, nh := repoState(t, e), len(e.generations()), len(e.called("nh"))
	res, rep = e.rsJSON(append(cfg, "--skip-dotfiles")...)
	if res.Code != 9 || rep["outcome"] != "vetoed" {
		t.Fatalf("want exit 9 vetoed:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "pre-rebuild hook 15-battery: exit 1: on battery vetoed the rebuild; nothing was changed") {
		t.Fatalf("the veto is not said clearly:\n%s", res.Stderr)
	}
	if got := strings.Fields(read(t, log)); !slices.Equal(got, []string{"config-pre", "10-pre"}) {
		t.Fatalf("after a veto: later pre hooks and failure hooks must not run: %v", got)
	}
	if repoState(t, e) != before || len(e.generations()) != gens || len(e.called("nh")) != nh {
		t.Fatal("a vetoed run changed the repository or the system")
	}
	if p := phase(rep, "Upstream sync"); p["status"] != "not-run" {
		t.Fatalf("phases after the veto: %v", p)
	}
}

// A pre hook past hooks.timeout is killed and vetoes the run.
func TestUserHookTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	cfg := e.config(map[string]any{"hooks": map[string]any{"timeout": "1s"}})
	e.hook("pre", "10-hang", "sleep 300")
	start := time.Now()
	res := e.rs(append(cfg, "--skip-dotfiles")...)
	if res.Code != 9 || !strings.Contains(res.Stderr, "10-hang: timed out after 1s") {
		t.Fatalf("want a timed-out veto:\n%s", res)
	}
	// The hook sleeps 300 s: two minutes is a whole run on a loaded
	// machine under -race, and still proves the hook was cut off.
	if d := time.Since(start); d > 2*time.Minute {
		t.Fatalf("the hook was not cut off at its timeout: %s", d)
	}
	if len(e.generations()) != 0 {
		t.Fatal("the system changed")
	}
}

// The webhook gets the run's JSON; a slow or failing endpoint costs at most
// its timeout and never changes the outcome.
func TestWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	var got atomic.Value
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	defer ok.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // until the client gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Minute):
		}
	}))
	defer slow.Close()
	defer close(release)
	var failures atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failures.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer failing.Close()
	cfg := func(url, timeout string) []string {
		return e.config(map[string]any{"notify": map[string]any{"desktop": false, "webhookUrl": url, "webhookTimeout": timeout, "webhookRetries": 2}})
	}

	res := e.rs(append(cfg(ok.URL, "2s"), "--skip-dotfiles")...)
	body, _ := got.Load().(string)
	var payload struct {
		Tool, Host, Status string
		Record             map[string]any
	}
	if res.Code != 0 || json.Unmarshal([]byte(body), &payload) != nil {
		t.Fatalf("webhook body %q\n%s", body, res)
	}
	if payload.Tool != "rebuild-smart" || payload.Host != "alpha" || payload.Status != "success" || payload.Record["generation"] != float64(1) {
		t.Fatalf("payload %s", body)
	}

	// Baseline: the same (nothing-to-switch) run without a webhook.
	start := time.Now()
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	base := time.Since(start)

	// The server hangs for 10 minutes: the run giving up on its 2 s budget
	// is said in its output; the time bound only catches a run that waited
	// (two runs differ by seconds on a loaded machine under -race, so a
	// bound of the budget plus 3 s over the baseline was a coin toss).
	start = time.Now()
	res = e.rs(append(cfg(slow.URL, "2s"), "--skip-dotfiles")...)
	if d := time.Since(start); res.Code != 0 || d > base+2*time.Second+time.Minute {
		t.Fatalf("slow webhook: %s (baseline %s), want at most the 2s budget more\n%s", d, base, res)
	}
	if !strings.Contains(res.Stderr, "webhook") || !strings.Contains(res.Stderr, "gave up after the 2s budget") {
		t.Fatalf("the undelivered webhook is not reported:\n%s", res)
	}

	// A budget wide enough for three attempts however slow the machine
	// (the server answers at once: the run does not take longer).
	res = e.rs(append(cfg(failing.URL, "60s"), "--skip-dotfiles")...)
	if res.Code != 0 || failures.Load() != 3 || !strings.Contains(res.Stderr, "502") {
		t.Fatalf("failing webhook: %d attempts, want 3 (1 + 2 retries)\n%s", failures.Load(), res)
	}
}

// --unattended with unattended.boot: boot, not switch; the metrics file
// says so and parses back.
func TestUnattendedBootAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	prom := filepath.Join(e.h.Root, "textfile", "rebuild-smart.prom")
	cfg := e.config(map[string]any{"unattended": map[string]any{"boot": true}})
	res, rep := e.rsJSON(append(cfg, "--unattended", "--skip-dotfiles", "--metrics-file", prom)...)
	if res.Code != 0 || rep["mode"] != "boot" || !strings.Contains(rep["action_reason"].(string), "unattended.boot") {
		t.Fatalf("want boot:\n%s", res)
	}
	stc := e.called("switch-to-configuration")
	if len(stc) != 1 || stc[0].Argv[2] != "boot" {
		t.Fatalf("switch-to-configuration calls %+v", stc)
	}
	if gens := e.generations(); len(gens) != 1 || e.current() == gens[0].Toplevel {
		t.Fatalf("boot must make a generation without activating it: %+v current %q", gens, e.current())
	}
	f, err := os.Open(prom)
	must(t, err)
	defer f.Close()
	fams, err := metrics.Parse(f)
	must(t, err)
	for name, want := range map[string]float64{metrics.RebuildBootPending: 1, metrics.RebuildGeneration: 1} {
		if v, ok := metrics.Lookup(fams, name, "host", "alpha"); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v, ok := metrics.Lookup(fams, metrics.RebuildOutcome, "host", "alpha", "status", "success"); !ok || v != 1 {
		t.Errorf("outcome success = %v %v", v, ok)
	}
	if info, err := os.Stat(prom); err != nil || info.Mode().Perm() != metrics.FileMode {
		t.Errorf("metrics file mode: %v %v", info, err)
	}

	// The same config without --unattended: a person's run switches.
	res, rep = e.rsJSON(append(cfg, "--skip-dotfiles")...)
	if res.Code != 0 || rep["mode"] != "switch" {
		t.Fatalf("interactive run with unattended.boot:\n%s", res)
	}
}

// The shared lock: the timer's run and a person's refuse each other, each
// saying who holds it; a manual nixos-rebuild makes the timer step aside.
func TestUnattendedLocking(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	hold := func(cmd string) *state.Lock {
		l, err := state.Acquire(context.Background(), e.h.StateDir(), state.RebuildLock, 0,
			state.Holder{PID: 4242, Host: "alpha", Command: cmd, Since: time.Now()})
		must(t, err)
		return l
	}
	l := hold("rebuild-smart --unattended")
	res, rep := e.rsJSON("--skip-dotfiles")
	l.Release()
	if res.Code != 3 || rep["outcome"] != "locked" || !strings.Contains(res.Stderr, "the unattended (timer) rebuild is running; wait for it") || !strings.Contains(res.Stderr, "pid 4242 on alpha (rebuild-smart --unattended)") {
		t.Fatalf("a person's run while the timer's holds the lock:\n%s", res)
	}
	l = hold("rebuild-smart")
	res = e.rs("--unattended", "--skip-dotfiles")
	l.Release()
	if res.Code != 3 || !strings.Contains(res.Stderr, "so this unattended run steps aside and the next timer run tries again: another run holds") {
		t.Fatalf("the timer's run while a person's holds the lock:\n%s", res)
	}
	// A person running nixos-rebuild by hand: a real process (the fake,
	// building a system that takes a while), seen in the real /proc.
	// A store path of no other run (the test's directory in it): one built
	// to the end before would come from the real /nix/store at once, and
	// the manual rebuild could be over before the timer's run looked. It
	// takes 300 s, not 30, so a slow timer's run still finds it running.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\nsleep 300\n# "+e.root+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	manual := e.h.Command(ctx, e.repo, "nixos-rebuild", "switch", "--flake", e.repo+"#alpha")
	must(t, manual.Start())
	defer func() { cancel(); _ = manual.Wait() }()
	res = e.rs("--unattended", "--skip-dotfiles")
	if res.Code != 3 || !strings.Contains(res.Stderr, fmt.Sprintf("pid %d: ", manual.Process.Pid)) || !strings.Contains(res.Stderr, "nixos-rebuild switch --flake") || !strings.Contains(res.Stderr, "steps aside") || len(e.generations()) != 0 {
		t.Fatalf("manual rebuild running:\n%s", res)
	}
	cancel()
	_ = manual.Wait()
	// Gone: the timer's next run goes ahead.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\n")
	if res := e.rs("--unattended", "--skip-dotfiles"); res.Code != 0 || len(e.generations()) != 1 {
		t.Fatalf("no manual rebuild any more:\n%s", res)
	}
	if res := e.rs("--unattended", "--ask"); res.Code != 2 {
		t.Fatalf("--ask with --unattended: %s", res)
	}
}

// --target-host/--build-host reach nh and nixos-rebuild as each expects;
// this machine's system is never touched. (--confirm-timeout 0: the whole
// switch is theirs; the confirmed switch is tested in confirm_test.go.)
func TestRemoteTargetArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.unreachableSSH()

	e.h.Setenv("REBUILD_SMART_HOST", "") // the harness names the host; a person usually does not
	if res := e.rs("--target-host", "root@vm.test"); res.Code != 2 || !strings.Contains(res.Stderr, "needs --host") {
		t.Fatalf("a remote target without --host: %s", res)
	}
	res, rep := e.rsJSON("--host", "alpha", "--target-host", "root@vm.test", "--build-host", "builder.test", "--confirm-timeout", "0")
	if res.Code != 0 {
		t.Fatalf("remote rebuild with nh:\n%s", res)
	}
	// ssh cannot read the target here, so its system is not reported.
	target := &nixsys.System{Root: fakesys.TargetRoot(e.root, "root@vm.test")}
	if cur, err := target.CurrentSystem(); err != nil || !strings.HasSuffix(cur, "-nixos-system-alpha") || rep["toplevel"] != "" {
		t.Fatalf("the target runs %q (%v), reported %v", cur, err, rep["toplevel"])
	}
	nh := e.called("nh")
	if len(nh) != 1 || !slices.Equal(nh[0].Argv, []string{"os", "switch", e.repo, "-H", "alpha", "--bypass-root-check", "--target-host", "root@vm.test", "--build-host", "builder.test"}) {
		t.Fatalf("nh argv %+v\n%s", nh, res)
	}
	if p := phase(rep, "Dotfiles sync"); p["status"] != "skipped" || !strings.Contains(p["detail"].(string), "remote target root@vm.test") {
		t.Fatalf("dotfiles for a remote target: %v", p)
	}

	e.hideTools("nh")
	if res := e.rs("--host", "alpha", "--skip-dotfiles", "--target-host", "alice@vm.test", "--confirm-timeout", "0"); res.Code != 0 {
		t.Fatalf("remote rebuild with nixos-rebuild:\n%s", res)
	}
	nr := e.called("nixos-rebuild")
	if len(nr) != 1 || !slices.Equal(nr[0].Argv, []string{"switch", "--flake", e.repo + "#alpha", "--target-host", "alice@vm.test", "--use-remote-sudo"}) {
		t.Fatalf("nixos-rebuild argv %+v", nr)
	}
	if len(e.called("sudo")) != 0 || len(e.generations()) != 0 || len(e.history()) != 0 {
		t.Fatal("a remote target's rebuild touched this machine (sudo, generations or history)")
	}
}

// The hooks' environment tells the truth after a failure: a failed build
// made no generation, so REBUILD_SMART_GENERATION is empty (not the
// generation that kept running); REBUILD_SMART_PREVIOUS_SYSTEM is empty in
// pre hooks and the system that ran before in post and failure hooks.
func TestHookEnvAfterFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	gen1 := e.current()
	for _, k := range []string{"pre", "post", "failure"} {
		e.hook(k, "10-env", "env > "+filepath.Join(e.h.Root, k+".env"))
	}
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\nfail-build\n")
	res, rep := e.rsJSON("--skip-dotfiles")
	if res.Code != 1 || rep["generation"] != float64(0) {
		t.Fatalf("want a failed build recording no generation:\n%s", res)
	}
	pre, failure := envFile(t, filepath.Join(e.h.Root, "pre.env")), envFile(t, filepath.Join(e.h.Root, "failure.env"))
	if v, ok := pre["REBUILD_SMART_PREVIOUS_SYSTEM"]; !ok || v != "" {
		t.Errorf("pre hook REBUILD_SMART_PREVIOUS_SYSTEM=%q, documented as empty", v)
	}
	for k, want := range map[string]string{"REBUILD_SMART_OUTCOME": "failed", "REBUILD_SMART_GENERATION": "", "REBUILD_SMART_PREVIOUS_SYSTEM": gen1, "REBUILD_SMART_FAILED_PHASE": "Rebuild"} {
		if v, ok := failure[k]; !ok || v != want {
			t.Errorf("failure hook %s=%q, want %q", k, v, want)
		}
	}
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	post := envFile(t, filepath.Join(e.h.Root, "post.env"))
	for k, want := range map[string]string{"REBUILD_SMART_OUTCOME": "success", "REBUILD_SMART_GENERATION": "2", "REBUILD_SMART_PREVIOUS_SYSTEM": gen1, "REBUILD_SMART_TOPLEVEL": e.current()} {
		if v := post[k]; v != want {
			t.Errorf("post hook %s=%q, want %q", k, v, want)
		}
	}
}
