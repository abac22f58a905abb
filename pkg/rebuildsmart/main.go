// Package rebuildsmart implements the rebuild-smart command.
package rebuildsmart

import (
	"context"
	"errors"

	"github.com/nixdots/nixdots/pkg/cli"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "rebuild-smart",
	Description: "Rebuild NixOS from a flake in one command: upstream sync, dotfiles, secrets, optional update, switch, checks, commit.",
	Section:     "rebuildSmart",
}

// Command is the kong model of rebuild-smart.
type Command struct {
	cli.Globals
	cli.DryRunFlag
}

// Main runs rebuild-smart with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	return errors.New("not implemented yet")
}
