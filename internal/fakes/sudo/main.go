// Command sudo is a test fake: it records its argv under the test root and
// runs the command as is (the tests already run with the rights they need).
// Leading options (-E, -n, --preserve-env=...) are accepted and ignored.
package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

func main() {
	root := fakesys.Root("sudo")
	args := os.Args[1:]
	fakesys.Record(root, "sudo", args)
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "--" {
			args = args[1:]
			break
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fakesys.Die("sudo", 1, "usage: sudo command [args...]")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	default:
		fakesys.Die("sudo", 1, "%s: command not found", args[0])
	}
}
