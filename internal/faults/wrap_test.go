package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
)

// wrapperScript stops a chosen call of a tool. FAULT_TOOL names the tool,
// FAULT_MATCH a substring of its arguments (" $* "), FAULT_WHEN when to
// stop: before running it, after it finished, or inside it ("hold": the
// real tool runs under strace, which holds its first system call of
// FAULT_SYSCALLS on the absolute path FAULT_PATH; the test sees the held
// call in $FAULT_DIR/strace). On reaching a point before or after the tool
// it writes its pid to $FAULT_DIR/reached and waits for
// $FAULT_DIR/continue. Only the first matching call fires. Every point is
// reached the same way on every run: no sleep decides where a kill lands.
const wrapperScript = `#!/bin/sh
# fault-injection wrapper (internal/faults): see wrap_test.go
real=%q
if [ -n "$FAULT_DIR" ] && [ "$FAULT_TOOL" = %q ]; then
  case " $* " in
  *"$FAULT_MATCH"*)
    if mkdir "$FAULT_DIR/fired" 2>/dev/null; then
      hold() { echo $$ > "$FAULT_DIR/reached.tmp"; mv "$FAULT_DIR/reached.tmp" "$FAULT_DIR/reached"; while [ ! -e "$FAULT_DIR/continue" ]; do sleep 0.02; done; }
      case "$FAULT_WHEN" in
      before) hold; exec "$real" "$@" ;;
      after) "$real" "$@"; rc=$?; hold; exit $rc ;;
      hold) echo $$ > "$FAULT_DIR/pid"
        exec "$FAULT_STRACE" -f -qq -o "$FAULT_DIR/strace" -e trace="$FAULT_SYSCALLS" \
          -e inject="$FAULT_SYSCALLS":delay_enter=300000000 -P "$FAULT_PATH" "$real" "$@" ;;
      fail) echo "Error: Could not find repository at '/injected/fault'" >&2; exit 1 ;;
      esac
    fi ;;
  esac
fi
exec "$real" "$@"
`

// installWrappers puts wrappers for tools first on h's PATH.
func installWrappers(t testing.TB, h *testharness.Host, tools ...string) {
	t.Helper()
	dir := filepath.Join(h.Root, "fault-wrappers")
	must(t, os.MkdirAll(dir, 0o755))
	for _, tool := range tools {
		real, err := testharness.Look(tool)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, tool), []byte(fmt.Sprintf(wrapperScript, real, tool)), 0o755))
	}
	h.Setenv("PATH", dir+":"+h.Getenv("PATH"))
}

// fault is one point at which to stop a run: the call of Tool whose
// arguments hold Match, before or after it runs, or (When "hold") inside
// it, at its first system call of Syscalls (strace's -e trace list) on
// Path (absolute: strace matches the path as the tool passes it).
type fault struct {
	Tool, Match, When string
	Syscalls, Path    string
}

// armed is a run started with a fault set.
type armed struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	dir  string // FAULT_DIR
	done chan error
	held string // a "hold" fault's path: reached when strace shows the held call
}

// startFaulty starts name (args) on h with the fault armed.
func startFaulty(t testing.TB, h *testharness.Host, f fault, name string, args ...string) *armed {
	t.Helper()
	a := &armed{dir: t.TempDir(), out: &bytes.Buffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	a.cmd = h.Command(ctx, "", name, args...)
	a.cmd.Env = append(append([]string(nil), h.Env...),
		"FAULT_DIR="+a.dir, "FAULT_TOOL="+f.Tool, "FAULT_MATCH="+f.Match, "FAULT_WHEN="+f.When,
		"FAULT_SYSCALLS="+f.Syscalls, "FAULT_PATH="+f.Path)
	if f.When == "hold" {
		testharness.Require(t, "strace")
		strace, err := testharness.Look("strace")
		must(t, err)
		a.cmd.Env = append(a.cmd.Env, "FAULT_STRACE="+strace)
		a.held = f.Path
	}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	must(t, a.cmd.Start())
	go func() { a.done <- a.cmd.Wait() }()
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(a.dir, "continue"), nil, 0o644)
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	})
	return a
}

// waitReached waits until the wrapper holds at the fault point and returns
// its pid; it fails the test when the run ends without reaching it (the
// point does not exist on this path: the test would prove nothing).
func (a *armed) waitReached(t testing.TB) int {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		if a.held != "" {
			// strace writes a held call's entry at once ("openat(...,"),
			// its result only when the call returns.
			if tr, err := os.ReadFile(filepath.Join(a.dir, "strace")); err == nil && bytes.Contains(tr, []byte(strconv.Quote(a.held))) {
				data, err := os.ReadFile(filepath.Join(a.dir, "pid"))
				must(t, err)
				pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
				must(t, err)
				return pid
			}
		} else if data, err := os.ReadFile(filepath.Join(a.dir, "reached")); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			must(t, err)
			return pid
		}
		select {
		case err := <-a.done:
			a.done <- err
			t.Fatalf("the run ended (%v) without reaching the fault point:\n%s", err, a.out)
		case <-deadline:
			t.Fatalf("fault point not reached in 2 minutes:\n%s", a.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// kill9 kills the run with SIGKILL, and with it the process group of the
// wrapper holding at the fault point (the tool it runs, and that tool's
// children): as if the whole service died at once.
func (a *armed) kill9(t testing.TB, wrapperPid int) {
	t.Helper()
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	if pgid, err := syscall.Getpgid(wrapperPid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	_ = syscall.Kill(wrapperPid, syscall.SIGKILL)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the killed run did not exit")
	}
}

// proceed lets the wrapper go on and waits for the run's exit code.
func (a *armed) proceed(t testing.TB) int {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(a.dir, "continue"), nil, 0o644))
	select {
	case <-a.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the run did not finish:\n%s", a.out)
	}
	return a.cmd.ProcessState.ExitCode()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
