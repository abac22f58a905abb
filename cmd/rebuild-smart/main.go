// Command rebuild-smart: Rebuild NixOS from a flake in one command: upstream sync, dotfiles, secrets, optional update, switch, checks, commit.
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/rebuildsmart"
)

func main() { os.Exit(rebuildsmart.Main(os.Args[1:], cli.OS())) }
