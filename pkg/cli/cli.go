// Package cli is the frame every binary of the suite runs in: kong parsing
// with the shared flags, the config-file resolver, signal handling (SIGINT,
// SIGTERM, SIGHUP and SIGQUIT cancel the run's context; exit 130), the
// injected writers (a failed write to stdout is never exit 0), the
// runner (dry-run and verbose are wrappers around it) and the single mapping
// from errors to exit codes. Each cmd/<binary>/main.go is one line into here.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Globals are the flags every binary shares. Embed it in a command struct.
type Globals struct {
	StateDir string           `name:"state-dir" placeholder:"DIR" group:"common" help:"State directory (default: $$STATE_DIRECTORY, else $$XDG_STATE_HOME/nixdots; an empty DIR is refused)."`
	Config   string           `name:"config" placeholder:"FILE" group:"common" help:"Config file (default: $$NIXDOTS_CONFIG, else $$XDG_CONFIG_HOME/nixdots/config.json, $$XDG_CONFIG_DIRS, /etc/nixdots/config.json)."`
	JSON     bool             `name:"json" group:"common" help:"Print one JSON document on stdout (an error object when the run fails before its report); human text goes to stderr."`
	Verbose  bool             `name:"verbose" short:"v" group:"common" help:"Log every external command before it runs."`
	NoColor  bool             `name:"no-color" group:"common" help:"Never colour output (also: NO_COLOR set, not a TTY, under systemd)."`
	Wait     time.Duration    `name:"wait" placeholder:"DURATION" default:"0s" group:"common" help:"Wait up to DURATION (not negative) for another run's lock instead of failing at once."`
	Version  kong.VersionFlag `name:"version" group:"common" help:"Print the version (module version or VCS revision) and exit."`
}

// G returns the globals; it is promoted to any struct that embeds Globals.
func (g *Globals) G() *Globals { return g }

// DryRunFlag adds --dry-run to binaries that change things.
type DryRunFlag struct {
	DryRun bool `name:"dry-run" short:"n" group:"common" help:"Print the commands that would change something; run only read-only queries."`
}

// IsDryRun is promoted to the embedding struct.
func (d *DryRunFlag) IsDryRun() bool { return d.DryRun }

// ReadStateFlag adds --read-state-dir to the binaries that share the rebuild
// lock and history with the other side (rebuild-smart, rebuild-rollback):
// on a NixOS host root's runs and a user's keep state directories of their
// own, and each reads the other's, never writing it.
type ReadStateFlag struct {
	ReadStateDir []string `name:"read-state-dir" placeholder:"DIR" sep:"none" group:"common" help:"Also respect the rebuild lock and read the rebuild history of this other state directory, read-only (repeatable; default: $$NIXDOTS_READ_STATE_DIRS, colon-separated)."`
}

// ReadStateDirs is promoted to the embedding struct.
func (r *ReadStateFlag) ReadStateDirs() []string { return r.ReadStateDir }

type withGlobals interface{ G() *Globals }
type withDryRun interface{ IsDryRun() bool }
type withReadState interface{ ReadStateDirs() []string }

// Env is what the process gives a binary: arguments aside, everything it may
// read from outside comes through here so tests can call Main in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	Environ        []string
	Ctx            context.Context // nil: Background; cancelled by the stop signals either way
}

// OS returns the real process environment.
func OS() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Environ: os.Environ()}
}

// App is the runtime a command's Run receives.
type App struct {
	Name     string
	IO       *ui.Streams
	Runner   runner.Runner // dry-run aware
	Exec     *runner.Exec  // the real runner, for read-only queries that must run even in tests of dry-run
	Environ  []string
	Config   *config.File
	StateDir string
	// ReadStateDirs are the other side's state directories (--read-state-dir,
	// NIXDOTS_READ_STATE_DIRS): read, and their locks respected, never written.
	ReadStateDirs []string
	Globals       *Globals
	DryRun        bool
	Stdin         io.Reader
	Now           func() time.Time
	// given are the long names of the flags set on the command line (not
	// by the environment, the config file or a default).
	given map[string]bool
}

