// Command nix-collect-garbage is a test fake of nix 2.8's
// nix-collect-garbage without -d: it records the call, asks the real nix
// which store paths are dead (`nix-store --gc --print-dead`, read-only),
// and reports like the real one ("finding garbage collector roots...",
// "deleting garbage...", then "<N> store paths deleted, <size> freed" on
// stdout), but deletes nothing: the store is the machine's, shared with
// every other test running at the same time, and collecting it would pull
// their unrooted builds away. It refuses -d / --delete-old and
// --delete-older-than: rebuild-rollback must never let nix choose which
// generations go.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "nix-collect-garbage"

func main() {
	_, args := fakesys.Start(tool)
	for _, a := range args {
		switch {
		case a == "-d" || a == "--delete-old" || strings.HasPrefix(a, "--delete-older-than"):
			fakesys.Die(tool, 2, "fake: %s deletes generations by nix's rules; rebuild-rollback must delete them itself", a)
		case strings.HasPrefix(a, "-"):
			fakesys.Die(tool, 1, "error: unrecognised flag '%s'", a)
		}
	}
	fmt.Fprintln(os.Stderr, "finding garbage collector roots...")
	out, err := exec.Command("nix-store", "--gc", "--print-dead").Output()
	if err != nil {
		fakesys.Die(tool, 1, "error: nix-store --gc --print-dead: %v", err)
	}
	dead := strings.Count(string(out), "\n")
	fmt.Fprintln(os.Stderr, "deleting garbage...")
	fmt.Fprintf(os.Stderr, "fake: %d dead store path(s) left in place (the store is shared with the other tests)\n", dead)
	fmt.Println("0 store paths deleted, 0.00 MiB freed")
}
