package rebuildsmart

import (
	"context"
	"os"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/flake"
)

// CompleteFlags implements cli.Completer: --host completes from the
// flake's nixosConfigurations.
func (c *Command) CompleteFlags() []string { return []string{"host"} }

// Complete lists the nixosConfigurations of the flake --flake (or
// $NH_OS_FLAKE, the config, the current directory) names; evaluating them
// never writes flake.lock.
func (c *Command) Complete(ctx context.Context, app *cli.App, _ string) ([]cli.Candidate, error) {
	cwd, _ := os.Getwd()
	ref := flake.ParseRef(c.Flake, cwd)
	nix := &flake.Nix{Runner: app.Exec, Dir: ref.Dir, Env: []string{"GIT_OPTIONAL_LOCKS=0"}}
	hosts, err := nix.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	self := app.Hostname()
	out := make([]cli.Candidate, 0, len(hosts))
	for _, h := range hosts {
		desc := "nixosConfigurations." + h
		if h == self {
			desc += " (this host)"
		}
		out = append(out, cli.Candidate{Value: h, Description: desc})
	}
	return out, nil
}
