// Package showconflicts implements the chezmoi-show-conflicts command.
package showconflicts

import (
	"context"
	"errors"

	"github.com/nixdots/nixdots/pkg/cli"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "chezmoi-show-conflicts",
	Description: "List conflicted dotfile commits and files, with both sides and the commands to resolve them.",
	Section:     "chezmoiSync",
}

// Command is the kong model of chezmoi-show-conflicts.
type Command struct {
	cli.Globals
}

// Main runs chezmoi-show-conflicts with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	return errors.New("not implemented yet")
}
