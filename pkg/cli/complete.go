package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// CompleteCommand is the hidden first argument the shell completion scripts
// call a binary with to complete a flag's value from the live state:
//
//	rebuild-rollback __complete to [WORDS BEFORE THE CURSOR...]
//
// prints one candidate per line as VALUE<TAB>DESCRIPTION (fish's own
// format; the bash and zsh scripts split it). The words already typed are
// parsed for --state-dir, --config, --flake and the like; when they do not
// parse, the defaults apply.
const CompleteCommand = "__complete"

// completeTimeout bounds a completion: a shell waits for it.
const completeTimeout = 10 * time.Second

// Candidate is one completion of a flag's value.
type Candidate struct {
	Value       string
	Description string
}

// Completer is implemented by commands that complete some flag values from
// the live state (generations from the history, host names).
type Completer interface {
	// CompleteFlags lists the long flag names Complete answers for; the
	// generated completion scripts call the binary only for those.
	CompleteFlags() []string
	Complete(ctx context.Context, app *App, flag string) ([]Candidate, error)
}

// complete answers `BINARY __complete FLAG [WORDS...]`.
func complete(spec Spec, cmd Runner, args []string, env Env) int {
	fail := func(err error) int {
		fmt.Fprintf(env.Stderr, "%s: %s\n", spec.Name, brief.Safe(brief.Line(err.Error())))
		return exitcode.Usage
	}
	c, ok := cmd.(Completer)
	if len(args) == 0 || !ok || !slices.Contains(c.CompleteFlags(), args[0]) {
		return fail(fmt.Errorf("%s FLAG: no dynamic completion for %q", CompleteCommand, strings.Join(args, " ")))
	}
	flag, words := args[0], completionWords(args[1:])
	getenv := func(k string) string { return runner.Getenv(env.Environ, k) }
	cfg, err := config.Load(config.Locate(flagValue(words, "--config"), getenv))
	if err != nil {
		cfg, _ = config.Load("")
	}
	quiet := Env{Stdout: io.Discard, Stderr: io.Discard, Environ: env.Environ}
	parsed := false
	for _, try := range [][]string{words, nil} {
		if p, err := newParser(spec, cmd, cfg, quiet); err == nil && parseQuietly(p, try) == nil {
			parsed = true
			break
		}
	}
	if !parsed {
		return fail(errors.New("internal error: the defaults do not parse"))
	}
	app := newApp(spec, cmd, cfg, Env{Stdout: io.Discard, Stderr: env.Stderr, Environ: env.Environ})
	app.Globals.JSON = false
	ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
	defer cancel()
	cands, err := c.Complete(ctx, app, flag)
	if err != nil {
		return fail(err)
	}
	var b strings.Builder
	for _, x := range cands {
		if !safeCandidate(x.Value) {
			continue // from a file someone else may write: never typed for the user
		}
		b.WriteString(x.Value)
		if x.Description != "" {
			b.WriteString("\t" + clean(x.Description))
		}
		b.WriteString("\n")
	}
	_, _ = io.WriteString(env.Stdout, b.String())
	return exitcode.OK
}

// parseQuietly parses without letting kong exit (help, version) or print.
func parseQuietly(p *kong.Kong, words []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	_, err = p.Parse(words)
	return err
}

// completionWords drops what must not act during a completion (help,
// version, JSON) and a trailing flag that still waits for its value (the
// one being completed).
func completionWords(words []string) []string {
	var out []string
	for _, w := range words {
		switch w {
		case "-h", "--help", "--version", "--json":
			continue
		}
		out = append(out, w)
	}
	if n := len(out); n > 0 && strings.HasPrefix(out[n-1], "-") && !strings.Contains(out[n-1], "=") {
		out = out[:n-1]
	}
	return out
}

// clean keeps a description on one line, its fields apart and nothing in
// it a terminal would act on.
func clean(s string) string {
	return brief.Safe(strings.Join(strings.Fields(strings.ReplaceAll(s, "\t", " ")), " "))
}

// safeCandidate: a value the shell inserts into the command line as it is
// (bash's COMPREPLY is not quoted) holds only characters no shell acts on.
// Generations, commit ids and host names all do; anything else read from
// the history or a flake is not offered.
func safeCandidate(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:@+=/%^", r)) {
			return false
		}
	}
	return true
}
