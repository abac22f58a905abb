// Command chezmoi-sync: Capture local dotfile edits, rebase them onto the shared remote with jj, push, and apply what came in.
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/cli"
)

func main() { os.Exit(chezmoisync.Main(os.Args[1:], cli.OS())) }
