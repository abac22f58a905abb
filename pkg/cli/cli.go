// Package cli is the frame every binary of the suite runs in: kong parsing
// with the shared flags, the config-file resolver, signal handling (SIGINT
// and SIGTERM cancel the run's context; exit 130), the injected writers, the
// runner (dry-run and verbose are wrappers around it) and the single mapping
// from errors to exit codes. Each cmd/<binary>/main.go is one line into here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/ui"
)

// Version is set at link time (-ldflags "-X github.com/nixdots/nixdots/pkg/cli.Version=...").
var Version = "dev"

// Globals are the flags every binary shares. Embed it in a command struct.
type Globals struct {
	StateDir string           `name:"state-dir" placeholder:"DIR" help:"State directory (default: $$STATE_DIRECTORY, else $$XDG_STATE_HOME/nixdots)."`
	Config   string           `name:"config" placeholder:"FILE" help:"Config file (default: $$NIXDOTS_CONFIG, else $$XDG_CONFIG_HOME/nixdots/config.json, $$XDG_CONFIG_DIRS, /etc/nixdots/config.json)."`
	JSON     bool             `name:"json" help:"Print one JSON document on stdout; human text goes to stderr."`
	Verbose  bool             `name:"verbose" short:"v" help:"Log every external command before it runs."`
	NoColor  bool             `name:"no-color" help:"Never colour output (also: NO_COLOR set, not a TTY, under systemd)."`
	Wait     time.Duration    `name:"wait" placeholder:"DURATION" default:"0s" help:"Wait up to DURATION for another run's lock instead of failing at once."`
	Version  kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

// G returns the globals; it is promoted to any struct that embeds Globals.
func (g *Globals) G() *Globals { return g }

// DryRunFlag adds --dry-run to binaries that change things.
type DryRunFlag struct {
	DryRun bool `name:"dry-run" short:"n" help:"Print the commands that would change something; run only read-only queries."`
}

// IsDryRun is promoted to the embedding struct.
func (d *DryRunFlag) IsDryRun() bool { return d.DryRun }

// ReadStateFlag adds --read-state-dir to the binaries that share the rebuild
// lock and history with the other side (rebuild-smart, rebuild-rollback):
// on a NixOS host root's runs and a user's keep state directories of their
// own, and each reads the other's, never writing it.
type ReadStateFlag struct {
	ReadStateDir []string `name:"read-state-dir" placeholder:"DIR" sep:"none" help:"Also respect the rebuild lock and read the rebuild history of this other state directory, read-only (repeatable; default: $$NIXDOTS_READ_STATE_DIRS, colon-separated)."`
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
	Ctx            context.Context // nil: Background, cancelled by SIGINT/SIGTERM
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
}

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
// the same lock of the other side's directories (ReadStateDirs).
func (a *App) Lock(ctx context.Context, name string) (*state.Lock, error) {
	return state.Acquire(ctx, a.StateDir, name, a.Globals.Wait, state.Holder{
		PID: os.Getpid(), Host: a.Hostname(), Command: a.Name, Since: a.Now(),
	}, a.ReadStateDirs...)
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
	Name        string
	Description string
	// Section of the config file whose keys fill flags tagged `config:"..."`.
	Section string
	// ExitCodes is appended to --help; nil uses the suite's table.
	ExitCodes string
	// UsageExit is the code for parse errors (2 everywhere; kept explicit).
	UsageExit int
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
// and never calls os.Exit.
func Main(spec Spec, cmd Runner, args []string, env Env) (code int) {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	getenv := func(k string) string { return runner.Getenv(env.Environ, k) }
	mapExit := func(c int) int {
		if spec.MapExit != nil {
			return spec.MapExit(c)
		}
		return c
	}
	fail := func(c int, err error) int {
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(env.Stderr, "%s: %s\n", spec.Name, brief.Line(msg))
		}
		return mapExit(c)
	}
	defer func() {
		if r := recover(); r != nil {
			if ep, ok := r.(exitPanic); ok {
				code = ep.code
				if code != 0 {
					code = mapExit(exitcode.Usage)
				}
				return
			}
			code = fail(exitcode.Failure, fmt.Errorf("internal error: %v", r))
		}
	}()

	cfgPath := config.Locate(flagValue(args, "--config"), getenv)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fail(exitcode.FromError(err), err)
	}
	exitCodes := spec.ExitCodes
	if exitCodes == "" {
		exitCodes = SuiteExitCodes()
	}
	parser, err := kong.New(cmd,
		kong.Name(spec.Name),
		kong.Description(spec.Description),
		kong.Help(func(o kong.HelpOptions, ctx *kong.Context) error {
			if err := kong.DefaultHelpPrinter(o, ctx); err != nil {
				return err
			}
			_, err := fmt.Fprintf(ctx.Stdout, "\n%s\n", exitCodes)
			return err
		}),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
		kong.Vars{"version": spec.Name + " " + Version},
		kong.Resolvers(cfg.Resolver(spec.Section, getenv)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return fail(exitcode.Failure, fmt.Errorf("internal error: %w", err))
	}
	if _, err := parser.Parse(args); err != nil {
		return fail(exitcode.Usage, fmt.Errorf("%v (see --help)", err))
	}
	g := cmd.(withGlobals).G()
	dry := false
	if d, ok := cmd.(withDryRun); ok {
		dry = d.IsDryRun()
	}
	var readDirs []string
	if rs, ok := cmd.(withReadState); ok {
		readDirs = readStateDirs(rs.ReadStateDirs(), getenv)
	}

	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	streams := ui.New(env.Stdout, env.Stderr, ui.Options{NoColor: g.NoColor, JSON: g.JSON, Getenv: getenv})
	streams.Prefix = spec.Name
	// Children learn that a suite binary started them, so the git hooks in
	// hooks/ never start a second sync from inside this run's own fetch.
	x := &runner.Exec{Env: runner.MergeEnv(env.Environ, []string{"NIXDOTS_RUNNING=" + spec.Name})}
	if g.Verbose {
		x.Log = env.Stderr
	}
	var r runner.Runner = x
	if dry {
		r = &runner.DryRun{Inner: x, Out: streams.Human}
	}
	app := &App{
		Name: spec.Name, IO: streams, Runner: r, Exec: x, Environ: env.Environ, Config: cfg,
		StateDir: state.Dir(g.StateDir, getenv), ReadStateDirs: readDirs, Globals: g, DryRun: dry, Stdin: env.Stdin, Now: time.Now,
	}
	err = cmd.Run(ctx, app)
	if err == nil {
		return mapExit(exitcode.OK)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fail(exitcode.Interrupted, errors.New("interrupted"))
	}
	return fail(exitcode.FromError(err), err)
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

// SuiteExitCodes renders the exit-code table for --help.
func SuiteExitCodes() string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, e := range exitcode.Table {
		fmt.Fprintf(&b, "\n  %3d  %s", e.Code, e.Meaning)
	}
	return b.String()
}
