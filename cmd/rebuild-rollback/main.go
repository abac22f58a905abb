// Command rebuild-rollback: Go back to an earlier successful build, system and repository, without losing uncommitted work.
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/rollback"
)

func main() { os.Exit(rollback.Main(os.Args[1:], cli.OS())) }
