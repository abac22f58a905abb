// Package chezmoistatus implements the chezmoi-status command.
package chezmoistatus

import (
	"context"
	"errors"

	"github.com/nixdots/nixdots/pkg/cli"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "chezmoi-status",
	Description: "Show the state of dotfile sync: last run, pending pushes, incoming commits, parked conflicts, drift.",
	Section:     "chezmoiSync",
}

// Command is the kong model of chezmoi-status.
type Command struct {
	cli.Globals
}

// Main runs chezmoi-status with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	return errors.New("not implemented yet")
}
