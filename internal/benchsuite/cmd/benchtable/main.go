// Command benchtable reads `go test -bench` output on stdin and prints the
// suite's ratios as one table (scripts/bench pipes into it). -all adds the
// absolute figures (milliseconds, subprocess counts) after the ratios.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nixdots/nixdots/internal/benchsuite"
)

func main() {
	all := flag.Bool("all", false, "also print the non-ratio metrics")
	flag.Parse()
	ms, err := benchsuite.Parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(ms) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on stdin")
		os.Exit(1)
	}
	benchsuite.Render(os.Stdout, ms, *all)
}
