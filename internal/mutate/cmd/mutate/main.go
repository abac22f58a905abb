// Command mutate runs the curated mutants of internal/mutate (scripts/mutate
// is the way to call it): each applied alone to a private copy of the
// repository, its tests run, one table row each and the kill rate.
//
//	scripts/mutate            # every mutant (the full form)
//	scripts/mutate -quick     # the quick form CI runs
//	scripts/mutate -only sync # mutants whose ID matches a regexp
//	scripts/mutate -list      # the list, nothing run
//	scripts/mutate -list -markdown  # the table of docs/proof.md
//
// Exit status: 0 every valid mutant killed (or documented as equivalent
// and surviving), 1 a mutant survived, is invalid (the list is out of step
// with the code) or was documented as equivalent but killed, 2 bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nixdots/nixdots/internal/mutate"
)

func main() { os.Exit(run()) }

func run() int {
	quick := flag.Bool("quick", false, "only the quick form (the mutants CI runs)")
	only := flag.String("only", "", "only mutants whose ID matches this regexp")
	list := flag.Bool("list", false, "print the selected mutants and exit")
	markdown := flag.Bool("markdown", false, "with -list: print docs/proof.md's table of mutants")
	timeout := flag.Duration("timeout", 10*time.Minute, "test time limit per mutant")
	keep := flag.Bool("keep", false, "keep the repository copy (its path is printed)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mutate: unexpected argument %q\n", flag.Arg(0))
		return 2
	}
	ms, err := mutate.Select(mutate.All, *quick, *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}
	if *list && *markdown {
		mutate.Markdown(os.Stdout, ms)
		return 0
	}
	if *list {
		for _, m := range ms {
			fmt.Printf("%-40s %-14s %s\n    %s\n", m.ID, m.Kind, m.File, m.Why)
			if m.Equivalent != "" {
				fmt.Printf("    equivalent: %s\n", m.Equivalent)
			}
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "nixdots-mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "mutate: repository copy in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := mutate.Copy(ctx, root, dir); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 1
	}
	// A log of its own per run: two runs at once must not mix their output.
	logf, err := os.CreateTemp("", "nixdots-mutate-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 1
	}
	defer logf.Close()
	logPath := logf.Name()
	r := &mutate.Runner{Dir: dir, Timeout: *timeout, Env: append(os.Environ(), "CI=true"), Log: logf}
	var results []mutate.Result
	for i, m := range ms {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "[%d/%d] %s ...\n", i+1, len(ms), m.ID)
		results = append(results, r.Run(ctx, m))
	}
	mutate.Table(os.Stdout, results)
	fmt.Printf("go vet / go test output of every mutant: %s\n", logPath)
	for _, res := range results {
		if res.Verdict.Hole() {
			return 1
		}
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}
