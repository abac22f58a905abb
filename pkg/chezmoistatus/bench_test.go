package chezmoistatus_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// BenchmarkStatus runs chezmoi-status on a healthy host and, side by side,
// the same commands it runs, with the same environment and overlap: the baseline is read
// from chezmoi-status --verbose (so it is the same work by construction,
// and changes with it), and its chezmoi commands run beside its jj
// commands, as gather does. The ratio is what the binary adds: start-up,
// parsing, the state files and the report.
//
//	go test ./pkg/chezmoistatus -run '^$' -bench Status -benchtime 20x
func BenchmarkStatus(b *testing.B) {
	w := conflictfixture.New(b)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.EditHome(b, h, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	conflictfixture.Capture(h)
	conflictfixture.Publish(h)
	conflictfixture.Save(b, h, syncstate.Record{Status: syncstate.Success, Start: time.Now()})
	dir := h.SourceDir()
	verbose := h.Exec(dir, "chezmoi-status", "--verbose", "--source-dir", dir)
	if verbose.Code != 0 {
		b.Fatal(verbose)
	}
	cmds, err := parseVerbose(verbose.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	var chezmoiCmds, jjCmds []loggedCmd
	for _, c := range cmds {
		if c.argv[0] == "chezmoi" {
			chezmoiCmds = append(chezmoiCmds, c)
		} else {
			jjCmds = append(jjCmds, c)
		}
	}
	run := func(c loggedCmd) {
		d := c.dir
		if d == "" {
			d = dir
		}
		cmd := h.Command(context.Background(), d, c.argv[0], c.argv[1:]...)
		if c.argv[0] == "jj" {
			cmd.Env = append(cmd.Env, jj.TerminalEnv...) // as pkg/jj gives every jj command
		}
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v: %v", c.argv, err)
		}
	}
	baseline := func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range chezmoiCmds {
				run(c)
			}
		}()
		for _, c := range jjCmds {
			run(c)
		}
		wg.Wait()
	}

	var ours, base time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := h.Command(context.Background(), dir, "chezmoi-status", "--source-dir", dir).Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		baseline()
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms/status")
	b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "ms/raw")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
	b.ReportMetric(float64(len(cmds)), "subprocesses")
	_ = testharness.Result{}
}

// loggedCmd is one "+ ..." line of --verbose: argv and the directory.
type loggedCmd struct {
	dir  string
	argv []string
}

// parseVerbose reads the commands --verbose logged, undoing runner.Cmd's
// quoting: words are bare or single-quoted ('\” inside), and a command
// run in a directory is written "(cd DIR && argv...)".
func parseVerbose(stderr string) ([]loggedCmd, error) {
	var out []loggedCmd
	for _, line := range strings.Split(stderr, "\n") {
		line, ok := strings.CutPrefix(line, "+ ")
		if !ok {
			continue
		}
		words, err := shellWords(strings.TrimSuffix(strings.TrimPrefix(line, "("), ")"))
		if err != nil {
			return nil, err
		}
		c := loggedCmd{argv: words}
		if len(words) > 3 && words[0] == "cd" && words[2] == "&&" {
			c.dir, c.argv = words[1], words[3:]
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errNoCommands
	}
	return out, nil
}

type benchError string

func (e benchError) Error() string { return string(e) }

const errNoCommands = benchError("chezmoi-status --verbose logged no commands")

func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quoted && ch == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(ch)
		case ch == '\'':
			quoted, inWord = true, true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		return nil, benchError("unterminated quote in: " + s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestParseVerbose(t *testing.T) {
	cmds, err := parseVerbose("x\n+ (cd '/a b' && jj log -r 'it'\\''s' '')\n+ chezmoi status\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || cmds[0].dir != "/a b" || strings.Join(cmds[0].argv, "|") != "jj|log|-r|it's|" || cmds[1].argv[1] != "status" {
		t.Fatalf("%#v", cmds)
	}
}
