// Command sudo is a test fake: it records its argv under the test root and
// runs the command as is (the tests already run with the rights they need).
// Leading options (-E, -n, --preserve-env=...) are accepted and ignored.
// With FAKE_SUDO_PASSWORD set it first asks for that password on the
// controlling terminal, as sudo does (/dev/tty, not stdin): without a
// terminal it fails like sudo ("a terminal is required"), and a wrong
// answer is refused.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

func main() {
	_, args := fakesys.Start("sudo")
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
	if want := os.Getenv("FAKE_SUDO_PASSWORD"); want != "" {
		askPassword(want)
	}
	fakesys.RunAndExit("sudo", exec.Command(args[0], args[1:]...), 1, args[0]+": command not found")
}

func askPassword(want string) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		fakesys.Die("sudo", 1, "a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper")
	}
	defer tty.Close()
	fmt.Fprint(tty, "[sudo] password for root: ")
	line, _ := bufio.NewReader(tty).ReadString('\n')
	fmt.Fprintln(tty)
	if strings.TrimSpace(line) != want {
		fakesys.Die("sudo", 1, "1 incorrect password attempt")
	}
}
