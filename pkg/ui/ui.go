// Package ui decides once how the suite talks to people: colour only on a
// TTY and never with NO_COLOR or --no-color; plain lines when stdout is not a
// TTY or under systemd (JOURNAL_STREAM set); with --json, stdout carries
// exactly one JSON document and all human text goes to stderr.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"

	"github.com/nixdots/nixdots/pkg/brief"
)

// Streams are the injected writers of one run.
type Streams struct {
	Out   io.Writer // the command's result: the JSON document, or human text
	Err   io.Writer // errors and warnings, always
	Human io.Writer // progress lines: Out normally, Err with --json
	Color bool      // ANSI colour allowed
	TTY   bool      // Human is an interactive terminal (spinners allowed)
	JSON  bool
	// Prefix names the program on warnings ("chezmoi-sync: warning: ..."),
	// so a line in a journal or a pipeline says where it came from.
	Prefix string
	mu     sync.Mutex

	// The live line of a TTY (live.go): what is running, with a spinner.
	running []string
	frame   int
	drawn   bool
	detail  string
	paused  bool

	wroteJSON bool
}

// Options decide the streams' behaviour.
type Options struct {
	NoColor bool
	JSON    bool
	Getenv  func(string) string
}

// New builds Streams for stdout/stderr.
func New(stdout, stderr io.Writer, o Options) *Streams {
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s := &Streams{Out: stdout, Err: stderr, Human: stdout, JSON: o.JSON}
	if o.JSON {
		s.Human = stderr
	}
	underSystemd := getenv("JOURNAL_STREAM") != "" || getenv("INVOCATION_ID") != ""
	s.TTY = IsTerminal(s.Human) && !underSystemd
	_, noColorEnv := lookup(getenv, "NO_COLOR")
	s.Color = s.TTY && !o.NoColor && !noColorEnv && getenv("TERM") != "dumb"
	return s
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// IsTerminal reports whether w is a terminal: a file, or a writer that
// wraps one and says which (Fd).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func (s *Streams) paint(attr color.Attribute, text string) string {
	if !s.Color {
		return text
	}
	c := color.New(attr)
	c.EnableColor()
	return c.Sprint(text)
}

// Green, Yellow, Red, Bold and Faint colour text when colour is on.
func (s *Streams) Green(t string) string  { return s.paint(color.FgGreen, t) }
func (s *Streams) Yellow(t string) string { return s.paint(color.FgYellow, t) }
func (s *Streams) Red(t string) string    { return s.paint(color.FgRed, t) }
func (s *Streams) Bold(t string) string   { return s.paint(color.Bold, t) }
func (s *Streams) Faint(t string) string  { return s.paint(color.Faint, t) }

// Step statuses.
const (
	OK      = "ok"
	Skipped = "skipped"
	Warn    = "warn"
	Failed  = "failed"
	Running = "running"
)

// Mark returns the bracketed marker for a status: [ok] style in plain mode
// so logs stay greppable, coloured symbols on a TTY.
func (s *Streams) Mark(status string) string {
	if !s.Color {
		return fmt.Sprintf("[%s]", status)
	}
	switch status {
	case OK:
		return s.Green("[✓]")
	case Skipped:
		return s.Faint("[-]")
	case Warn:
		return s.Yellow("[!]")
	case Failed:
		return s.Red("[✗]")
	default:
		return "[…]"
	}
}

// Step prints one line for a finished step. Name and detail may quote a
// tool or a file: what a terminal would act on is escaped (brief.Safe).
func (s *Streams) Step(status, name, detail string, d time.Duration) {
	name, detail = brief.Safe(name), brief.Safe(detail)
	line := s.Mark(status) + " " + name
	if d > 0 {
		line += fmt.Sprintf(" (%s)", FormatDuration(d))
	}
	if detail != "" {
		line += ": " + detail
	}
	s.Println(line)
}

// Println writes a human line to Human.
func (s *Streams) Println(a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintln(s.Human, a...)
	s.drawLocked()
}

// Printf writes human text to Human.
func (s *Streams) Printf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintf(s.Human, format, a...)
	if strings.HasSuffix(format, "\n") {
		s.drawLocked()
	}
}

// Warnf writes a warning line to Err; what a terminal would act on in the
// message (a quoted path, a tool's error) is escaped (brief.Safe).
func (s *Streams) Warnf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := ""
	if s.Prefix != "" {
		prefix = s.Prefix + ": "
	}
	// Stderr usually shares the terminal with the live line: clear it first.
	s.clearLocked()
	defer s.drawLocked()
	fmt.Fprintln(s.Err, prefix+s.Yellow("warning: ")+brief.Safe(fmt.Sprintf(format, a...)))
}

// WriteJSON writes v as the single JSON document on Out.
func (s *Streams) WriteJSON(v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wroteJSON = true
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WroteJSON reports whether the run's document was written: a run that
// fails after it must not print a second one (cli.Main's error object).
func (s *Streams) WroteJSON() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wroteJSON
}

// FormatDuration prints durations the way people read them: 850ms, 3.2s, 2m05s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Ago prints how long ago t was ("5m ago").
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return FormatDuration(d) + " ago"
}
