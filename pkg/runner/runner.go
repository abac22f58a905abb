// Package runner is the one place the suite starts external programs (git,
// jj, chezmoi, nix, nh, systemctl, ...). It gives every call a context and a
// timeout, stops the child's whole process group on cancel (SIGTERM, then
// SIGKILL after a grace period), logs argv in
// verbose mode, captures output and returns a typed error with the exit code
// and the tail of stderr. It never goes through a shell.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd describes one external command.
type Cmd struct {
	Name    string        // program, looked up in PATH of Env
	Args    []string      // arguments, passed as-is (no shell)
	Dir     string        // working directory; "" means the caller's
	Env     []string      // extra KEY=VALUE pairs layered over the runner's base environment
	Stdin   io.Reader     // nil means an empty stdin (never the terminal)
	Timeout time.Duration // 0 means the runner's default
	// Mutates marks a command that changes something (a commit, a push, a
	// switch). Dry-run prints these instead of running them; read-only
	// queries still run so the plan is real.
	Mutates bool
	// Stream, when set, receives stdout and stderr as they arrive (for long
	// builds whose progress a person watches) in addition to the capture.
	Stream io.Writer
	// Interactive marks a child that may read the terminal (sudo asking a
	// password, nh --ask). When Stdin is the terminal and this process owns
	// it (runs in its foreground process group), the child's process group
	// is made the terminal's foreground group while it runs: a child in a
	// background group is stopped by SIGTTIN the moment it reads. The
	// terminal is handed back when it ends; cancelling still kills the
	// child's whole group.
	Interactive bool
}

// String renders argv in a copy-pasteable form for logs and dry-run plans.
func (c Cmd) String() string {
	parts := make([]string, 0, len(c.Args)+1)
	parts = append(parts, quote(c.Name))
	for _, a := range c.Args {
		parts = append(parts, quote(a))
	}
	s := strings.Join(parts, " ")
	if c.Dir != "" {
		s = "(cd " + quote(c.Dir) + " && " + s + ")"
	}
	return s
}

func quote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@,+%^", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Result is what a finished command produced.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
}

// Out returns stdout with surrounding whitespace trimmed.
func (r Result) Out() string { return strings.TrimSpace(string(r.Stdout)) }

// Runner runs commands. Exec is the real one; DryRun and Recorder wrap it.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// ExitError reports a command that ran and exited non-zero, or could not
// start, or was killed by its timeout.
type ExitError struct {
	Argv     string
	Code     int    // -1 when the program could not be started or was killed
	Stderr   string // last lines of stderr, for the one-line message
	TimedOut bool
	Err      error
}

func (e *ExitError) Error() string {
	switch {
	case e.TimedOut:
		return fmt.Sprintf("%s: timed out", e.Argv)
	case e.Code < 0:
		return fmt.Sprintf("%s: %v", e.Argv, e.Err)
	case e.Stderr != "":
		return fmt.Sprintf("%s: exit %d: %s", e.Argv, e.Code, e.Stderr)
	default:
		return fmt.Sprintf("%s: exit %d", e.Argv, e.Code)
	}
}

func (e *ExitError) Unwrap() error { return e.Err }

// IsNotFound reports whether err means the program is not installed.
func IsNotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound)
}

// Exec runs commands for real.
type Exec struct {
	// Env is the complete base environment of every child (explicit, never
	// read implicitly from the process). Cmd.Env entries override it.
	Env []string
	// Timeout applies to commands whose Cmd.Timeout is 0; 0 means none.
	Timeout time.Duration
	// Log, when non-nil, receives "+ argv" before each command (--verbose).
	Log io.Writer
	// Trace, when non-nil, receives one JSON line per finished command
	// (TraceSpan: argv, directory, extra environment, start and end): what
	// the benchmarks replay as their baseline, with the same overlap
	// (internal/replay). Set from NIXDOTS_TRACE_FILE (pkg/cli).
	Trace io.Writer
	mu    sync.Mutex
	// tty serialises interactive children: one owns the terminal at a time.
	tty sync.Mutex
}

