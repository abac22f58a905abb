package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

// testCmd is a small command exercising the frame: config-backed options,
// a configurable outcome and an optional lock held until cancelled.
type testCmd struct {
	Globals
	DryRunFlag
	AutoPush bool   `name:"auto-push" group:"sync" negatable:"" default:"true" env:"TEST_AUTO_PUSH" config:"autoPush"`
	Remote   string `name:"remote" group:"repo" default:"origin" env:"TEST_REMOTE" config:"remote"`
	Fail     string `name:"fail" group:"sync" help:"Error kind to return."`
	Hold     bool   `name:"hold" group:"sync" help:"Take the sync lock and wait for a signal."`
	Touch    string `name:"touch" group:"sync"`
	ran      bool
	app      *App
}

func (c *testCmd) Run(ctx context.Context, app *App) error {
	c.ran, c.app = true, app
	if c.Touch != "" {
		if _, err := app.Runner.Run(ctx, runner.Cmd{Name: "touch", Args: []string{c.Touch}, Mutates: true}); err != nil {
			return err
		}
	}
	if c.Hold {
		l, err := app.Lock(ctx, state.SyncLock)
		if err != nil {
			return err
		}
		defer l.Release()
		fmt.Fprintln(app.IO.Out, "locked")
		<-ctx.Done()
		return ctx.Err()
	}
	switch c.Fail {
	case "plain":
		return errors.New("boom\nsecond line")
	case "offline":
		return exitcode.Wrap(exitcode.Offline, errors.New("remote unreachable"))
	case "locked":
		return &state.LockedError{Path: "/x/sync.lock", Holder: state.Holder{PID: 9, Host: "h", Command: "c"}}
	}
	return nil
}

var testSpec = Spec{
	Name: "tool", Description: "A test tool. It does things for the tests.", Section: "chezmoiSync",
	Examples:  []Example{{Command: "tool --fail plain", Explain: "Fail on purpose."}},
	ExitCodes: exitcode.Uses(exitcode.OK, exitcode.Failure, exitcode.Usage, exitcode.Locked, exitcode.Offline, exitcode.Interrupted),
}

func run(t *testing.T, environ []string, args ...string) (int, string, string, *testCmd) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := &testCmd{}
	code := Main(testSpec, cmd, args, Env{Stdout: &out, Stderr: &errb, Environ: environ})
	return code, out.String(), errb.String(), cmd
}

