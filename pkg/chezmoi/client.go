// Package chezmoi is a small client for the chezmoi command line, used by
// chezmoi-sync: where the source directory is, what changed in the home
// directory (status), which targets are templates, capturing edits
// (re-add) and applying incoming changes without overwriting local edits.
// Every call goes through runner.Runner; the parsers are pure functions.
package chezmoi

import (
	"context"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// Client runs chezmoi.
type Client struct {
	Runner runner.Runner
	// Source, when set, is passed as --source so chezmoi works on the same
	// directory chezmoi-sync was told to use.
	Source  string
	Timeout time.Duration
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
	return runner.Cmd{Name: "chezmoi", Args: full, Timeout: t, Mutates: mutates}
}

// SourcePath returns chezmoi's source directory (`chezmoi source-path`).
func (c *Client) SourcePath(ctx context.Context) (string, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "source-path"))
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// Changes returns `chezmoi status` with absolute target paths.
func (c *Client) Changes(ctx context.Context) ([]Change, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "status", "--path-style", "absolute"))
	if err != nil {
		return nil, err
	}
	return ParseChanges(string(res.Stdout))
}

// Templates lists the absolute target paths of managed templates.
func (c *Client) Templates(ctx context.Context) ([]string, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "managed", "--include", "templates", "--path-style", "absolute", "--nul-path-separator"))
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
	_, err := c.Runner.Run(ctx, c.cmd(true, append([]string{"re-add", "--"}, targets...)...))
	return err
}

// Apply runs `chezmoi apply --error-on-conflict --keep-going`: targets
// changed since chezmoi last wrote them are left alone (and make apply
// exit 1), everything else is applied. The caller lists what was skipped
// with Status afterwards.
func (c *Client) Apply(ctx context.Context) (runner.Result, error) {
	return c.Runner.Run(ctx, c.cmd(true, "apply", "--error-on-conflict", "--keep-going"))
}

// LastWritten returns, per absolute target path, the SHA-256 (hex) of the
// contents chezmoi last wrote there or captured from there (apply, add and
// re-add record it in the entryState bucket of chezmoi's persistent state).
// Comparing it with the target state's hash tells whether the source
// changed since then, which `chezmoi status` cannot say: a home edit
// alone already shows as "MM".
func (c *Client) LastWritten(ctx context.Context) (map[string]string, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "state", "get-bucket", "--bucket", "entryState", "--format", "json"))
	if err != nil {
		return nil, err
	}
	return ParseEntryState(res.Stdout)
}

// Cat returns the target state of one target (what apply would write).
func (c *Client) Cat(ctx context.Context, target string) ([]byte, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "cat", "--", target))
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
	res, err := c.Runner.Run(ctx, c.cmd(false, append([]string{"managed", "-i", "files", "-f", "json", "-p", "all", "--"}, targets...)...))
	if err != nil {
		return nil, err
	}
	return ParseManagedPaths(res.Stdout)
}

// SourceFile returns the source-directory path of one target.
func (c *Client) SourceFile(ctx context.Context, target string) (string, error) {
	res, err := c.Runner.Run(ctx, c.cmd(false, "source-path", "--", target))
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}
