// Command nh is a test fake of nh 4 (https://github.com/nix-community/nh)
// for the subcommands the suite uses, modelled on nh's source
// (crates/nh-nixos/src/nixos.rs, args.rs):
//
//	nh os switch|boot|test|build [INSTALLABLE] [-H|--hostname HOST] [-a|--ask]
//	    [-n|--dry] [-R|--bypass-root-check] [-d|--diff MODE] [--no-nom]
//	    [--target-host H] [--build-host B] [-- NIX_BUILD_ARGS...]
//	nh os rollback [--to N] [-R|--bypass-root-check] [-n|--dry]
//
// As nh does it: INSTALLABLE is a flake reference (default $NH_OS_FLAKE,
// then $NH_FLAKE; `#HOST` or -H picks the configuration) or a store path;
// the system is evaluated and built once, with the real nix
// (`nix build <attr> --out-link <tmp>/result`); the difference to
// /run/current-system is printed (nh uses dix in-process; the fake runs
// `nix store diff-closures`); with --ask (or NH_ASK) it asks "Apply the
// config?" on the terminal, fails with "The input device is not a TTY" when
// stdin is not one, and with "User rejected the new config" (exit 1) on
// anything but yes; then it activates: `switch-to-configuration test`
// (switch, test), `nix build --no-link --profile <system profile> <path>`
// and `switch-to-configuration boot` (switch, boot), elevated with sudo when
// not root. Run as root it refuses, as nh does, unless -R or
// NH_BYPASS_ROOT_CHECK is given: `nh os rollback` too. Errors are printed the way color-eyre
// reports them ("Error: \n   0: ..."), exit 1.
//
// Test knobs: FAKE_NH_FAIL=build fails the build, FAKE_NH_FAIL=switch fails
// after the profile was set; FAKE_NH_DELAY=2s sleeps before building.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
	"golang.org/x/sys/unix"
)

const tool = "nh"

type opts struct {
	verb, installable, host, diff string
	ask, dry, bypassRoot          bool
	to                            int
	remote                        fakesys.Remote
	extra                         []string
}

func main() {
	root, args := fakesys.Start(tool)
	if len(args) < 2 || args[0] != "os" {
		fakesys.Die(tool, 2, "usage: nh os switch|boot|test|build|rollback ...")
	}
	o := parse(args[1:])
	switch o.verb {
	case "switch", "boot", "test", "build", "rollback":
	default:
		fakesys.Die(tool, 2, "unrecognized subcommand '%s'", o.verb)
	}
	// nh checks this first for every `nh os` rebuild and for rollback
	// (nixos.rs: OsRebuildArgs::rebuild, OsRollbackArgs::rollback).
	if os.Geteuid() == 0 && !o.bypassRoot {
		fail("Don't run nh os as root. It will escalate its privileges internally as needed.")
	}
	if o.verb == "rollback" {
		rollback(root, o.to, o.dry)
		return
	}
	if d, err := time.ParseDuration(os.Getenv("FAKE_NH_DELAY")); err == nil {
		time.Sleep(d) // a slow build, for interrupt tests
	}
	info("Building NixOS configuration")
	top := build(o)
	if o.verb != "build" && !o.dry {
		showDiff(root, top, o)
	}
	if o.verb == "build" || o.dry {
		if o.ask {
			warn("--ask has no effect as dry run was requested")
		}
		return
	}
	if o.ask {
		confirm()
	}
	activate(root, top, o)
}

func parse(args []string) opts {
	o := opts{verb: args[0], ask: boolish(os.Getenv("NH_ASK")), bypassRoot: boolish(os.Getenv("NH_BYPASS_ROOT_CHECK")), diff: "auto"}
	value := func(i *int, flag string) string {
		*i++
		if *i >= len(args) {
			fakesys.Die(tool, 2, "error: a value is required for '%s <VALUE>' but none was supplied", flag)
		}
		return args[*i]
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.extra = append(o.extra, args[i+1:]...)
			i = len(args)
		case a == "-H" || a == "--hostname":
			o.host = value(&i, a)
		case a == "--to":
			o.to, _ = strconv.Atoi(value(&i, a))
		case a == "--target-host":
			o.remote.TargetHost = value(&i, a)
		case a == "--build-host":
			o.remote.BuildHost = value(&i, a)
		case a == "-d" || a == "--diff":
			o.diff = value(&i, a)
		case a == "-a" || a == "--ask":
			o.ask = true
		case a == "-n" || a == "--dry":
			o.dry = true
		case a == "-R" || a == "--bypass-root-check":
			o.bypassRoot = true
		case a == "--no-nom":
		case a == "-u" || a == "--update":
			fakesys.Die(tool, 2, "fake nh: -u (update all inputs) is not supported by this fake: rebuild-smart must never pass it")
		case strings.HasPrefix(a, "-"):
			fakesys.Die(tool, 2, "error: unexpected argument '%s' found", a)
		default:
			o.installable = a
		}
	}
	return o
}

