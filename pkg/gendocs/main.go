package gendocs

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Main is nixdots-gendocs: it writes the completions, man pages and
// generated configuration reference under -out. Exit codes: 0 written (or
// already current), 1 failure, 2 usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nixdots-gendocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "repository root to write completions/, man/, nix/config-keys.json and docs/configuration.md under")
	only := fs.String("only", "", "comma-separated subset: completions, man, config (default: all)")
	version := fs.String("version", "", "version written into the man pages (default: none, so the committed pages do not change with every commit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nixdots-gendocs [-out DIR] [-only completions,man,config] [-version V]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nixdots-gendocs: unexpected argument %q (see -h)\n", fs.Arg(0))
		return 2
	}
	var what []string
	if *only != "" {
		what = strings.Split(*only, ",")
	}
	written, err := Generate(*out, *version, what...)
	if err != nil {
		fmt.Fprintf(stderr, "nixdots-gendocs: %v\n", err)
		if strings.HasPrefix(err.Error(), "unknown output") {
			return 2
		}
		return 1
	}
	sort.Strings(written)
	for _, w := range written {
		fmt.Fprintf(stdout, "wrote %s\n", w)
	}
	if len(written) == 0 {
		fmt.Fprintln(stdout, "everything up to date")
	}
	return 0
}
