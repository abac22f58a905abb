// Command fake-switch-to-configuration is what a test toplevel's
// bin/switch-to-configuration execs: `fake-switch-to-configuration
// --toplevel <store path> switch|boot|test|dry-activate`. Like the real one:
// switch and test make <root>/run/current-system point at the toplevel,
// switch and boot update the boot entry (<root>/boot/default), dry-activate
// changes nothing; a config with the line "slow-activation" takes a second
// before the network changes; FAKE_UNITS_FAILED=a.service,b.service leaves those units
// failed (the fake systemctl lists them) and exits 4; FAKE_STC_FAIL=1 fails
// before activating (exit 1). Activating (switch, test) a system whose
// config holds the line "cut-network" cuts the machine's network (the fake
// ssh cannot reach it: <root>/run/fake-network-down); activating one
// without that line brings it back.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "switch-to-configuration"

func main() {
	root, args := fakesys.Start(tool)
	if len(args) != 3 || args[0] != "--toplevel" {
		fakesys.Die(tool, 1, "usage: switch-to-configuration switch|boot|test|dry-activate")
	}
	top, action := args[1], args[2]
	switch action {
	case "switch", "boot", "test", "dry-activate":
	default:
		fakesys.Die(tool, 1, "unknown action %q (usage: switch|boot|test|dry-activate)", action)
	}
	if action == "dry-activate" {
		fmt.Fprintf(os.Stderr, "would activate the configuration %s\n", top)
		return
	}
	if os.Getenv("FAKE_STC_FAIL") != "" {
		fakesys.Die(tool, 1, "error: activation script failed")
	}
	if action == "switch" || action == "boot" {
		if err := relink(filepath.Join(root, "boot", "default"), top); err != nil {
			fakesys.Die(tool, 1, "updating the boot loader: %v", err)
		}
		fmt.Fprintln(os.Stderr, "updating GRUB 2 menu...")
	}
	if action == "boot" {
		return
	}
	fmt.Fprintln(os.Stderr, "activating the configuration...")
	if err := relink(filepath.Join(root, "run", "current-system"), top); err != nil {
		fakesys.Die(tool, 1, "activating: %v", err)
	}
	network(root, top)
	failed := filepath.Join(root, fakesys.FailedUnitsFile)
	units := strings.FieldsFunc(os.Getenv("FAKE_UNITS_FAILED"), func(r rune) bool { return r == ',' || r == ' ' })
	if len(units) == 0 {
		_ = os.Remove(failed)
		return
	}
	if err := os.WriteFile(failed, []byte(strings.Join(units, "\n")+"\n"), 0o644); err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	for _, u := range units {
		fmt.Fprintf(os.Stderr, "warning: the following units failed: %s\n", u)
	}
	os.Exit(4)
}

// relink atomically points link at target (symlink to a temp name, rename).
func relink(link, target string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// network cuts or restores the machine's (fake) network as the activated
// configuration says: the line "cut-network" in its config file.
func network(root, top string) {
	down := filepath.Join(root, "run", "fake-network-down")
	conf, _ := os.ReadFile(filepath.Join(top, "config"))
	lines := strings.Split(string(conf), "\n")
	if slices.Contains(lines, "slow-activation") {
		// An activation that takes a while before the network changes:
		// connections made meanwhile are already open when it cuts.
		time.Sleep(time.Second)
	}
	for _, l := range lines {
		if strings.TrimSpace(l) == "cut-network" {
			fmt.Fprintln(os.Stderr, "restarting network-setup.service... (the new configuration cuts the network)")
			if err := os.WriteFile(down, nil, 0o644); err != nil {
				fakesys.Die(tool, 1, "%v", err)
			}
			return
		}
	}
	_ = os.Remove(down)
}