func boolish(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "y", "on":
		return true
	}
	return false
}

// build evaluates and builds the installable once into <tmp>/result and
// returns the store path.
func build(o opts) string {
	if fakesys.FailAt("FAKE_NH_FAIL", "build") {
		fmt.Fprintln(os.Stderr, "error: builder for '/nix/store/00000000000000000000000000000000-nixos-system.drv' failed with exit code 1")
		fail("Failed to build configuration", "Command exited with status Exited(1)")
	}
	ref := o.installable
	if ref == "" {
		ref = os.Getenv("NH_OS_FLAKE")
	}
	if ref == "" {
		ref = os.Getenv("NH_FLAKE")
	}
	if ref == "" {
		fail("No installable was passed or set in environment variables NH_OS_FLAKE or NH_FLAKE")
	}
	installable := ref
	if p, err := filepath.EvalSymlinks(ref); err != nil || !strings.HasPrefix(p, "/nix/store/") {
		flake, host := fakesys.SplitFlake(ref)
		if o.host != "" {
			host = o.host
		}
		if host == "" {
			host = fakesys.Hostname()
		}
		installable = flake + "#" + fakesys.Attr(host)
	}
	dir, err := os.MkdirTemp("", "nh-os")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "result")
	cmd := exec.Command("nix", append([]string{"build", installable, "--out-link", out}, o.extra...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail("Failed to build configuration", fmt.Sprintf("Command exited with status %v", err))
	}
	top, err := filepath.EvalSymlinks(out)
	if err != nil {
		fail("Failed to resolve output path to actual store path", err.Error())
	}
	return top
}

// showDiff prints what changes, as nh's dix diff does before activating.
func showDiff(root, top string, o opts) {
	cur := filepath.Join(root, "run", "current-system")
	if o.diff == "never" || o.remote.TargetHost != "" {
		return
	}
	if _, err := os.Stat(cur); err != nil {
		warn("current profile /run/current-system does not exist, skipping dix diffing")
		return
	}
	fmt.Fprintf(os.Stderr, "<<< /run/current-system\n>>> %s\n\n", top)
	cmd := exec.Command("nix", "store", "diff-closures", cur, top)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	_ = cmd.Run()
}

// confirm is nh's inquire prompt: a terminal is required.
func confirm() {
	if _, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err != nil {
		fail("The input device is not a TTY")
	}
	fmt.Fprint(os.Stderr, "? Apply the config? (y/N) ")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
		fmt.Fprintln(os.Stderr)
		fail("User rejected the new config")
	}
}

// activate is nh's activate_rebuilt_config for a local or remote target.
func activate(root, top string, o opts) {
	if o.remote.TargetHost != "" {
		root = fakesys.EnterTarget(tool, root, o.remote, false)
	}
	if o.verb == "switch" || o.verb == "test" {
		info("Activating configuration")
		if code := fakesys.Activate(top, "test"); code != 0 {
			fail("Activation (test) failed", fmt.Sprintf("switch-to-configuration exited with %d", code))
		}
	}
	if o.verb == "test" {
		return
	}
	if err := fakesys.BuildProfile(root, top); err != nil {
		fail("Failed to set system profile", err.Error())
	}
	if fakesys.FailAt("FAKE_NH_FAIL", "switch") {
		fail("Bootloader activation failed", "error: activation script failed")
	}
	info("Adding configuration to bootloader")
	if code := fakesys.Activate(top, "boot"); code != 0 {
		fail("Bootloader activation failed", fmt.Sprintf("switch-to-configuration exited with %d", code))
	}
}

func rollback(root string, to int, dry bool) {
	if dry {
		fmt.Fprintln(os.Stderr, "dry run: not rolling back")
		return
	}
	if err := fakesys.SwitchGeneration(root, to); err != nil {
		fail("Failed to set system profile", err.Error())
	}
	top, err := fakesys.ProfileToplevel(root)
	if err != nil {
		fail(err.Error())
	}
	if code := fakesys.Activate(top, "switch"); code != 0 {
		fail("Activation (switch) failed", fmt.Sprintf("switch-to-configuration exited with %d", code))
	}
}

func info(msg string) { fmt.Fprintf(os.Stderr, "> %s\n", msg) }
func warn(msg string) { fmt.Fprintf(os.Stderr, "! %s\n", msg) }

// fail reports an error chain the way nh's color-eyre hook does and exits 1.
func fail(msgs ...string) {
	fmt.Fprintln(os.Stderr, "Error: ")
	for i, m := range msgs {
		fmt.Fprintf(os.Stderr, "   %d: %s\n", i, m)
	}
	fmt.Fprintln(os.Stderr, "\nLocation:\n   crates/nh-nixos/src/nixos.rs")
	os.Exit(1)
}