// Given reports whether the flag (its long name) was set on the command
// line: a value there outranks the environment and the config file, and a
// command whose flags must agree (rebuild-smart's --flake DIR#HOST and
// --host) needs to know which of its values the user typed.
func (a *App) Given(flag string) bool { return a.given[flag] }

// Getenv reads the explicit environment.
func (a *App) Getenv(k string) string { return runner.Getenv(a.Environ, k) }

// Hostname is the name this host uses in commits and bookmarks.
func (a *App) Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// Lock takes the named lock in the state directory, honouring --wait and
// the same lock of the other side's directories (ReadStateDirs; one that
// cannot be read counts as not held, with a warning). writes are the state
// files the run will write: each is checked (state.Lock.Check) right after
// the lock is taken, so a file no write would accept is refused (exit 10)
// before the run does any work, not after it.
func (a *App) Lock(ctx context.Context, name string, writes ...string) (*state.Lock, error) {
	l, err := state.Acquire(ctx, a.StateDir, name, a.Globals.Wait, state.Holder{
		PID: os.Getpid(), Host: a.Hostname(), Command: a.Name, Since: a.Now(),
	}, a.ReadStateDirs...)
	if err != nil {
		return nil, err
	}
	if err := l.Check(writes...); err != nil {
		_ = l.Release()
		return nil, err
	}
	for _, w := range l.Warnings {
		a.IO.Warnf("%s", w)
	}
	return l, nil
}

