// Package rebuildsmart implements rebuild-smart: the whole NixOS rebuild in
// one command. The work is a list of phases, one file each (prepare.go,
// upstream.go, dotfiles.go, inputs.go, rebuild.go, activate.go,
// postchecks.go, commit.go), run by a small engine (pipeline.go) that times
// them, runs phases 2 and 3 in parallel and gives the hooks, notifications
// and metrics one place to attach. The run's state (run.go) is split into
// the flake, the system, the repository and the outcome.
package rebuildsmart

import (
	"fmt"
	"time"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// Spec describes the binary.
var Spec = cli.Spec{
	Name: "rebuild-smart",
	Description: "Rebuild NixOS from a flake in one command: upstream sync, dotfiles, secrets, optional update, switch, checks, commit. " +
		"rebuild-smart brings the flake repository up to date with its upstream (git or jj) while chezmoi-sync syncs " +
		"the dotfiles, updates the secrets input, updates other inputs when asked, evaluates and builds the system once " +
		"(not at all when nothing it depends on changed), shows what changes, activates that system the way " +
		"nixos-rebuild does (sudo when not root), checks secrets and failed units, then commits and pushes the tree " +
		"it built (never a file that looks like a secret). " +
		"Each phase prints one line; a failure says what was kept and what to do next. Every build is recorded, " +
		"so rebuild-rollback can go back to it.",
	Section: "rebuildSmart",
	Examples: []cli.Example{
		{Command: "rebuild-smart", Explain: "Sync, build and switch the flake in the current directory (or $NH_OS_FLAKE) for this host."},
		{Command: "rebuild-smart --dry-run", Explain: "Print the plan: the commands that would change something; only read-only queries run."},
		{Command: "rebuild-smart -u --stale 7d", Explain: "Update the inputs not updated for a week, then rebuild."},
		{Command: "rebuild-smart --boot --offline", Explain: "Make the new system the boot default without touching the network."},
		{Command: "rebuild-smart boot --hostname web1", Explain: "The same words as nh os boot -H web1 (or nixos-rebuild boot)."},
		{Command: "rebuild-smart --ask -- --show-trace", Explain: "Show what changes and ask before activating; arguments after -- go to nix build."},
		{Command: "rebuild-smart --rollback-on-failure", Explain: "Put the previous generation back when failed units, missing secrets or a health check follow the switch (exit 13)."},
		{Command: "rebuild-smart --host web1 --target-host root@web1", Explain: "Build here, activate on another machine over ssh; it rolls back by itself unless this machine confirms within 60s."},
		{Command: "rebuild-smart --unattended --json", Explain: "For a timer: no prompts, step aside for a manual rebuild, one JSON record on stdout."},
	},
	ExitCodes: []exitcode.Use{
		{Code: exitcode.OK, Meaning: "rebuilt, nothing to switch, or declined at the --ask prompt"},
		{Code: exitcode.Failure},
		{Code: exitcode.Usage},
		{Code: exitcode.Locked, Meaning: "another rebuild-smart or rebuild-rollback holds the rebuild lock, or --unattended stepped aside for a manual rebuild"},
		{Code: exitcode.UnitsFailed, Meaning: "switched, but some systemd units failed (systemctl --failed)"},
		{Code: exitcode.Vetoed, Meaning: "a pre-rebuild hook refused the run; nothing was changed"},
		{Code: exitcode.Unsafe},
		{Code: exitcode.RolledBack, Meaning: "rolled back: with --rollback-on-failure the new system failed its post-checks (failed units, missing secrets, a health check) or its activation and the previous generation runs again; or a --target-host activation was not confirmed in time and the target rolls back by itself"},
		{Code: exitcode.Interrupted},
	},
}

// Duration is a time.Duration that also accepts days and weeks ("7d", "2w").
type Duration = cli.Duration

// ParseDuration is time.ParseDuration plus the d (24h) and w (7d) units.
func ParseDuration(s string) (time.Duration, error) { return cli.ParseDuration(s) }

// Command is the kong model of rebuild-smart.
type Command struct {
	cli.Globals
	cli.DryRunFlag
	cli.ReadStateFlag

	Flake string `name:"flake" group:"repo" short:"f" placeholder:"DIR" env:"REBUILD_SMART_FLAKE,NH_OS_FLAKE,NH_FLAKE" config:"flake" help:"Flake repository, a local directory (DIR or DIR#HOST; default: the current directory). A HOST here counts as --host at the same level: on the command line it beats the environment and the config file."`
	Host  string `name:"host" group:"repo" short:"H" aliases:"hostname" placeholder:"NAME" env:"REBUILD_SMART_HOST" config:"host" help:"nixosConfigurations attribute to build (default: the host name; --hostname as in nh). It must agree with a DIR#HOST given at the same level."`

	// Action is nh's and nixos-rebuild's habit: `rebuild-smart boot` is
	// `rebuild-smart --boot`.
	Action string `arg:"" optional:"" placeholder:"switch|boot|test|build" help:"What to do with the new system, as in nh os / nixos-rebuild (default switch; the same as --boot, --test, --build)."`

	SkipUpstream bool `name:"skip-upstream" group:"phases" help:"Do not fetch and rebase the flake repository."`
	SkipDotfiles bool `name:"skip-dotfiles" group:"phases" help:"Do not run chezmoi-sync."`
	SkipSecrets  bool `name:"skip-secrets" group:"phases" help:"Do not update the secrets input."`
	SkipUpdate   bool `name:"skip-update" group:"update" help:"Never update flake inputs (overrides --update and updateBeforeRebuild)."`
	Update       bool `name:"update" group:"update" short:"u" env:"REBUILD_SMART_UPDATE_BEFORE_REBUILD" config:"updateBeforeRebuild" help:"Update flake inputs before building (all, or --update-input, or --stale)."`

	UpdateInput []string `name:"update-input" group:"update" placeholder:"NAME" help:"Update only this input (repeatable; implies --update)."`
	Stale       Duration `name:"stale" group:"update" placeholder:"DURATION" help:"Update only inputs last modified longer ago than DURATION, e.g. 7d (implies --update)."`
	StaleAfter  Duration `name:"stale-after" group:"update" placeholder:"DURATION" env:"REBUILD_SMART_STALE_AFTER" config:"staleAfter" help:"Default for --stale when updating (config staleAfter)."`

	SecretsInput   string   `name:"secrets-input" group:"secrets" placeholder:"NAME" default:"nix-secrets" env:"REBUILD_SMART_SECRETS_INPUT" config:"secretsInput" help:"Flake input updated on every online rebuild."`
	SecretsTimeout Duration `name:"secrets-timeout" group:"secrets" placeholder:"DURATION" default:"60s" help:"Time limit for the secrets update." env:"REBUILD_SMART_SECRETS_TIMEOUT" config:"secretsTimeout"`
	SecretsPath    string   `name:"secrets-path" group:"secrets" placeholder:"PATH" default:"/run/secrets" help:"Where sops-nix puts decrypted secrets (checked after the switch)." env:"REBUILD_SMART_SECRETS_PATH" config:"secretsPath"`

	Offline      bool `name:"offline" group:"phases" env:"REBUILD_SMART_OFFLINE_MODE" config:"offlineMode" help:"Skip every network phase."`
	SyncDotfiles bool `name:"sync-dotfiles" group:"phases" negatable:"" default:"true" env:"REBUILD_SMART_SYNC_DOTFILES" config:"syncDotfiles" help:"Run chezmoi-sync in parallel with the upstream sync."`
	AutoCommit   bool `name:"auto-commit" group:"commit" negatable:"" default:"true" env:"REBUILD_SMART_AUTO_COMMIT" config:"autoCommit" help:"Commit the tree the build used (its tracked changes, the files added for it, flake.lock after an update; never a file that looks like a secret) after a good switch."`
	AutoPush     bool `name:"auto-push" group:"commit" negatable:"" default:"true" env:"REBUILD_SMART_AUTO_PUSH" config:"autoPush" help:"Push after committing (offline: next time)."`
	Tag          bool `name:"tag" group:"commit" negatable:"" help:"Tag the built commit rebuild/<host>/<generation>." env:"REBUILD_SMART_TAG" config:"tag"`

	Boot  bool `name:"boot" group:"activate" xor:"mode" help:"Make the new generation the boot default without activating it."`
	Test  bool `name:"test" group:"activate" xor:"mode" help:"Activate without making it the boot default."`
	Build bool `name:"build" group:"activate" xor:"mode" help:"Only build; activate nothing."`

	Ask               bool `name:"ask" group:"activate" help:"Ask before activating."`
	ForceSwitch       bool `name:"force-switch" group:"activate" help:"Activate even when the new system equals /run/current-system."`
	ForceEval         bool `name:"force-eval" group:"activate" help:"Evaluate the system even when nothing it depends on changed since it was last built."`
	RollbackOnFailure bool `name:"rollback-on-failure" group:"activate" negatable:"" help:"When the activation or the post-checks fail (failed units, missing secrets, a health check), put the previous generation back and exit 13." env:"REBUILD_SMART_ROLLBACK_ON_FAILURE" config:"rollbackOnFailure"`

	// Fleet and unattended use (docs/fleet.md).
	Unattended      bool     `name:"unattended" group:"fleet" help:"Run for a timer: no prompts, boot instead of switch when unattended.boot is set or switch inhibitors changed, step aside for a running manual rebuild."`
	RandomizedDelay Duration `name:"randomized-delay" group:"fleet" placeholder:"DURATION" env:"REBUILD_SMART_RANDOMIZED_DELAY" config:"unattended.randomizedDelay" help:"With --unattended, first sleep a random time below DURATION."`
	TargetHost      string   `name:"target-host" group:"fleet" placeholder:"[USER@]HOST" help:"Activate the new system on this machine over ssh (needs --host)."`
	BuildHost       string   `name:"build-host" group:"fleet" placeholder:"[USER@]HOST" help:"Build the new system on this machine over ssh."`
	ConfirmTimeout  Duration `name:"confirm-timeout" group:"fleet" placeholder:"DURATION" default:"60s" env:"REBUILD_SMART_CONFIRM_TIMEOUT" config:"confirmTimeout" help:"With --target-host: the target activates the new system in a transient unit and rolls back by itself unless this machine confirms over a new ssh connection within DURATION (0: nh or nixos-rebuild switch it, unconfirmed)."`
	MetricsFile     string   `name:"metrics-file" group:"monitor" placeholder:"PATH" env:"REBUILD_SMART_METRICS_FILE" config:"metricsFile" help:"Write Prometheus metrics (node_exporter textfile format) to PATH after every run."`

	// Hooks, when set (by a test or a later feature), is called around
	// every phase and at the end.
	Hooks Hooks `kong:"-"`
	// NixArgs are the arguments after `--`, passed to nix build (and to nh
	// or nixos-rebuild for a remote target): `rebuild-smart -- --show-trace`.
	NixArgs []string `kong:"-"`

	// Phases replaces Pipeline() when set (benchmarks, tests).
	Phases []Stage `kong:"-"`
}

// Main runs rebuild-smart with args and returns its exit code. Arguments
// after the first `--` go to nix, as with nh and nixos-rebuild.
func Main(args []string, env cli.Env) int {
	c := &Command{}
	for i, a := range args {
		if a == "--" {
			c.NixArgs = append([]string{}, args[i+1:]...)
			args = args[:i]
			break
		}
	}
	return cli.Main(Spec, c, args, env)
}

// ModeBuild is the action that builds and activates nothing.
const ModeBuild = "build"

// Mode is the action: switch (default), boot, test or build, from the
// flags or the positional action (they must agree).
func (c *Command) Mode() (string, error) {
	flag := ""
	switch {
	case c.Boot:
		flag = nixsys.ActionBoot
	case c.Test:
		flag = nixsys.ActionTest
	case c.Build:
		flag = ModeBuild
	}
	switch c.Action {
	case "":
	case nixsys.ActionSwitch, nixsys.ActionBoot, nixsys.ActionTest, ModeBuild:
		if flag != "" && flag != c.Action {
			return "", exitcode.UsageError(fmt.Errorf("action %q and --%s contradict each other", c.Action, flag))
		}
		return c.Action, nil
	default:
		return "", exitcode.UsageError(fmt.Errorf("unknown action %q: expected switch, boot, test or build", c.Action))
	}
	if flag == "" {
		return nixsys.ActionSwitch, nil
	}
	return flag, nil
}
