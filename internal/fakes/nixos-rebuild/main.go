// Command nixos-rebuild is a test fake of nixos-rebuild for
//
//	nixos-rebuild switch|boot|test|build|dry-activate --flake FLAKE[#HOST] [--rollback]
//	    [--target-host H] [--build-host B] [--use-remote-sudo|--sudo]
//
// With --target-host the profile and the activation happen under
// <root>/targets/<host> (fakesys.TargetRoot) and a non-root ssh user needs
// --use-remote-sudo or --sudo, as on a real target.
//
// It builds with the real nix, makes a profile generation with the real
// nix-env (switch, boot; --rollback goes back one generation instead of
// building), runs switch-to-configuration and exits with its exit code
// (4: switched, some units failed), as the real script does. build leaves a
// ./result link. FAKE_NIXOS_REBUILD_FAIL=build|switch makes it fail there.
// It expects to be run as root (the suite runs it through sudo).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "nixos-rebuild"

func main() {
	root, args := fakesys.Start(tool)
	var verb, ref string
	rollback := false
	var remote fakesys.Remote
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--flake":
			i++
			if i < len(args) {
				ref = args[i]
			}
		case a == "--rollback":
			rollback = true
		case a == "--target-host" || a == "--build-host":
			i++
			if i >= len(args) {
				fakesys.Die(tool, 1, "%s needs a host", a)
			}
			if a == "--target-host" {
				remote.TargetHost = args[i]
			} else {
				remote.BuildHost = args[i]
			}
		case a == "--use-remote-sudo" || a == "--sudo":
			remote.Sudo = true
		case strings.HasPrefix(a, "-"):
			fakesys.Die(tool, 1, "unknown option '%s'", a)
		case verb == "":
			verb = a
		default:
			fakesys.Die(tool, 1, "unexpected argument '%s'", a)
		}
	}
	switch verb {
	case "switch", "boot", "test", "build", "dry-activate":
	default:
		fakesys.Die(tool, 1, "unknown action '%s' (usage: nixos-rebuild switch|boot|test|build|dry-activate --flake FLAKE#HOST)", verb)
	}
	var top string
	if rollback {
		if verb == "build" {
			fakesys.Die(tool, 1, "--rollback is not supported with build")
		}
		if err := fakesys.SwitchGeneration(root, 0); err != nil {
			fakesys.Die(tool, 1, "rolling back: %v", err)
		}
		t, err := fakesys.ProfileToplevel(root)
		if err != nil {
			fakesys.Die(tool, 1, "%v", err)
		}
		top = t
	} else {
		if ref == "" {
			fakesys.Die(tool, 1, "this fake needs --flake FLAKE#HOST")
		}
		flake, host := fakesys.SplitFlake(ref)
		if host == "" {
			host = fakesys.Hostname()
		}
		if fakesys.FailAt("FAKE_NIXOS_REBUILD_FAIL", "build") {
			fakesys.Die(tool, 1, "error: builder for '/nix/store/00000000000000000000000000000000-nixos-system.drv' failed with exit code 1")
		}
		t, err := fakesys.Build(tool, flake, host)
		if err != nil {
			fakesys.Die(tool, 1, "%v", err)
		}
		top = t
		if verb == "build" {
			_ = os.Remove("result")
			if err := os.Symlink(top, "result"); err != nil {
				fakesys.Die(tool, 1, "%v", err)
			}
			return
		}
		if remote.TargetHost != "" && verb != "build" {
			root = fakesys.EnterTarget(tool, root, remote, true)
		}
		if verb == "switch" || verb == "boot" {
			if err := fakesys.SetProfile(root, top); err != nil {
				fakesys.Die(tool, 1, "%v", err)
			}
		}
	}
	if fakesys.FailAt("FAKE_NIXOS_REBUILD_FAIL", "switch") {
		fakesys.Die(tool, 1, "error: activation script failed")
	}
	fmt.Fprintf(os.Stderr, "%s the configuration %s\n", verb, top)
	os.Exit(fakesys.Activate(top, verb))
}
