package rollback

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/runner"
)

// System switch methods, in order of preference.
const (
	methodNH       = "nh"            // nh os rollback --to N (nh elevates itself)
	methodRollback = "nixos-rebuild" // nixos-rebuild switch --rollback, for the previous generation
	methodProfile  = "profile"       // nix-env --switch-generation N + its switch-to-configuration
)

// systemPlan is how the system gets to the target generation.
type systemPlan struct {
	From      int          `json:"from_generation"`
	To        int          `json:"to_generation"`
	Toplevel  string       `json:"toplevel"`
	Method    string       `json:"method,omitempty"`
	Commands  []string     `json:"commands,omitempty"`
	Unchanged bool         `json:"unchanged"` // already running it
	cmds      []runner.Cmd // for nh and nixos-rebuild; profile goes through nixsys
}

func planSystem(app envLooker, sys *nixsys.System, v View, b Build) systemPlan {
	p := systemPlan{From: v.Current(), To: b.Generation, Toplevel: b.Toplevel}
	if v.ProfileGen == b.Generation && v.RunningToplevel == b.Toplevel {
		p.Unchanged = true
		return p
	}
	previous := 0
	for n := range v.Links {
		if n < v.ProfileGen && n > previous {
			previous = n
		}
	}
	switch {
	case app.has("nh"):
		p.Method = methodNH
		args := []string{"os", "rollback", "--to", strconv.Itoa(b.Generation)}
		if app.root {
			// nh refuses root ("Don't run nh os as root") unless told that
			// it is meant: it would otherwise call sudo itself.
			args = append(args, "--bypass-root-check")
		}
		p.cmds = []runner.Cmd{{Name: "nh", Args: args, Mutates: true}}
	case b.Generation == previous && app.has("nixos-rebuild"):
		p.Method = methodRollback
		c := runner.Cmd{Name: "nixos-rebuild", Args: []string{"switch", "--rollback"}, Mutates: true}
		if sys.Sudo {
			c = runner.Cmd{Name: "sudo", Args: append([]string{c.Name}, c.Args...), Mutates: true}
		}
		p.cmds = []runner.Cmd{c}
	default:
		p.Method = methodProfile
		p.cmds = []runner.Cmd{sys.SetProfileCmd(b.Generation), sys.SwitchCmd(b.Toplevel, nixsys.ActionSwitch)}
	}
	for _, c := range p.cmds {
		p.Commands = append(p.Commands, c.String())
	}
	return p
}

// runSystem switches. unitsFailed means the switch happened but some units
// failed (switch-to-configuration's exit code 4, passed through by nh and
// nixos-rebuild).
func runSystem(ctx context.Context, r runner.Runner, sys *nixsys.System, p systemPlan) (unitsFailed bool, err error) {
	if p.Unchanged {
		return false, nil
	}
	if p.Method == methodProfile {
		_, err = sys.Activate(ctx, p.To, nixsys.ActionSwitch)
	} else {
		for _, c := range p.cmds {
			if _, err = r.Run(ctx, c); err != nil {
				break
			}
		}
	}
	// The result is what counts: the profile and the running system must
	// be the target now. A failed command that still got there is an
	// activation that reported errors (switch-to-configuration's exit 4,
	// which nh reports as a plain failure): switched, with failed units.
	g, gerr := sys.CurrentGeneration()
	running, rerr := sys.CurrentSystem()
	if err != nil {
		if gerr != nil || rerr != nil || g.Number != p.To || running != p.Toplevel {
			return false, err
		}
		return true, nil
	}
	switch {
	case gerr != nil:
		return unitsFailed, fmt.Errorf("after the switch: %w", gerr)
	case g.Number != p.To:
		return unitsFailed, fmt.Errorf("after %s the system profile points at generation %d, not %d", p.Method, g.Number, p.To)
	case rerr != nil:
		return unitsFailed, fmt.Errorf("after the switch: %w", rerr)
	case running != p.Toplevel:
		return unitsFailed, fmt.Errorf("after %s /run/current-system is %s, not %s", p.Method, running, p.Toplevel)
	}
	return unitsFailed, nil
}

// envLooker answers "is this tool installed" from the run's own PATH, and
// whether the run is root (nh needs to be told then).
type envLooker struct {
	environ []string
	root    bool
}

func (e envLooker) has(name string) bool {
	_, err := runner.LookPath(name, e.environ)
	return err == nil
}