func TestHelpVersionAndUsageErrors(t *testing.T) {
	code, out, _, _ := run(t, nil, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage: tool")
	require.Contains(t, out, "Exit codes:")
	require.Contains(t, out, "--dry-run")

	code, out, _, _ = run(t, nil, "--version")
	require.Equal(t, 0, code)
	require.Equal(t, "tool "+VersionString()+"\n", out)
	require.NotContains(t, out, "dev\n")

	code, _, errOut, cmd := run(t, nil, "--no-such-flag")
	require.Equal(t, exitcode.Usage, code, "kong's default exit 80 must not leak")
	require.Equal(t, "tool: unknown flag --no-such-flag (see --help)\n", errOut)
	require.False(t, cmd.ran)

	code, _, errOut, _ = run(t, nil, "--wait", "soon")
	require.Equal(t, exitcode.Usage, code)
	require.Equal(t, 1, strings.Count(errOut, "\n"))
}

func TestExitCodeMapping(t *testing.T) {
	cases := map[string]int{"": exitcode.OK, "plain": exitcode.Failure, "offline": exitcode.Offline, "locked": exitcode.Locked}
	for fail, want := range cases {
		code, _, errOut, _ := run(t, nil, "--fail", fail)
		require.Equal(t, want, code, fail)
		if want != 0 {
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one-line error: %q", errOut)
			require.True(t, strings.HasPrefix(errOut, "tool: "))
		}
	}
}

func TestMapExitForGrepLikeTools(t *testing.T) {
	spec := testSpec
	spec.MapExit = func(c int) int {
		if c == exitcode.OK {
			return 0
		}
		return 2
	}
	var out, errb bytes.Buffer
	require.Equal(t, 2, Main(spec, &testCmd{}, []string{"--bogus"}, Env{Stdout: &out, Stderr: &errb}))
	require.Equal(t, 0, Main(spec, &testCmd{}, []string{"--help"}, Env{Stdout: &out, Stderr: &errb}))
}

// flag > env > config > default.
func TestOptionPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"chezmoiSync": {"autoPush": false, "remote": "fromconfig"}}`), 0o600))
	base := []string{"NIXDOTS_CONFIG=" + cfg}

	_, _, _, c := run(t, nil)
	require.True(t, c.AutoPush)
	require.Equal(t, "origin", c.Remote, "default")

	_, _, _, c = run(t, base)
	require.False(t, c.AutoPush)
	require.Equal(t, "fromconfig", c.Remote, "config over default")

	t.Setenv("TEST_REMOTE", "fromenv") // kong reads the process env for env tags
	_, _, _, c = run(t, append(base, "TEST_REMOTE=fromenv"))
	require.Equal(t, "fromenv", c.Remote, "env over config")

	_, _, _, c = run(t, append(base, "TEST_REMOTE=fromenv"), "--remote", "fromflag", "--auto-push")
	require.Equal(t, "fromflag", c.Remote, "flag over env")
	require.True(t, c.AutoPush, "flag over config")
}

func TestBadConfigIsUsageError(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"garbled": `{"chezmoiSync": {`,
		"unknown": `{"chezmoiSync": {"autoPsh": true}}`,
		"section": `{"other": {}}`,
	} {
		p := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		code, _, errOut, cmd := run(t, nil, "--config", p)
		require.Equal(t, exitcode.Usage, code, name)
		require.Contains(t, errOut, p, name)
		require.Equal(t, 1, strings.Count(errOut, "\n"), name)
		require.False(t, cmd.ran, name)
	}
	code, _, errOut, _ := run(t, nil, "--config", filepath.Join(dir, "missing.json"))
	require.Equal(t, exitcode.Usage, code)
	require.Contains(t, errOut, "does not exist")
}

func TestDryRunWrapsRunner(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "m")
	code, out, _, c := run(t, os.Environ(), "--dry-run", "--touch", marker)
	require.Equal(t, 0, code)
	require.True(t, c.app.DryRun)
	require.Contains(t, out, "would run: touch "+marker)
	_, err := os.Stat(marker)
	require.True(t, os.IsNotExist(err))

	code, _, _, _ = run(t, os.Environ(), "--touch", marker)
	require.Equal(t, 0, code)
	_, err = os.Stat(marker)
	require.NoError(t, err)
}

func TestStateDirFromEnvironment(t *testing.T) {
	_, _, _, c := run(t, []string{"STATE_DIRECTORY=/var/lib/nixdots"})
	require.Equal(t, "/var/lib/nixdots", c.app.StateDir)
	_, _, _, c = run(t, []string{"STATE_DIRECTORY=/var/lib/nixdots"}, "--state-dir", "/tmp/s")
	require.Equal(t, "/tmp/s", c.app.StateDir)
}

// A second process fails fast naming the holder; SIGTERM makes the holder
// release the lock and exit 130; a waiting process then proceeds.
func TestSIGTERMReleasesLock(t *testing.T) {
	if os.Getenv("NIXDOTS_HOLD_CHILD") != "" {
		t.Skip("child mode")
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestHoldChild$")
	child.Env = append(os.Environ(), "NIXDOTS_HOLD_CHILD="+dir)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	// The child's stderr goes to a file: reading a bytes.Buffer while exec
	// copies into it would be a data race.
	childErr, err := os.Create(filepath.Join(t.TempDir(), "child.stderr"))
	require.NoError(t, err)
	defer childErr.Close()
	child.Stderr = childErr
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = child.Process.Kill()
		_ = child.Wait()
		stderr, _ := os.ReadFile(childErr.Name())
		t.Fatalf("child: %v: %s", err, stderr)
	}
	require.Equal(t, "locked\n", line)

	code, _, errOut, _ := run(t, nil, "--state-dir", dir, "--hold")
	require.Equal(t, exitcode.Locked, code)
	require.Contains(t, errOut, fmt.Sprintf("pid %d", child.Process.Pid))
	require.Contains(t, errOut, "(tool)")

	got := make(chan error, 1)
	go func() {
		// Free once the child has handled SIGTERM; the minute is for a
		// loaded machine, not a measure.
		l, err := state.Acquire(context.Background(), dir, state.SyncLock, time.Minute, state.Holder{PID: os.Getpid()})
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	err = child.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitcode.Interrupted, ee.ExitCode())
	require.NoError(t, <-got)
	_, err = os.Stat(filepath.Join(dir, state.SyncLock))
	require.NoError(t, err, "lock file kept")
}

// TestHoldChild runs the test tool holding the lock until signalled, then
// exits with Main's code.
func TestHoldChild(t *testing.T) {
	dir := os.Getenv("NIXDOTS_HOLD_CHILD")
	if dir == "" {
		t.Skip("only runs as the child of TestSIGTERMReleasesLock")
	}
	os.Exit(Main(testSpec, &testCmd{}, []string{"--state-dir", dir, "--hold"}, OS()))
}

// Children see NIXDOTS_RUNNING so hooks can tell they run inside the suite.
func TestChildrenSeeRunningMarker(t *testing.T) {
	_, _, _, c := run(t, []string{"PATH=" + os.Getenv("PATH")})
	res, err := c.app.Runner.Run(context.Background(), runner.Cmd{Name: "sh", Args: []string{"-c", `printf %s "$NIXDOTS_RUNNING"`}})
	require.NoError(t, err)
	require.Equal(t, "tool", res.Out())
}

// A config value of the wrong type is reported with the file and key.
func TestConfigValueOfWrongTypeNamesFileAndKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"chezmoiSync": {"autoPush": "yes"}}`), 0o600))
	code, _, errOut, cmd := run(t, nil, "--config", p)
	require.Equal(t, exitcode.Usage, code)
	require.Contains(t, errOut, p+": chezmoiSync.autoPush must be true or false, not \"yes\"")
	require.False(t, cmd.ran)
}

