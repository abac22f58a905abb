// Package chezmoisync implements the chezmoi-sync command.
package chezmoisync

import (
	"context"
	"errors"

	"github.com/nixdots/nixdots/pkg/cli"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "chezmoi-sync",
	Description: "Capture local dotfile edits, rebase them onto the shared remote with jj, push, and apply what came in.",
	Section:     "chezmoiSync",
}

// Command is the kong model of chezmoi-sync.
type Command struct {
	cli.Globals
	cli.DryRunFlag
}

// Main runs chezmoi-sync with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	return errors.New("not implemented yet")
}
