package runner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// helperEnv makes the test binary act as a program started on a terminal
// (the pty is its controlling terminal and stdin) that runs one interactive
// child through Exec, the way rebuild-smart runs sudo or nh --ask.
const helperEnv = "RUNNER_TTY_HELPER"

func TestHelperInteractiveParent(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	x := &Exec{Env: os.Environ()}
	ctx := context.Background()
	var cancel context.CancelFunc
	script := `printf 'answer? '; read a; echo "child got: $a"`
	if mode == "cancel" {
		ctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		script = `printf 'answer? '; sleep 30 & wait`
	}
	res, err := x.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", script}, Stdin: os.Stdin, Stream: os.Stdout, Interactive: mode != "plain"})
	fmt.Printf("\nchild done: %v %q\n", err, res.Out())
	// The terminal is ours again: reading it must not stop this process.
	fmt.Print("parent reads: ")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Printf("parent got: %s\n", strings.TrimSpace(line))
	os.Exit(0)
}

// startOnPTY runs the helper with a fresh pty as its controlling terminal.
func startOnPTY(t *testing.T, mode string) (*exec.Cmd, *os.File, *lines) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInteractiveParent$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	f, err := pty.Start(cmd)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = f.Close() })
	l := &lines{ch: make(chan string, 100)}
	go func() {
		buf := make([]byte, 4096)
		var acc strings.Builder
		for {
			n, err := f.Read(buf)
			acc.Write(buf[:n])
			l.ch <- acc.String()
			if err != nil {
				close(l.ch)
				return
			}
		}
	}()
	return cmd, f, l
}

// lines is the helper's output as it arrives: each value on ch is all the
// output so far; last is the newest one a waitFor has seen.
type lines struct {
	ch   chan string
	last string
}

// waitFor returns the output so far once it contains want. The output a
// previous waitFor consumed counts too: two expected strings often arrive
// in one read.
func (l *lines) waitFor(t *testing.T, want string) string {
	t.Helper()
	if strings.Contains(l.last, want) {
		return l.last
	}
	// The helper is this test binary started again (with -race on a
	// loaded machine it can take many seconds); a minute is a hang.
	deadline := time.After(time.Minute)
	for {
		select {
		case s, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended without %q:\n%s", want, l.last)
			}
			l.last = s
			if strings.Contains(s, want) {
				return s
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %q; output so far:\n%s", want, l.last)
		}
	}
}

// An interactive child on a terminal reads its answer (it is the
// terminal's foreground group), and the terminal comes back to the parent.
func TestInteractiveChildReadsTheTerminal(t *testing.T) {
	_, f, out := startOnPTY(t, "interactive")
	out.waitFor(t, "answer? ")
	_, err := f.Write([]byte("yes\n"))
	require.NoError(t, err)
	out.waitFor(t, `child got: yes`)
	out.waitFor(t, "parent reads: ")
	_, err = f.Write([]byte("back\n"))
	require.NoError(t, err)
	out.waitFor(t, "parent got: back")
}

// The same child run the plain way (its own background group) is stopped
// by SIGTTIN the moment it reads: the defect the Interactive flag fixes.
func TestNonInteractiveChildCannotReadTheTerminal(t *testing.T) {
	cmd, f, out := startOnPTY(t, "plain")
	out.waitFor(t, "answer? ")
	_, _ = f.Write([]byte("yes\n"))
	time.Sleep(time.Second)
	select {
	case s := <-out.ch:
		require.NotContains(t, s, "child got: yes", "a background child read the terminal")
	default:
	}
	_ = cmd.Process.Kill()
}

// Cancelling kills the interactive child's group and hands the terminal
// back, so the parent can still read it.
func TestInteractiveChildKilledOnCancel(t *testing.T) {
	_, f, out := startOnPTY(t, "cancel")
	s := out.waitFor(t, "parent reads: ")
	require.Contains(t, s, "timed out")
	_, err := f.Write([]byte("after\n"))
	require.NoError(t, err)
	out.waitFor(t, "parent got: after")
}
