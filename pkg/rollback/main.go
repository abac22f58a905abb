// Package rollback implements the rebuild-rollback command.
package rollback

import (
	"context"
	"errors"

	"github.com/nixdots/nixdots/pkg/cli"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name:        "rebuild-rollback",
	Description: "Go back to an earlier successful build, system and repository, without losing uncommitted work.",
	Section:     "rebuildSmart",
}

// Command is the kong model of rebuild-rollback.
type Command struct {
	cli.Globals
	cli.DryRunFlag
}

// Main runs rebuild-rollback with args and returns its exit code.
func Main(args []string, env cli.Env) int {
	return cli.Main(Spec, &Command{}, args, env)
}

// Run implements cli.Runner.
func (c *Command) Run(ctx context.Context, app *cli.App) error {
	return errors.New("not implemented yet")
}
