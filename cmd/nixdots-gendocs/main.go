// Command nixdots-gendocs writes the suite's shell completions, man pages and
// generated configuration reference: go run ./cmd/nixdots-gendocs -out .
package main

import (
	"os"

	"github.com/nixdots/nixdots/pkg/gendocs"
)

func main() { os.Exit(gendocs.Main(os.Args[1:], os.Stdout, os.Stderr)) }
