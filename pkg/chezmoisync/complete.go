package chezmoisync

import (
	"context"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/showconflicts"
)

// CompleteFlags implements cli.Completer: --hostname completes the hosts
// that share the dotfiles, as chezmoi-status's and
// chezmoi-show-conflicts' do.
func (c *Command) CompleteFlags() []string { return []string{"hostname"} }

// Complete delegates to the read-only commands' host list.
func (c *Command) Complete(ctx context.Context, app *cli.App, flag string) ([]cli.Candidate, error) {
	f := showconflicts.SyncFlags{SourceDir: c.SourceDir, Remote: c.Remote, Branch: c.Branch, Hostname: c.Hostname}
	return f.Complete(ctx, app, flag)
}
