// Command chezmoi-status: Show the state of dotfile sync: last run, pending pushes, incoming commits, parked conflicts, drift.
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/chezmoistatus"
	"github.com/nixdots/nixdots/pkg/cli"
)

func main() { os.Exit(chezmoistatus.Main(os.Args[1:], cli.OS())) }
