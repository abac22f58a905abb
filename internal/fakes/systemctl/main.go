// Command systemctl is a test fake. `--failed` / `list-units --failed` list
// the units the last fake activation left failed (in the format of
// `systemctl --failed --no-legend --plain`); `is-system-running` prints
// "degraded" (exit 1) when there are any, else "running"; `is-active
// UNIT` and `stop UNIT` know the fake systemd-run's transient units
// (active: exit 0, else "inactive", exit 3; stop kills the unit's
// processes); start, restart and the rest are recorded and succeed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

func main() {
	root, args := fakesys.Start("systemctl")
	data, _ := os.ReadFile(filepath.Join(root, fakesys.FailedUnitsFile))
	units := strings.Fields(string(data))
	switch {
	case slices.Contains(args, "--failed") || slices.Contains(args, "--state=failed"):
		legend := !slices.Contains(args, "--no-legend")
		if legend {
			fmt.Println("  UNIT LOAD ACTIVE SUB DESCRIPTION")
		}
		for _, u := range units {
			fmt.Printf("%s loaded failed failed %s\n", u, strings.TrimSuffix(u, ".service"))
		}
		if legend {
			fmt.Printf("\n%d loaded units listed.\n", len(units))
		}
	case len(args) >= 2 && args[0] == "is-active":
		if fakesys.UnitActive(root, args[1]) {
			fmt.Println("active")
			return
		}
		fmt.Println("inactive")
		os.Exit(3)
	case len(args) >= 2 && args[0] == "stop":
		for _, u := range args[1:] {
			fakesys.StopUnit(root, u)
		}
	case slices.Contains(args, "is-system-running"):
		if len(units) > 0 {
			fmt.Println("degraded")
			os.Exit(1)
		}
		fmt.Println("running")
	}
}