// Run implements Runner.
func (x *Exec) Run(ctx context.Context, c Cmd) (Result, error) {
	if x.Log != nil {
		x.mu.Lock()
		fmt.Fprintf(x.Log, "+ %s\n", c)
		x.mu.Unlock()
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = x.Timeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	env := MergeEnv(x.Env, c.Env)
	path, err := LookPath(c.Name, env)
	if err != nil {
		return Result{ExitCode: -1}, &ExitError{Argv: c.String(), Code: -1, Err: err}
	}
	cmd := exec.CommandContext(ctx, path, c.Args...)
	cmd.Args[0] = c.Name
	cmd.Dir = c.Dir
	cmd.Env = env
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	if c.Stream != nil {
		cmd.Stdout = io.MultiWriter(&stdout, c.Stream)
		cmd.Stderr = io.MultiWriter(&stderr, c.Stream)
	} else {
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
	}
	// A new process group, so that cancel reaches the child's own children
	// (git spawned by jj, nix builders spawned by nh) and none outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return stopGroup(cmd.Process.Pid) }
	cmd.WaitDelay = killGrace + time.Second
	tty := c.foregroundTTY()
	if tty != nil {
		x.tty.Lock()
		defer x.tty.Unlock()
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = int(tty.Fd())
		defer reclaimTerminal(tty)
	}
	start := time.Now()
	err = cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start)}
	if x.Trace != nil {
		x.trace(c, start)
	}
	if err == nil {
		return res, nil
	}
	ee := &ExitError{Argv: c.String(), Code: -1, Stderr: Tail(stderr.String(), 3), Err: err}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		ee.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		ee.Err = ctx.Err()
	case tty != nil && errors.As(err, &exitErr) && killedBy(exitErr, syscall.SIGINT):
		// Ctrl-C went to the child's group only (it owned the terminal):
		// pass it on to this process, as a shell does, so the whole run
		// stops the way an interrupt always stops it.
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		ee.Err = fmt.Errorf("%w (Ctrl-C)", context.Canceled)
	case errors.As(err, &exitErr):
		ee.Code = exitErr.ExitCode()
	}
	res.ExitCode = ee.Code
	return res, ee
}

// TraceEnv names the environment variable that makes a suite binary write
// Exec.Trace to a file (pkg/cli appends to it).
const TraceEnv = "NIXDOTS_TRACE_FILE"

// TraceSpan is one line of Exec.Trace.
type TraceSpan struct {
	Name  string   `json:"name"`
	Args  []string `json:"args"`
	Dir   string   `json:"dir,omitempty"`
	Env   []string `json:"env,omitempty"` // Cmd.Env: the overrides of the base environment
	Stdin bool     `json:"stdin,omitempty"`
	Start int64    `json:"start"` // Unix nanoseconds
	End   int64    `json:"end"`
}

func (x *Exec) trace(c Cmd, start time.Time) {
	line, err := json.Marshal(TraceSpan{Name: c.Name, Args: c.Args, Dir: c.Dir, Env: c.Env, Stdin: c.Stdin != nil,
		Start: start.UnixNano(), End: time.Now().UnixNano()})
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	_, _ = x.Trace.Write(append(line, '\n'))
}

// killGrace is how long a cancelled child's process group has to stop on
// SIGTERM before it is killed.
const killGrace = 2 * time.Second

// stopGroup stops the process group pgid: SIGTERM first, so a child that
// runs children of its own in groups of their own (the suite's chezmoi-sync
// under rebuild-smart, whose jj has its own group) stops them in turn;
// SIGKILL for whatever of the group is left after killGrace. A SIGKILL
// first would end that child before it could, and leave its children
// running behind a released lock.
func stopGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGTERM)
	time.AfterFunc(killGrace, func() {
		// Only while the group still has members: an empty group's id
		// is free for the system to give out again.
		if syscall.Kill(-pgid, 0) == nil {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})
	return err
}

func killedBy(e *exec.ExitError, sig syscall.Signal) bool {
	ws, ok := e.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// Tail returns the last n non-empty lines of s joined by " | ", so a
// multi-line stderr still fits a one-line error message.
func Tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// MergeEnv returns base with the KEY=VALUE pairs of over replacing or adding.
func MergeEnv(base, over []string) []string {
	if len(over) == 0 {
		return base
	}
	idx := make(map[string]int, len(base))
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Getenv looks key up in an explicit environment list.
func Getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// LookPath finds name in the PATH of env (not of this process), so a test or
// a systemd unit that sets PATH explicitly gets exactly the tools it named.
func LookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	for _, dir := range strings.Split(Getenv(env, "PATH"), ":") {
		if dir == "" {
			continue
		}
		p := dir + "/" + name
		if lp, err := exec.LookPath(p); err == nil {
			return lp, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}
