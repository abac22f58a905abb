// Command systemd-run is a test fake of systemd-run for transient service
// units: `systemd-run [--unit=NAME|-u NAME] [--collect|-G] [--quiet|-q]
// [--description=TEXT] [-p|--property=P] [--service-type=T] [--no-block]
// [-E|--setenv=VAR=VALUE] [--] COMMAND [ARGS...]`. Like systemd-run
// without --wait it starts COMMAND as its own service, detached from the
// caller (a new session: a dropped ssh connection does not stop it), and
// returns at once, printing "Running as unit: NAME.service" unless
// --quiet. The unit's environment is not the caller's, as with systemd:
// PATH, the test root (NIXDOTS_SYSTEM_ROOT, NIXDOTS_SUDO), the tests'
// FAKE_* knobs and the -E variables. Its pid is kept in
// <root>/run/fake-units/NAME.service.pid and its output in .log, so the
// fake systemctl can tell whether it is active and stop it; starting a
// unit whose name is active fails like systemd ("Unit NAME.service was
// already loaded or has a fragment file.", exit 1).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "systemd-run"

func main() {
	root, args := fakesys.Start(tool)
	unit, quiet, env, argv := parse(args)
	if len(argv) == 0 {
		fakesys.Die(tool, 1, "Command line to execute required.")
	}
	if unit == "" {
		unit = fmt.Sprintf("run-u%d", os.Getpid())
	}
	if !strings.HasSuffix(unit, ".service") {
		unit += ".service"
	}
	dir := filepath.Join(root, fakesys.UnitsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	if fakesys.UnitActive(root, unit) {
		fakesys.Die(tool, 1, "Failed to start transient service unit: Unit %s was already loaded or has a fragment file.", unit)
	}
	log, err := os.Create(filepath.Join(dir, unit+".log"))
	if err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, "/"
	cmd.Env = append(unitEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fakesys.Die(tool, 1, "Failed to start transient service unit: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, unit+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		fakesys.Die(tool, 1, "%v", err)
	}
	_ = cmd.Process.Release()
	if !quiet {
		fmt.Fprintf(os.Stderr, "Running as unit: %s\n", unit)
	}
}

func parse(args []string) (unit string, quiet bool, env, argv []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() string {
			if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
				return v
			}
			i++
			if i >= len(args) {
				fakesys.Die(tool, 1, "option '%s' requires an argument", a)
			}
			return args[i]
		}
		switch {
		case a == "--":
			return unit, quiet, env, args[i+1:]
		case a == "-u" || strings.HasPrefix(a, "--unit"):
			unit = value()
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "-E" || strings.HasPrefix(a, "--setenv"):
			env = append(env, value())
		case a == "-p" || strings.HasPrefix(a, "--property") || strings.HasPrefix(a, "--description") || strings.HasPrefix(a, "--service-type"):
			_ = value()
		case a == "-G" || a == "--collect" || a == "--no-block" || a == "--no-ask-password":
		case a == "--wait" || a == "--pipe" || a == "-P" || a == "-t" || a == "--pty":
			fakesys.Die(tool, 1, "fake: %s is not simulated (the suite starts units detached)", a)
		case strings.HasPrefix(a, "-"):
			fakesys.Die(tool, 1, "unrecognized option '%s'", a)
		default:
			return unit, quiet, env, args[i:]
		}
	}
	return unit, quiet, env, nil
}

// unitEnv is what a transient unit gets here instead of systemd's
// manager environment: enough to find the fakes and the test root.
func unitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "NIXDOTS_SYSTEM_ROOT" || k == "NIXDOTS_SUDO" || k == "NIX_CONFIG" || strings.HasPrefix(k, "FAKE_") {
			env = append(env, kv)
		}
	}
	return env
}
