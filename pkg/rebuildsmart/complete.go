package rebuildsmart

import (
	"context"
	"os"
	"time"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/flake"
)

// CompleteFlags implements cli.Completer: --host completes from the
// flake's nixosConfigurations.
func (c *Command) CompleteFlags() []string { return []string{"host"} }

// completeEvalTimeout bounds the evaluation behind a TAB.
const completeEvalTimeout = 5 * time.Second

// Complete lists the nixosConfigurations of the flake --flake (or
// $NH_OS_FLAKE, the config, the current directory) names. A TAB runs it in
// whatever directory the shell is in, so it only evaluates: never a build
// (import-from-derivation off), never a flake.lock written, never longer
// than completeEvalTimeout.
func (c *Command) Complete(ctx context.Context, app *cli.App, _ string) ([]cli.Candidate, error) {
	cwd, _ := os.Getwd()
	if err := flake.CheckLocal(c.Flake, cwd); err != nil {
		return nil, err
	}
	ref := flake.ParseRef(c.Flake, cwd)
	if err := flake.Check(ref.Dir); err != nil {
		return nil, err
	}
	nix := &flake.Nix{Runner: app.Exec, Dir: ref.Dir, Env: []string{"GIT_OPTIONAL_LOCKS=0"}}
	hosts, err := nix.HostsWithoutBuilding(ctx, completeEvalTimeout)
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
