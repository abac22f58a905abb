package rebuildsmart_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
)

// --boot, --test and --build do what nixos-rebuild's modes do.
func TestModes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	gen1 := e.generations()[0]

	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	res := e.rs("--skip-dotfiles", "--build")
	if res.Code != 0 || len(e.generations()) != 1 || e.current() != gen1.Toplevel {
		t.Fatalf("--build changed the system:\n%s", res)
	}
	if n := len(e.called("switch-to-configuration")); n != 1 {
		t.Fatalf("--build activated something: %d switch-to-configuration calls", n)
	}

	res = e.rs("--skip-dotfiles", "test") // nh's and nixos-rebuild's habit: the action as a word
	if res.Code != 0 || len(e.generations()) != 1 || e.current() == gen1.Toplevel {
		t.Fatalf("--test: want activation without a generation:\n%s", res)
	}
	testSys := e.current()

	res = e.rs("--skip-dotfiles", "--boot")
	gens := e.generations()
	if res.Code != 0 || len(gens) != 2 || !gens[1].Current || e.current() != testSys {
		t.Fatalf("--boot: want a new boot generation and no activation:\n%s", res)
	}
	if boot, _ := os.Readlink(filepath.Join(e.root, "boot", "default")); boot != gens[1].Toplevel {
		t.Fatalf("boot entry %q", boot)
	}
	// The same --boot again: nothing to do.
	res = e.rs("--skip-dotfiles", "--boot")
	if res.Code != 0 || !strings.Contains(res.Stdout, "nothing to switch") {
		t.Fatalf("second --boot:\n%s", res)
	}
	h := e.history()
	var actions []string
	for _, en := range h {
		actions = append(actions, en.Action+":"+en.Outcome)
	}
	if !slices.Equal(actions, []string{"switch:success", "build:success", "test:success", "boot:success"}) {
		t.Fatalf("history actions %v", actions)
	}
	if h[3].Generation != 2 || h[1].Generation != 0 {
		t.Fatalf("history generations: %+v", h)
	}
}

// --ask with the answer piped in: rebuild-smart asks (the diff's summary in
// the question); "n" activates nothing and is recorded as declined, with no
// generation; "y" activates.
func TestAskPiped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	res := e.h.ExecInput(e.repo, []byte("n\n"), "rebuild-smart", "--skip-dotfiles", "--ask", "--json")
	var rep map[string]any
	must(t, json.Unmarshal([]byte(res.Stdout), &rep))
	if res.Code != 0 || !strings.Contains(res.Stderr, "Activate /nix/store/") || len(e.generations()) != 0 || rep["outcome"] != "declined" || rep["generation"] != float64(0) {
		t.Fatalf("--ask answered no:\n%s", res)
	}
	if h := e.history(); len(h) != 1 || h[0].Outcome != history.OutcomeDeclined || h[0].Generation != 0 || h[0].Toplevel == "" {
		t.Fatalf("history after a declined prompt: %+v", h)
	}
	res = e.h.ExecInput(e.repo, []byte("y\n"), "rebuild-smart", "--skip-dotfiles", "--ask")
	if res.Code != 0 || len(e.generations()) != 1 {
		t.Fatalf("--ask answered yes:\n%s", res)
	}
}

// SIGINT during the build: exit 130, the build's process group is killed,
// the lock is released, the attempt is recorded as failed.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	// The build takes 300 s: a run that ends within a minute of SIGINT
	// was stopped, however loaded the machine (a 20 s build against a
	// 10 s bound, and 20 s to reach the build, were too close under -race).
	// The test's own directory makes the system a store path of no other
	// run (as in internal/faults): the real /nix/store outlives the test,
	// and a system built to the end before would be taken from it at
	// once, leaving nothing to interrupt.
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\nsleep 300\n# "+e.root+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.h.Command(ctx, e.repo, "rebuild-smart", "--skip-dotfiles")
	var out testharness.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "Phase 5: Flake update") {
		if time.Now().After(deadline) {
			t.Fatalf("the build never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // nix build is running
	start := time.Now()
	must(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("exit %v (%v):\n%s", cmd.ProcessState.ExitCode(), err, out.String())
	}
	if time.Since(start) > time.Minute {
		t.Fatal("the interrupted build was not killed promptly")
	}
	if h := e.history(); len(h) != 1 || h[0].Outcome != history.OutcomeFailed {
		t.Fatalf("history %+v", h)
	}
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\n")
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatalf("lock not released:\n%s", res)
	}
}

// Uncommitted edits to a file upstream changed: no rebase (git's autostash
// would leave conflict markers), the edit and HEAD stay, a warning.
func TestUpstreamTouchesUncommittedFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.upstreamCommit("hosts/alpha.conf", "upstream\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "mine, uncommitted\n")
	head := e.git("rev-parse", "HEAD")
	res := e.rs("--skip-dotfiles", "--no-auto-commit")
	if res.Code != 0 || !strings.Contains(res.Stdout, "uncommitted edits to hosts/alpha.conf touch files changed upstream") {
		t.Fatalf("output:\n%s", res)
	}
	if e.git("rev-parse", "HEAD") != head || read(t, filepath.Join(e.repo, "hosts", "alpha.conf")) != "mine, uncommitted\n" {
		t.Fatal("local state not kept")
	}
	if e.git("stash", "list") != "" {
		t.Fatal("something was stashed")
	}
}

// A flake in a subdirectory of the repository: found, built, and its
// flake.lock committed with the right path.
func TestFlakeInSubdirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"oldlib": oldDate}})
	sub := filepath.Join(e.repo, "nixos")
	must(t, os.MkdirAll(sub, 0o755))
	for _, f := range []string{"flake.nix", "flake.lock", "hosts"} {
		e.h.Run(e.repo, "git", "mv", f, "nixos/"+f)
	}
	e.h.Run(e.repo, "git", "commit", "--quiet", "-m", "move the flake")
	e.input("oldlib", nowDate)
	res := e.h.Exec(e.h.Home, "rebuild-smart", "--skip-dotfiles", "--flake", sub, "--update")
	if res.Code != 0 {
		t.Fatal(res)
	}
	if files := e.git("show", "--name-only", "--format=", "HEAD"); files != "nixos/flake.lock" {
		t.Fatalf("committed %q", files)
	}
	if len(e.generations()) != 1 {
		t.Fatal("no build")
	}
}

// nh's habits: --hostname for -H, the action as a word, arguments after
// `--` passed to nix; a word that contradicts a flag is bad input.
func TestNHHabits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	res, rep := e.rsJSON("--skip-dotfiles", "--verbose", "boot", "--hostname", "beta", "--", "--show-trace")
	if res.Code != 0 || rep["host"] != "beta" || rep["mode"] != "boot" || !strings.HasSuffix(rep["toplevel"].(string), "-nixos-system-beta") {
		t.Fatalf("boot --hostname beta:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "nix build --no-link --json '"+e.repo+"#nixosConfigurations.beta.config.system.build.toplevel' --show-trace") {
		t.Fatalf("--show-trace not passed to nix build:\n%s", res.Stderr)
	}
	if res := e.rs("--skip-dotfiles", "build", "--boot"); res.Code != 2 || !strings.Contains(res.Stderr, "contradict") {
		t.Fatalf("build --boot: %s", res)
	}
	if res := e.rs("--skip-dotfiles", "deploy"); res.Code != 2 || !strings.Contains(res.Stderr, `unknown action "deploy"`) {
		t.Fatalf("unknown action: %s", res)
	}
}