// WaitIdle waits, honouring --wait, until nobody holds the named lock here
// or in the other side's directories, without taking it: a command that
// only reads waits this way, so root reading a user's state directory
// behaves the same whether or not a lock file is there (taking the lock
// would mean writing the user's lock file, which is refused). It returns a
// *state.LockedError (exit 3) when --wait expires.
func (a *App) WaitIdle(ctx context.Context, name string) error {
	deadline := time.Now().Add(a.Globals.Wait)
	for {
		busy, holder, err := a.Busy(name)
		if err != nil || !busy {
			return err
		}
		if time.Now().After(deadline) {
			return &state.LockedError{Path: filepath.Join(a.StateDir, name), Holder: holder}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Busy reports whether the named lock is held here or in one of the other
// side's directories (ReadStateDirs), and by whom, without taking it.
func (a *App) Busy(name string) (bool, state.Holder, error) {
	for _, dir := range append([]string{a.StateDir}, a.ReadStateDirs...) {
		if busy, holder, err := state.Busy(dir, name); err != nil || busy {
			return busy, holder, err
		}
	}
	return false, state.Holder{}, nil
}

// Spec describes one binary.
type Spec struct {
	Name string
	// Description is one paragraph: what the binary does and when to use
	// it. --help shows it under the usage line; the man page's NAME line is
	// its first sentence.
	Description string
	// Section of the config file whose keys fill flags tagged `config:"..."`.
	Section string
	// Examples are the common cases (--help and the man page's EXAMPLES).
	Examples []Example
	// ExitCodes are the codes this binary can return (after MapExit), with
	// what each means for it; ExitNote is a line printed after them.
	ExitCodes []exitcode.Use
	ExitNote  string
	// MapExit, when set, turns the suite's exit code into the binary's own
	// (chezmoi-show-conflicts follows grep: 0 none, 1 found, 2+ error).
	MapExit func(code int) int
}

// Runner is implemented by command structs.
type Runner interface {
	Run(ctx context.Context, app *App) error
}

type exitPanic struct{ code int }

// Main parses args into cmd (a pointer to a struct embedding Globals and
// implementing Runner), runs it and returns the exit code. It never panics
// and never calls os.Exit. With --json, stdout carries exactly one JSON
// document whatever happens: the command's report, or an error object
// (ErrorJSON) when the run failed before writing one.
func Main(spec Spec, cmd Runner, args []string, env Env) (code int) {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if len(args) > 0 && args[0] == CompleteCommand {
		return complete(spec, cmd, args[1:], env)
	}
	getenv := func(k string) string { return runner.Getenv(env.Environ, k) }
	mapExit := func(c int) int {
		if spec.MapExit != nil {
			return spec.MapExit(c)
		}
		return c
	}
	// First of all, so that a signal during the config load or the parse
	// is handled like one during the run.
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := notifyStop(ctx)
	defer stop()
	out := &outWatch{w: env.Stdout}
	env.Stdout = out
	// Registered before the recover below, so it runs after it: every
	// path out of Main, --help included, accounts for its output.
	defer func() {
		code = out.settle(code, mapExit(exitcode.OK), mapExit(exitcode.Failure), env.Stderr, spec.Name)
	}()
	wantJSON := boolFlag(args, "--json")
	var streams *ui.Streams // set once the run starts: it knows whether a document was written
	fail := func(c int, err error) int {
		c = mapExit(c)
		msg := brief.Line(err.Error())
		if msg != "" {
			fmt.Fprintf(env.Stderr, "%s: %s\n", spec.Name, brief.Safe(msg))
		}
		if wantJSON && (streams == nil || !streams.WroteJSON()) {
			writeErrorJSON(env.Stdout, spec, msg, c)
		}
		return c
	}
	defer func() {
		if r := recover(); r != nil {
			if ep, ok := r.(exitPanic); ok {
				code = ep.code
				if code != 0 {
					code = fail(exitcode.Usage, errors.New(""))
				}
				return
			}
			code = fail(exitcode.Failure, fmt.Errorf("internal error: %v", r))
		}
	}()

	cfg, err := config.Load(config.Locate(flagValue(args, "--config"), getenv))
	if err != nil {
		return fail(exitcode.FromError(err), err)
	}
	parser, err := newParser(spec, cmd, cfg, env)
	if err != nil {
		return fail(exitcode.Failure, fmt.Errorf("internal error: %w", err))
	}
	kctx, err := parser.Parse(args)
	if out.caused(err) {
		return mapExit(exitcode.OK) // --help or --version could not be written: out.settle says so
	}
	if err != nil {
		return fail(exitcode.Usage, fmt.Errorf("%v (see --help)", err))
	}
	given := givenFlags(kctx)
	if err := checkGlobals(cmd.(withGlobals).G(), given); err != nil {
		return fail(exitcode.Usage, err)
	}

	app := newApp(spec, cmd, cfg, env)
	app.given = given
	streams = app.IO
	err = cmd.Run(ctx, app)
	if ctx.Err() != nil {
		// A stop signal arrived: whatever the command made of its
		// cancelled children (an error, or a report with holes), the run
		// was cut short, and its exit code says so.
		return fail(exitcode.Interrupted, errors.New("interrupted"))
	}
	if err == nil || out.caused(err) {
		// A report that could not be written is out.settle's to explain,
		// once (141 for a closed pipe, else one line and failure).
		return mapExit(exitcode.OK)
	}
	return fail(exitcode.FromError(err), err)
}

// checkGlobals refuses shared flag values kong accepts but no run can use:
// a negative --wait, an explicitly empty --state-dir (silently the default
// before: a script whose variable was empty wrote somewhere else than it
// meant), a state directory with a control character in its name.
func checkGlobals(g *Globals, given map[string]bool) error {
	switch {
	case g.Wait < 0:
		return fmt.Errorf("--wait %s: a time to wait cannot be negative (see --help)", g.Wait)
	case given["state-dir"] && g.StateDir == "":
		return errors.New("--state-dir is empty: give a directory, or leave the flag out for the default (see --help)")
	case strings.ContainsFunc(g.StateDir, unicode.IsControl):
		return fmt.Errorf("--state-dir %q holds a control character (see --help)", g.StateDir)
	}
	return nil
}

// givenFlags lists the flags kong parsed from the command line; values the
// environment (kong sets those as defaults) or a resolver (the config file)
// supplied are not among them.
func givenFlags(k *kong.Context) map[string]bool {
	given := map[string]bool{}
	for _, p := range k.Path {
		if p.Flag != nil && !p.Resolved {
			given[p.Flag.Name] = true
		}
	}
	return given
}

// newParser builds the kong parser of cmd with the suite's options, the
// config-file resolver and panicking exits (recovered by Main).
func newParser(spec Spec, cmd Runner, cfg *config.File, env Env) (*kong.Kong, error) {
	getenv := func(k string) string { return runner.Getenv(env.Environ, k) }
	return kong.New(cmd, append(KongOptions(spec),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
		kong.Resolvers(cfg.Resolver(spec.Section, getenv)),
	)...)
}

// newApp is the runtime of a parsed command: streams, runner (dry-run and
// verbose wrap it), state directory.
func newApp(spec Spec, cmd Runner, cfg *config.File, env Env) *App {
	getenv := func(k string) string { return runner.Getenv(env.Environ, k) }
	g := cmd.(withGlobals).G()
	dry := false
	if d, ok := cmd.(withDryRun); ok {
		dry = d.IsDryRun()
	}
	var readDirs []string
	if rs, ok := cmd.(withReadState); ok {
		readDirs = readStateDirs(rs.ReadStateDirs(), getenv)
	}
	streams := ui.New(env.Stdout, env.Stderr, ui.Options{NoColor: g.NoColor, JSON: g.JSON, Getenv: getenv})
	streams.Prefix = spec.Name
	// Children learn that a suite binary started them, so the git hooks in
	// hooks/ never start a second sync from inside this run's own fetch.
	x := &runner.Exec{Env: runner.MergeEnv(env.Environ, []string{"NIXDOTS_RUNNING=" + spec.Name})}
	if g.Verbose {
		x.Log = env.Stderr
	}
	// The benchmarks' baselines replay the commands a run started, with
	// the same overlap, from this trace (internal/replay, docs/testing.md).
	if path := getenv(runner.TraceEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			x.Trace = f // closed at exit
		}
	}
	var r runner.Runner = x
	if dry {
		r = &runner.DryRun{Inner: x, Out: streams.Human}
	}
	return &App{
		Name: spec.Name, IO: streams, Runner: r, Exec: x, Environ: env.Environ, Config: cfg,
		StateDir: state.Dir(g.StateDir, getenv), ReadStateDirs: readDirs, Globals: g, DryRun: dry, Stdin: env.Stdin, Now: time.Now,
	}
}

// ErrorJSON is the document --json prints when a run fails before its
// report (bad flags, a bad config file, a held lock, ...): the same
// message as on stderr and the exit code the process returns.
type ErrorJSON struct {
	Program  string `json:"program"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

func writeErrorJSON(w io.Writer, spec Spec, msg string, code int) {
	if msg == "" {
		msg = spec.meaning(code)
	}
	data, err := json.MarshalIndent(ErrorJSON{Program: spec.Name, Error: msg, ExitCode: code}, "", "  ")
	if err == nil {
		_, _ = w.Write(append(data, '\n'))
	}
}

// meaning is what the binary says code means.
func (s Spec) meaning(code int) string {
	for _, u := range s.Codes() {
		if u.Code == code {
			return u.Describe()
		}
	}
	return exitcode.MeaningOf(code)
}

// boolFlag pre-scans args for a boolean flag (--json, --json=true): a usage
// error stops kong before it sets the field, yet the answer must be JSON.
func boolFlag(args []string, name string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == name {
			on = true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			b, err := strconv.ParseBool(v)
			on = err == nil && b
		}
	}
	return on
}

// readStateDirs is --read-state-dir, else $NIXDOTS_READ_STATE_DIRS split at
// colons (empty parts dropped, as in PATH-like lists set by the module).
func readStateDirs(flag []string, getenv func(string) string) []string {
	if len(flag) > 0 {
		return flag
	}
	var out []string
	for _, d := range strings.Split(getenv("NIXDOTS_READ_STATE_DIRS"), ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// flagValue pre-scans args for --name VALUE or --name=VALUE; the config file
// must be known before kong resolves the other flags.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}
