package chezmoisync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/runner"
)

// A dry run never calls a step's run when the step changes something, so
// the only commands it starts are the queries of plans and read-only
// steps. dryGuard makes sure of it: in a dry run every command must be on
// a list of read-only invocations, whatever its Mutates tag says, so a
// query that forgot its tag (or a mistake in a plan) cannot push, commit
// or apply.
type dryGuard struct{ inner runner.Runner }

func guardRunner(app *cli.App) runner.Runner {
	if !app.DryRun {
		return app.Runner
	}
	return dryGuard{inner: app.Runner}
}

// Run implements runner.Runner.
func (g dryGuard) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	if c.Mutates || !(readOnly(c.Name, c.Args) || scratchMerge(c)) {
		return runner.Result{}, fmt.Errorf("dry run: refusing to run %s (it may change something)", c)
	}
	return g.inner.Run(ctx, c)
}

// readOnly reports whether argv is one of the read-only invocations the
// sync's queries use.
func readOnly(name string, args []string) bool {
	words := subcommand(args)
	first := ""
	if len(words) > 0 {
		first = words[0]
	}
	switch name {
	case "jj":
		switch first {
		case "log", "diff", "show":
			return true
		case "status":
			return slices.Contains(args, "--ignore-working-copy")
		case "resolve":
			return slices.Contains(args, "--list")
		case "op", "config", "file", "bookmark":
			return len(words) > 1 && slices.Contains([]string{"log", "list", "get", "path", "show"}, words[1])
		}
	case "chezmoi":
		switch first {
		case "status", "managed", "source-path", "dump-config", "cat", "diff", "verify", "data":
			return true
		case "state":
			return len(words) > 1 && (words[1] == "get-bucket" || words[1] == "dump" || words[1] == "get")
		}
	case "git":
		switch first {
		case "ls-remote", "ls-files", "rev-list", "cat-file", "rev-parse", "show", "log", "diff":
			return true
		case "merge-file":
			return slices.Contains(args, "-p")
		case "config":
			return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--get") })
		case "remote":
			return len(words) > 1 && words[1] == "get-url"
		}
	}
	return false
}

// scratchMerge: git merge-tree writing its objects into a throw-away
// directory (GIT_OBJECT_DIRECTORY), the repository's own objects only read
// as an alternate: how the conflicted files of a parked conflict are
// listed (showconflicts.MergeConflicts).
func scratchMerge(c runner.Cmd) bool {
	words := subcommand(c.Args)
	if c.Name != "git" || len(words) == 0 || words[0] != "merge-tree" {
		return false
	}
	return slices.ContainsFunc(c.Env, func(kv string) bool {
		dir, ok := strings.CutPrefix(kv, "GIT_OBJECT_DIRECTORY=")
		return ok && dir != ""
	})
}

// subcommand drops global flags (and the values of those that take one)
// from the front of argv and returns the words from the subcommand on.
func subcommand(args []string) []string {
	takesValue := map[string]bool{"--config": true, "--source": true, "-R": true, "--repository": true, "-C": true, "--at-op": true, "--git-dir": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return args[i:]
		}
		if takesValue[a] {
			i++
		}
	}
	return nil
}