// --help: the description, the flags in named groups with the common ones
// last, the examples, and only the exit codes the binary declares.
func TestHelpGroupsExamplesAndOwnExitCodes(t *testing.T) {
	code, out, _, _ := run(t, nil, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "A test tool. It does things for the tests.")
	sync := strings.Index(out, "Sync behaviour:\n")
	common := strings.Index(out, "Common flags:\n")
	examples := strings.Index(out, "Examples:\n  tool --fail plain\n      Fail on purpose.\n")
	codes := strings.Index(out, "Exit codes:\n")
	require.True(t, 0 < sync && sync < common && common < examples && examples < codes, "order: own groups, common flags, examples, exit codes:\n%s", out)
	require.NotContains(t, out, "\nFlags:\n", "every flag, -h included, is in a named group")
	require.Contains(t, out[common:examples], "-h, --help")
	require.Contains(t, out[common:examples], "--dry-run")
	require.Contains(t, out, "    4  the remote was unreachable")
	require.NotContains(t, out, "    5  ", "undeclared codes are not listed")
	require.NotContains(t, out, "rebuild-smart:")
}

func TestVersionOf(t *testing.T) {
	info := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/nixdots/nixdots", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	cases := []struct {
		name, linked string
		info         *debug.BuildInfo
		want         string
	}{
		{"linked by the packager", "0123abc", info("(devel)"), "0123abc"},
		{"the placeholder dev is not a version", "dev", info("v1.2.3"), "v1.2.3"},
		{"go install module@version", "", info("v1.2.3"), "v1.2.3"},
		{"pseudo-version from VCS", "", info("v0.0.0-20260101120000-0123456789ab+dirty"), "v0.0.0-20260101120000-0123456789ab+dirty"},
		{"VCS revision only", "", info("(devel)", "vcs", "git", "vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-01-01T12:00:00Z", "vcs.modified", "true"),
			"(devel) git 0123456789ab (2026-01-01T12:00:00Z, modified)"},
		{"nothing known", "", info("(devel)"), "(devel, built without version control information)"},
		{"no build information", "", nil, "(devel, no build information)"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, versionOf(tc.linked, tc.info), tc.name)
	}
}

// With --json, stdout is one JSON document even when the run fails before
// its report: an error object with the same message and exit code.
func TestJSONErrorObject(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		code int
		msg  string
	}{
		"unknown flag":      {[]string{"--json", "--bogus"}, exitcode.Usage, "unknown flag --bogus (see --help)"},
		"json=true":         {[]string{"--json=true", "--wait", "soon"}, exitcode.Usage, "invalid duration"},
		"after the command": {[]string{"--bogus", "--json"}, exitcode.Usage, "unknown flag --bogus"},
		"run error":         {[]string{"--json", "--fail", "offline"}, exitcode.Offline, "remote unreachable"},
		"silent error":      {[]string{"--json", "--fail", "locked"}, exitcode.Locked, "lock"},
	} {
		code, out, errOut, _ := run(t, nil, tc.args...)
		require.Equal(t, tc.code, code, name)
		var doc ErrorJSON
		dec := json.NewDecoder(strings.NewReader(out))
		require.NoError(t, dec.Decode(&doc), "%s: %q", name, out)
		require.False(t, dec.More(), "%s: one document: %q", name, out)
		require.Equal(t, "tool", doc.Program, name)
		require.Equal(t, tc.code, doc.ExitCode, name)
		require.Contains(t, doc.Error, tc.msg, name)
		require.Contains(t, errOut, doc.Error, "%s: the same message on stderr", name)
	}
	// Without --json nothing is printed on stdout; after "--" it is an argument.
	_, out, _, _ := run(t, nil, "--bogus")
	require.Empty(t, out)
	require.False(t, boolFlag([]string{"--", "--json"}, "--json"))
	require.False(t, boolFlag([]string{"--json=false"}, "--json"))
}

