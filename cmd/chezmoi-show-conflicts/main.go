// Command chezmoi-show-conflicts: List conflicted dotfile commits and files, with both sides and the commands to resolve them.
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/showconflicts"
)

func main() { os.Exit(showconflicts.Main(os.Args[1:], cli.OS())) }
