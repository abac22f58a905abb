package rebuildsmart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
)

// ptyRun is rebuild-smart started on a pseudo-terminal, the way a person
// runs it: the terminal is its controlling terminal, stdin, stdout and
// stderr.
type ptyRun struct {
	t    *testing.T
	f    *os.File
	out  testharness.SyncBuffer
	done chan int
	read chan struct{} // closed when the terminal has nothing more to read
}

func (e *env) onPTY(t *testing.T, args ...string) *ptyRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cmd := e.h.Command(ctx, e.repo, "rebuild-smart", args...)
	cmd.SysProcAttr = nil // pty.Start makes it a session leader with the pty as its terminal
	cmd.Cancel = nil
	f, err := pty.Start(cmd)
	must(t, err)
	p := &ptyRun{t: t, f: f, done: make(chan int, 1), read: make(chan struct{})}
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		p.done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); f.Close() })
	return p
}

// answer waits for prompt (counting from after the last answer), types
// line, and returns the output up to the prompt.
func (p *ptyRun) answer(prompt, line string) string {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(p.out.String(), prompt) {
		select {
		case code := <-p.done:
			p.t.Fatalf("exited %d before asking %q:\n%s", code, prompt, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no prompt %q (hung?):\n%s", prompt, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := p.f.Write([]byte(line + "\n"))
	must(p.t, err)
	// The next prompt is looked for in what comes after this one.
	s := p.out.String()
	p.out.Drop(strings.Index(s, prompt) + len(prompt))
	return s
}

func (p *ptyRun) wait() (int, string) {
	p.t.Helper()
	select {
	case code := <-p.done:
		// The last output: the pty reads EIO once the process has exited
		// and everything it wrote is read.
		select {
		case <-p.read:
		case <-time.After(10 * time.Second):
		}
		return code, p.out.String()
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("did not finish:\n%s", p.out.String())
	}
	return 0, ""
}

// --ask on a terminal, activating the way nixos-rebuild does (no nh), not
// as root: rebuild-smart asks with the diff, then sudo asks for the
// password on the terminal (it must be the terminal's foreground process
// group to read it) twice (the profile, switch-to-configuration).
// Answered yes: switched. Answered no: declined, recorded without a
// generation, nothing activated.
func TestAskOnTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.hideTools("nh")
	e.h.Setenv("NIXDOTS_SUDO", "always")
	e.h.Setenv("FAKE_SUDO_PASSWORD", "hunter2")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\npkg hello 1.0\n")
	remoteMain := func() string { return e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main") }
	published, head := remoteMain(), e.git("rev-parse", "HEAD")

	p := e.onPTY(t, "--skip-dotfiles", "--ask")
	p.answer("[y/N] ", "n")
	code, out := p.wait()
	if code != 0 || !strings.Contains(out, "not activated (answered no)") || len(e.generations()) != 0 || e.current() != "" {
		t.Fatalf("answered no: exit %d\n%s", code, out)
	}
	if h := e.history(); len(h) != 1 || h[0].Outcome != history.OutcomeDeclined || h[0].Generation != 0 {
		t.Fatalf("history after no: %+v", h)
	}
	// A build that was never activated is not one to record in the
	// repository: the edit stays uncommitted, nothing is published.
	if e.git("rev-parse", "HEAD") != head || remoteMain() != published || !strings.Contains(e.git("status", "--porcelain"), "hosts/alpha.conf") {
		t.Fatalf("a declined build was committed or pushed:\n%s", out)
	}

	p = e.onPTY(t, "--skip-dotfiles", "--ask")
	p.answer("[y/N] ", "y")
	p.answer("[sudo] password for root: ", "hunter2")
	p.answer("[sudo] password for root: ", "hunter2")
	code, out = p.wait()
	if code != 0 || !strings.Contains(out, "switched to generation 1") || len(e.generations()) != 1 {
		t.Fatalf("answered yes: exit %d\n%s", code, out)
	}
	if h := e.history(); len(h) != 2 || h[1].Outcome != history.OutcomeSuccess || h[1].Generation != 1 {
		t.Fatalf("history after yes: %+v", h)
	}
}

// The diff before activating is in the prompt: a package added shows up
// in the question and in the lines above it.
func TestAskShowsTheDiff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.built("v1\npkg hello 1.0\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v1\npkg hello 2.0\npkg world 1.0\n")
	p := e.onPTY(t, "--skip-dotfiles", "--ask")
	out := p.answer("[y/N] ", "n")
	p.wait()
	for _, want := range []string{"1 added, 0 removed, 1 upgraded, 0 downgraded", "hello: 1.0 -> 2.0 (upgraded", "world: none -> 1.0 (added"} {
		if !strings.Contains(out, want) {
			t.Errorf("prompt output lacks %q:\n%s", want, out)
		}
	}
}

// --ask with nh (a remote target, which nh activates): nh asks on the
// terminal itself, so it must own it while it runs. Yes: the target is
// switched. No: nh reports "User rejected the new config" and exits 1; the
// run records it as declined (exit 0), not as a switch or a failure.
func TestAskWithNHOnTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.unreachableSSH()
	args := []string{"--skip-dotfiles", "--ask", "--host", "alpha", "--target-host", "root@vm.test", "--confirm-timeout", "0", "--json"}

	p := e.onPTY(t, args...)
	p.answer("Apply the config? (y/N) ", "n")
	code, out := p.wait()
	if code != 0 || !strings.Contains(out, `"outcome": "declined"`) || !strings.Contains(out, "User rejected the new config") {
		t.Fatalf("nh answered no: exit %d\n%s", code, out)
	}
	target := filepath.Join(e.root, "targets", "vm.test", "run", "current-system")
	if _, err := os.Lstat(target); err == nil {
		t.Fatal("the target was activated after no")
	}

	p = e.onPTY(t, args...)
	p.answer("Apply the config? (y/N) ", "y")
	code, out = p.wait()
	if code != 0 || !strings.Contains(out, `"outcome": "success"`) {
		t.Fatalf("nh answered yes: exit %d\n%s", code, out)
	}
	if _, err := os.Lstat(target); err != nil {
		t.Fatalf("the target was not activated: %v", err)
	}
}