// A command that wrote its report and then fails prints no second document.
func TestJSONReportThenFailureIsOneDocument(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(testSpec, &reportThenFail{}, []string{"--json"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, exitcode.Failure, code)
	require.Equal(t, "{\n  \"report\": true\n}\n", out.String())
}

type reportThenFail struct{ Globals }

func (c *reportThenFail) Run(_ context.Context, app *App) error {
	_ = app.IO.WriteJSON(map[string]bool{"report": true})
	return errors.New("failed after the report")
}

// __complete FLAG prints VALUE<TAB>DESCRIPTION lines from the command's
// Completer, with the words already typed parsed (here --remote); bad
// requests are usage errors, never a run.
func TestCompleteCommand(t *testing.T) {
	var out, errb bytes.Buffer
	cmd := &completeCmd{}
	code := Main(testSpec, cmd, []string{CompleteCommand, "remote", "--remote", "upstream", "--dry-run", "--remote"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, 0, code, errb.String())
	require.Equal(t, "upstream\tas typed\nother\tone more, with tabs\n", out.String())
	require.False(t, cmd.ran, "completion never runs the command")

	// Words that do not parse: the defaults.
	out.Reset()
	code = Main(testSpec, &completeCmd{}, []string{CompleteCommand, "remote", "--no-such", "--help"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, 0, code)
	require.Equal(t, "origin\tas typed\nother\tone more, with tabs\n", out.String())

	for _, args := range [][]string{{CompleteCommand}, {CompleteCommand, "auto-push"}} {
		out.Reset()
		errb.Reset()
		require.Equal(t, exitcode.Usage, Main(testSpec, &completeCmd{}, args, Env{Stdout: &out, Stderr: &errb}), "%v", args)
		require.Empty(t, out.String())
		require.Equal(t, 1, strings.Count(errb.String(), "\n"))
	}
	// A command without a Completer has no dynamic completion at all.
	require.Equal(t, exitcode.Usage, Main(testSpec, &testCmd{}, []string{CompleteCommand, "remote"}, Env{}))
}

type completeCmd struct{ testCmd }

func (c *completeCmd) CompleteFlags() []string { return []string{"remote"} }

func (c *completeCmd) Complete(_ context.Context, _ *App, flag string) ([]Candidate, error) {
	return []Candidate{{Value: c.Remote, Description: "as typed"}, {Value: "other", Description: "one more,\twith tabs"}}, nil
}

// waitCmd only reads: it waits for the sync lock with App.WaitIdle.
type waitCmd struct {
	Globals
}

func (c *waitCmd) Run(ctx context.Context, app *App) error { return app.WaitIdle(ctx, state.SyncLock) }

// WaitIdle waits read-only: it gives up with exit 3 while the lock is held,
// returns once it is free, and never creates or changes the lock file (so
// root may wait on a user's directory, which it must never write).
func TestWaitIdleOnlyReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var out, errb bytes.Buffer
	code := Main(testSpec, &waitCmd{}, []string{"--state-dir", dir, "--wait", "100ms"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, 0, code, errb.String())
	require.NoDirExists(t, dir, "waiting created the state directory")

	l, err := state.Acquire(context.Background(), dir, state.SyncLock, 0, state.Holder{PID: 42, Host: "h", Command: "x", Since: time.Now()})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o500)) // nothing may be written now
	defer os.Chmod(dir, 0o700)
	before, err := os.ReadFile(filepath.Join(dir, state.SyncLock))
	require.NoError(t, err)
	start := time.Now()
	code = Main(testSpec, &waitCmd{}, []string{"--state-dir", dir, "--wait", "300ms"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, exitcode.Locked, code, errb.String())
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Contains(t, errb.String(), "pid 42")
	go func() { time.Sleep(200 * time.Millisecond); _ = l.Release() }()
	errb.Reset()
	// --wait returns as soon as the lock is free; 60 s only bounds a
	// release that a loaded machine schedules late.
	code = Main(testSpec, &waitCmd{}, []string{"--state-dir", dir, "--wait", "60s"}, Env{Stdout: &out, Stderr: &errb})
	require.Equal(t, 0, code, errb.String())
	after, err := os.ReadFile(filepath.Join(dir, state.SyncLock))
	require.NoError(t, err)
	require.Equal(t, len(before), len(after), "the lock file changed size")
}
