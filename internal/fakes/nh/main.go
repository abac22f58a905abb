// Command nh is a test fake of nh (https://github.com/nix-community/nh) for
// the subcommands the suite uses:
//
//	nh os switch|boot|test|build [FLAKE] [-H HOST] [--ask] [--dry] [-u]
//	    [--target-host H] [--build-host B]
//	nh os rollback [--to N]
//
// It builds the host's toplevel with the real nix, makes a profile
// generation with the real nix-env (switch, boot) and runs the toplevel's
// switch-to-configuration, through sudo when not root, like nh. FLAKE
// defaults to $NH_OS_FLAKE, then $NH_FLAKE. FAKE_NH_FAIL=build fails the
// build, FAKE_NH_FAIL=switch fails after the profile was set. An activation
// failure (switch-to-configuration exit 4 included) exits 1, as nh reports
// every activation error the same way. FAKE_NH_DELAY=2s sleeps before
// building (a slow build).
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "nh"

func main() {
	root := fakesys.Root(tool)
	args := os.Args[1:]
	fakesys.Record(root, tool, args)
	if len(args) < 2 || args[0] != "os" {
		fakesys.Die(tool, 2, "usage: nh os switch|boot|test|build|rollback ...")
	}
	verb := args[1]
	var flake, host string
	var ask, dry bool
	var remote fakesys.Remote
	to := 0
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-H" || a == "--hostname":
			i++
			if i < len(args) {
				host = args[i]
			}
		case a == "--to":
			i++
			if i < len(args) {
				to, _ = strconv.Atoi(args[i])
			}
		case a == "--target-host" || a == "--build-host":
			i++
			if i >= len(args) {
				fakesys.Die(tool, 2, "a value is required for '%s <HOST>'", a)
			}
			if a == "--target-host" {
				remote.TargetHost = args[i]
			} else {
				remote.BuildHost = args[i]
			}
		case a == "-a" || a == "--ask":
			ask = true
		case a == "-n" || a == "--dry":
			dry = true
		case a == "-u" || a == "--update":
			fakesys.Die(tool, 2, "fake nh: -u (update all inputs) is not supported by this fake: rebuild-smart must never pass it")
		case strings.HasPrefix(a, "-"):
			fakesys.Die(tool, 2, "unexpected argument '%s'", a)
		default:
			flake = a
		}
	}
	if verb == "rollback" {
		rollback(root, to, dry)
		return
	}
	switch verb {
	case "switch", "boot", "test", "build":
	default:
		fakesys.Die(tool, 2, "unrecognized subcommand '%s'", verb)
	}
	if flake == "" {
		flake = os.Getenv("NH_OS_FLAKE")
	}
	if flake == "" {
		flake = os.Getenv("NH_FLAKE")
	}
	if flake == "" {
		fakesys.Die(tool, 1, "no flake given and neither NH_OS_FLAKE nor NH_FLAKE is set")
	}
	flake, h := fakesys.SplitFlake(flake)
	if host == "" {
		host = h
	}
	if host == "" {
		host = fakesys.Hostname()
	}
	if d, err := time.ParseDuration(os.Getenv("FAKE_NH_DELAY")); err == nil {
		time.Sleep(d) // a slow build, for interrupt tests
	}
	if fakesys.FailAt("FAKE_NH_FAIL", "build") {
		fmt.Fprintln(os.Stderr, "error: builder for '/nix/store/00000000000000000000000000000000-nixos-system.drv' failed with exit code 1")
		os.Exit(1)
	}
	top, err := fakesys.Build(tool, flake, host)
	if err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	fmt.Fprintf(os.Stderr, "built %s\n", top)
	if verb == "build" || dry {
		return
	}
	if ask {
		fmt.Fprint(os.Stderr, "Apply the config? [y/N] ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
			fmt.Fprintln(os.Stderr, "Exiting...")
			return
		}
	}
	if remote.TargetHost != "" {
		// nh elevates on the target by itself.
		root = fakesys.EnterTarget(tool, root, remote, false)
	}
	if verb != "test" {
		if err := fakesys.SetProfile(root, top); err != nil {
			fakesys.Die(tool, 1, "setting the system profile: %v", err)
		}
	}
	if fakesys.FailAt("FAKE_NH_FAIL", "switch") {
		fakesys.Die(tool, 1, "Activation (%s) failed: error: activation script failed", verb)
	}
	if code := fakesys.Activate(top, verb); code != 0 {
		fakesys.Die(tool, 1, "Activation (%s) failed: switch-to-configuration exited with %d", verb, code)
	}
}

func rollback(root string, to int, dry bool) {
	if dry {
		fmt.Fprintln(os.Stderr, "dry run: not rolling back")
		return
	}
	if err := fakesys.SwitchGeneration(root, to); err != nil {
		fakesys.Die(tool, 1, "rolling back the profile: %v", err)
	}
	top, err := fakesys.ProfileToplevel(root)
	if err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	if code := fakesys.Activate(top, "switch"); code != 0 {
		fakesys.Die(tool, 1, "Activation (switch) failed: switch-to-configuration exited with %d", code)
	}
}
