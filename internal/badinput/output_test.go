package badinput

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// runTo runs bin with stdout going to out and returns the exit code and
// stderr.
func runTo(t *testing.T, h *testharness.Host, out *os.File, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, "", bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	}
	must(t, err)
	return 0, stderr.String()
}

// closedPipe is the write end of a pipe whose reader has gone, as after
// `| head -1` read its line.
func closedPipe(t *testing.T) *os.File {
	r, w, err := os.Pipe()
	must(t, err)
	must(t, r.Close())
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// Output that cannot be written is never exit 0: a full disk is exit 1 with
// one line on stderr; a reader that closed the pipe early is 141, the
// shell's code for a filter ended by SIGPIPE, and a sync still goes to its
// end (it is not killed halfway through).
func TestUnwritableOutput(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	h := testharness.NewHost(t, "alpha").WithBinaries()
	h.CloneDotfiles(remote)

	for _, args := range [][]string{{"chezmoi-status", "--help"}, {"chezmoi-status"}, {"chezmoi-status", "--json"}, {"rebuild-smart", "--version"}} {
		code, stderr := runTo(t, h, full, args[0], args[1:]...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, "no space left on device") {
			t.Errorf("%v > /dev/full: exit %d, want 1 and one line:\n%s", args, code, stderr)
		}
	}
	for _, args := range [][]string{{"chezmoi-status", "--help"}, {"chezmoi-show-conflicts", "--help"}, {"chezmoi-status", "--json"}} {
		if code, stderr := runTo(t, h, closedPipe(t), args[0], args[1:]...); code != 141 || stderr != "" {
			t.Errorf("%v | head: exit %d, want 141 and nothing on stderr:\n%s", args, code, stderr)
		}
	}

	// A real sync whose reader went away finishes and records its outcome.
	h.WriteHome(".bashrc", h.ReadHome(".bashrc")+"export CLOSED_PIPE=1\n")
	code, stderr := runTo(t, h, closedPipe(t), "chezmoi-sync")
	if code != 141 {
		t.Fatalf("chezmoi-sync | head: exit %d, want 141:\n%s", code, stderr)
	}
	rec, err := syncstate.Load(h.StateDir())
	if err != nil || rec.Status != syncstate.Success {
		t.Fatalf("the sync did not go to its end: %+v %v\n%s", rec, err, stderr)
	}
	if got := testharness.RemoteFile(t, remote, "main", "dot_bashrc"); !strings.Contains(got, "CLOSED_PIPE") {
		t.Fatalf("the edit was not pushed:\n%s", got)
	}
}
