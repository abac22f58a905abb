package cli

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// Example is one common case shown under EXAMPLES in --help and the man
// page.
type Example struct {
	Command string // as typed, starting with the binary's name
	Explain string // one sentence: what it does and when to use it
}

// GroupCommon holds the flags every binary shares (Globals, --dry-run,
// --help); --help lists it last, after the binary's own groups.
const GroupCommon = "common"

// Groups are the titles of the flag groups, keyed by the kong `group:"..."`
// tag. One list for the suite, so a group means the same in every binary.
var Groups = []kong.Group{
	{Key: "repo", Title: "Repository and host:"},
	{Key: "sync", Title: "Sync behaviour:"},
	{Key: "show", Title: "What to show:"},
	{Key: "check", Title: "Health check (for scripts and timers):"},
	{Key: "phases", Title: "Phases:"},
	{Key: "update", Title: "Flake inputs:"},
	{Key: "secrets", Title: "Secrets:"},
	{Key: "activate", Title: "Activation:"},
	{Key: "commit", Title: "After the switch:"},
	{Key: "fleet", Title: "Unattended runs and remote machines:"},
	{Key: "target", Title: "Where to go back to:"},
	{Key: "scope", Title: "What to move:"},
	{Key: "clean", Title: "Clean-up of old generations:"},
	{Key: "monitor", Title: "Notifications and metrics:"},
	{Key: GroupCommon, Title: "Common flags:"},
}

// KongOptions are the options every binary's parser is built with; the
// docs generator builds its models with the same ones, so --help, the man
// pages and the completions describe one model.
func KongOptions(spec Spec) []kong.Option {
	return []kong.Option{
		kong.Name(spec.Name),
		kong.Description(spec.Description),
		kong.Vars{"version": spec.Name + " " + VersionString()},
		kong.ExplicitGroups(Groups),
		kong.PostBuild(commonFlagsLast),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Help(func(o kong.HelpOptions, ctx *kong.Context) error {
			if err := kong.DefaultHelpPrinter(o, ctx); err != nil {
				return err
			}
			return writeHelpTail(ctx.Stdout, spec)
		}),
	}
}

// commonFlagsLast puts -h/--help into the common group and moves that
// group behind the binary's own: kong lists groups in the order their
// first flag appears, and Globals is embedded first.
func commonFlagsLast(k *kong.Kong) error {
	if k.Model.HelpFlag != nil {
		k.Model.HelpFlag.Group = groupByKey(GroupCommon)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		sort.SliceStable(n.Flags, func(i, j int) bool {
			return !isCommon(n.Flags[i]) && isCommon(n.Flags[j])
		})
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(k.Model.Node)
	return nil
}

func isCommon(f *kong.Flag) bool { return f.Group != nil && f.Group.Key == GroupCommon }

func groupByKey(key string) *kong.Group {
	for _, g := range Groups {
		if g.Key == key {
			return &g
		}
	}
	return nil
}

// writeHelpTail appends EXAMPLES and the binary's exit codes to --help.
func writeHelpTail(w io.Writer, spec Spec) error {
	var b strings.Builder
	if len(spec.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range spec.Examples {
			fmt.Fprintf(&b, "  %s\n", e.Command)
			for _, line := range wrap(e.Explain, 72) {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	b.WriteString("\n" + ExitCodesText(spec) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Codes are the exit codes the binary can return: its own list, then the
// codes every binary shares without a line in its Spec (141 when a reader
// closes the pipe early, see cli.outWatch).
func (s Spec) Codes() []exitcode.Use {
	out := append([]exitcode.Use{}, s.ExitCodes...)
	if !slices.ContainsFunc(out, func(u exitcode.Use) bool { return u.Code == exitcode.BrokenPipe }) {
		out = append(out, exitcode.Use{Code: exitcode.BrokenPipe})
	}
	return out
}

// ExitCodesText renders the codes the binary declares, for --help.
func ExitCodesText(spec Spec) string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, u := range spec.Codes() {
		for i, line := range wrap(u.Describe(), 72) {
			if i == 0 {
				fmt.Fprintf(&b, "\n  %3d  %s", u.Code, line)
			} else {
				fmt.Fprintf(&b, "\n       %s", line)
			}
		}
	}
	if spec.ExitNote != "" {
		b.WriteString("\n" + spec.ExitNote)
	}
	return b.String()
}

// Summary is the description's first sentence: the man page's NAME line.
func (s Spec) Summary() string {
	d := strings.Join(strings.Fields(s.Description), " ")
	if i := strings.Index(d, ". "); i >= 0 {
		return d[:i+1]
	}
	return d
}

// Declares reports whether the binary documents code; a code it returns
// but does not declare is a bug the test harness reports.
func (s Spec) Declares(code int) bool {
	for _, u := range s.Codes() {
		if u.Code == code {
			return true
		}
	}
	return false
}

// wrap breaks s into lines of at most width runes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
