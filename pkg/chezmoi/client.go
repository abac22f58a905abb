// Package chezmoi is a small client for the chezmoi command line, used by
// chezmoi-sync: where the source directory is, what changed in the home
// directory (status), which targets are templates, capturing edits
// (re-add) and applying incoming changes without overwriting local edits.
// Every call goes through runner.Runner; the parsers are pure functions.
package chezmoi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Client runs chezmoi.
type Client struct {
	Runner runner.Runner
	// Source, when set, is passed as --source so chezmoi works on the same
	// directory chezmoi-sync was told to use.
	Source  string
	Timeout time.Duration
	// NoExternals adds --exclude=externals to the commands that read the
	// target state: externals that need the network make them fail
	// offline (status, managed, apply).
	NoExternals bool
	// Env is added to every command's environment.
	Env []string
}

func (c *Client) cmd(mutates bool, args ...string) runner.Cmd {
	// --no-tty: never try to prompt (systemd has no terminal; a prompt
	// would fail the run anyway). --no-pager and --color=false keep the
	// output parseable.
	full := []string{"--no-tty", "--no-pager", "--color=false"}
	if c.Source != "" {
		full = append(full, "--source", c.Source)
	}
	full = append(full, args...)
	t := c.Timeout
	if t == 0 {
		t = 5 * time.Minute
	}
	return runner.Cmd{Name: "chezmoi", Args: full, Timeout: t, Mutates: mutates, Env: c.Env}
}

// run runs cmd; a failure is an *Error led by chezmoi's own first error
// line, not the last lines of stderr (a failing script's output, or a
// later script's, would hide it).
func (c *Client) run(ctx context.Context, cmd runner.Cmd) (runner.Result, error) {
	res, err := c.Runner.Run(ctx, cmd)
	if err != nil && ctx.Err() == nil {
		return res, &Error{Cause: FirstError(string(res.Stderr)), Err: err}
	}
	return res, err
}

// Error is a failed chezmoi command.
type Error struct {
	Cause string // chezmoi's first error line ("" when it printed none)
	Err   error
}

func (e *Error) Error() string {
	if e.Cause != "" {
		return e.Cause
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Cause is the line that says why a chezmoi command failed.
func Cause(err error) string {
	var ce *Error
	if errors.As(err, &ce) && ce.Cause != "" {
		return ce.Cause
	}
	return brief.Line(err.Error())
}

// FirstError is the first "chezmoi: ..." line of stderr that is not a
// warning, else its first non-empty line.
func FirstError(stderr string) string {
	first := ""
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "chezmoi: warning: ") {
			continue
		}
		if strings.HasPrefix(l, "chezmoi: ") {
			return l
		}
		if first == "" {
			first = l
		}
	}
	return first
}

// SourcePath returns chezmoi's source directory (`chezmoi source-path`).
func (c *Client) SourcePath(ctx context.Context) (string, error) {
	res, err := c.run(ctx, c.cmd(false, "source-path"))
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// Changes returns `chezmoi status` with absolute target paths.
func (c *Client) Changes(ctx context.Context) ([]Change, error) {
	changes, _, err := c.Status(ctx)
	return changes, err
}

// Status is `chezmoi status` with absolute target paths, and the warnings
// chezmoi printed (such as "config file template has changed").
func (c *Client) Status(ctx context.Context) ([]Change, []string, error) {
	res, err := c.run(ctx, c.cmd(false, c.targetState("status", "--path-style", "absolute")...))
	warnings := ParseWarnings(string(res.Stderr))
	if err != nil {
		return nil, warnings, err
	}
	changes, err := ParseChanges(string(res.Stdout))
	return changes, warnings, err
}

// targetState adds --exclude=externals when NoExternals is set.
func (c *Client) targetState(args ...string) []string {
	if c.NoExternals {
		return append([]string{args[0], "--exclude=externals"}, args[1:]...)
	}
	return args
}

// Managed lists every managed target (absolute) with its source, in one
// call: files, directories, symlinks, scripts and removals.
func (c *Client) Managed(ctx context.Context) (map[string]Managed, error) {
	res, err := c.run(ctx, c.cmd(false, c.targetState("managed", "--include=all", "--format=json", "--path-style=all")...))
	if err != nil {
		return nil, err
	}
	return ParseManaged(res.Stdout)
}

// Config is what chezmoi-sync reads from `chezmoi dump-config`.
type Config struct {
	SourceDir   string `json:"sourceDir"`   // without .chezmoiroot applied
	WorkingTree string `json:"workingTree"` // the git work tree holding the source
	Git         struct {
		AutoAdd    bool `json:"autoAdd"`
		AutoCommit bool `json:"autoCommit"`
		AutoPush   bool `json:"autoPush"`
	} `json:"git"`
}

// DumpConfig runs `chezmoi dump-config --format json` (one process: the
// source directory, the work tree and the git.auto* settings).
func (c *Client) DumpConfig(ctx context.Context) (Config, error) {
	res, err := c.run(ctx, c.cmd(false, "dump-config", "--format", "json"))
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(res.Stdout)
}

// ParseConfig parses dump-config's JSON (chezmoi 2.73 spells the git keys
// autoadd/autocommit/autopush; encoding/json matches them either way).
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("chezmoi dump-config: %w", err)
	}
	return cfg, nil
}

// ParseWarnings returns the "chezmoi: warning: ..." lines of stderr.
func ParseWarnings(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if w, ok := strings.CutPrefix(strings.TrimSpace(l), "chezmoi: warning: "); ok {
			out = append(out, w)
		}
	}
	return out
}

// Templates lists the absolute target paths of managed templates.
func (c *Client) Templates(ctx context.Context) ([]string, error) {
	res, err := c.run(ctx, c.cmd(false, "managed", "--include", "templates", "--path-style", "absolute", "--nul-path-separator"))
	if err != nil {
		return nil, err
	}
	return ParseManagedNul(string(res.Stdout)), nil
}

// ReAdd copies the given home files (absolute target paths) back into the
// source directory. Only targets are re-added, never the whole tree: a
// plain `chezmoi re-add` also copies home files that did not change over
// source files that did (an unapplied edit in the source directory), which
// silently reverts that edit.
func (c *Client) ReAdd(ctx context.Context, targets []string) error {
	if len(targets) == 0 {
		return nil
	}
	_, err := c.run(ctx, c.cmd(true, append([]string{"re-add", "--"}, targets...)...))
	return err
}

// Apply runs `chezmoi apply --error-on-conflict --keep-going`: targets
// changed since chezmoi last wrote them are left alone (and make apply
// exit 1), everything else is applied. With targets, only those are
// applied (how the sync keeps apply away from files it protects). The
// caller reads failures with ParseApplyErrors.
func (c *Client) Apply(ctx context.Context, targets ...string) (runner.Result, error) {
	args := c.targetState("apply", "--error-on-conflict", "--keep-going")
	if len(targets) > 0 {
		args = append(append(args, "--"), targets...)
	}
	return c.run(ctx, c.cmd(true, args...))
}

// Add runs `chezmoi add` on targets: the capture of re-pointed symlinks,
// which re-add ignores.
func (c *Client) Add(ctx context.Context, targets []string) error {
	if len(targets) == 0 {
		return nil
	}
	_, err := c.run(ctx, c.cmd(true, append([]string{"add", "--"}, targets...)...))
	return err
}

// LastWritten returns, per absolute target path, the SHA-256 (hex) of the
// contents chezmoi last wrote there or captured from there (apply, add and
// re-add record it in the entryState bucket of chezmoi's persistent state).
// Comparing it with the target state's hash tells whether the source
// changed since then, which `chezmoi status` cannot say: a home edit
// alone already shows as "MM".
func (c *Client) LastWritten(ctx context.Context) (map[string]string, error) {
	res, err := c.run(ctx, c.cmd(false, "state", "get-bucket", "--bucket", "entryState", "--format", "json"))
	if err != nil {
		return nil, err
	}
	return ParseEntryState(res.Stdout)
}

// Cat returns the target state of one target (what apply would write).
func (c *Client) Cat(ctx context.Context, target string) ([]byte, error) {
	res, err := c.run(ctx, c.cmd(false, "cat", "--", target))
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}

// SourceFiles maps several targets (absolute paths) to their source files
// in one call. `chezmoi source-path` prints its answers sorted, not in the
// order asked, so `chezmoi managed -f json -p all`, keyed by target, is used.
func (c *Client) SourceFiles(ctx context.Context, targets []string) (map[string]string, error) {
	if len(targets) == 0 {
		return map[string]string{}, nil
	}
	res, err := c.run(ctx, c.cmd(false, append([]string{"managed", "-i", "files", "-f", "json", "-p", "all", "--"}, targets...)...))
	if err != nil {
		return nil, err
	}
	return ParseManagedPaths(res.Stdout)
}

// SourceFile returns the source-directory path of one target.
func (c *Client) SourceFile(ctx context.Context, target string) (string, error) {
	res, err := c.run(ctx, c.cmd(false, "source-path", "--", target))
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// ForgetWritten deletes chezmoi's record of what it last wrote to target
// (entryState): after a target is removed by someone else than chezmoi
// (an undo taking back a file that came in), chezmoi would otherwise take
// the missing file for a deletion at home and never write it again.
func (c *Client) ForgetWritten(ctx context.Context, target string) error {
	_, err := c.run(ctx, c.cmd(true, "state", "delete", "--bucket", "entryState", "--key", target))
	return err
}
