package gendocs

import (
	"fmt"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/config"
)

// Man renders the man page (roff, section 1) of b. No date: the output
// depends only on the model, so regenerating an unchanged tree is a no-op.
func Man(b Binary, version string) string {
	var s strings.Builder
	name := b.Spec.Name
	fmt.Fprintf(&s, ".\\\" %s\n", generatedBy)
	fmt.Fprintf(&s, ".TH %s 1 \"\" \"%s\" \"nixdots manual\"\n", strings.ToUpper(roffText(name)), roffText(strings.TrimSpace("nixdots "+version)))
	s.WriteString(".SH NAME\n")
	fmt.Fprintf(&s, "%s \\- %s\n", roffText(name), roffText(lowerFirst(strings.TrimSuffix(b.Spec.Summary(), "."))))

	manSynopsis(&s, b)
	envs := manOptions(&s, b)
	manConfiguration(&s, b)
	manEnvironment(&s, envs)
	manExamplesAndExitStatus(&s, b)
	manFilesAndSeeAlso(&s, name)
	return s.String()
}

// manSynopsis writes SYNOPSIS, DESCRIPTION and, when there are any, COMMANDS and ARGUMENTS.
func manSynopsis(s *strings.Builder, b Binary) {
	s.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(s, ".B %s\n", roffText(b.Spec.Name))
	if cmds := b.Commands(); len(cmds) > 0 {
		s.WriteString(".I COMMAND\n")
	}
	s.WriteString("[\\fIOPTIONS\\fR]")
	for _, p := range b.Positionals() {
		fmt.Fprintf(s, " [\\fI%s\\fR]", roffText(strings.ToUpper(p.Name)))
	}
	s.WriteString("\n")

	s.WriteString(".SH DESCRIPTION\n")
	s.WriteString(roffParagraphs(b.Spec.Description))

	if cmds := b.Commands(); len(cmds) > 0 {
		s.WriteString(".SH COMMANDS\n")
		for _, c := range cmds {
			fmt.Fprintf(s, ".TP\n.B %s\n%s\n", roffText(c.Name), roffLine(c.Help))
		}
	}
	if ps := b.Positionals(); len(ps) > 0 {
		s.WriteString(".SH ARGUMENTS\n")
		for _, p := range ps {
			fmt.Fprintf(s, ".TP\n.I %s\n%s\n", roffText(strings.ToUpper(p.Name)), roffLine(brief.First(p.Help)))
		}
	}
}

// manOptions writes OPTIONS, one subsection per --help group, and returns the environment lines.
func manOptions(s *strings.Builder, b Binary) (envs []string) {
	s.WriteString(".SH OPTIONS\n")
	for _, g := range b.Groups() {
		fmt.Fprintf(s, ".SS %s\n", roffQuoted(g.Title))
		for _, f := range g.Flags {
			envs = append(envs, manFlag(s, b, f)...)
		}
	}
	// Subcommands' flags (none of the suite's binaries has any today).
	for _, f := range b.Flags() {
		if f.Command != "" {
			envs = append(envs, manFlag(s, b, f)...)
		}
	}

	return envs
}

// manConfiguration writes CONFIGURATION: precedence, where the file is, the section's keys.
func manConfiguration(s *strings.Builder, b Binary) {
	s.WriteString(".SH CONFIGURATION\n")
	s.WriteString(roffParagraphs("Every option marked \"Config key\" resolves as flag > environment > config file > default; " +
		"the other flags say what to do in this run only and have no config key. " +
		"The config file is --config, else $NIXDOTS_CONFIG, else $XDG_CONFIG_HOME/nixdots/config.json, " +
		"else nixdots/config.json in $XDG_CONFIG_DIRS, else /etc/nixdots/config.json (written by the NixOS module)."))
	if sec := b.Spec.Section; sec != "" && len(config.Keys[sec]) > 0 {
		fmt.Fprintf(s, "Keys of the %s section:\n", roffText("\""+sec+"\""))
		for _, k := range config.Keys[sec] {
			fmt.Fprintf(s, ".TP\n.B %s\n(%s) %s\n", roffText(k.Name), roffText(k.Type), roffLine(k.Help))
		}
	}
}

// manEnvironment writes ENVIRONMENT from "VARIABLE<TAB>--flag" lines.
func manEnvironment(s *strings.Builder, envs []string) {
	if len(envs) > 0 {
		s.WriteString(".SH ENVIRONMENT\n")
		for _, e := range envs {
			v, flag, _ := strings.Cut(e, "\t")
			fmt.Fprintf(s, ".TP\n.B %s\nSets \\fB%s\\fR.\n", roffText(v), roffText(flag))
		}
	}
}

// manExamplesAndExitStatus writes EXAMPLES and the binary's own EXIT STATUS.
func manExamplesAndExitStatus(s *strings.Builder, b Binary) {
	if len(b.Spec.Examples) > 0 {
		s.WriteString(".SH EXAMPLES\n")
		for _, e := range b.Spec.Examples {
			fmt.Fprintf(s, ".TP\n\\fB%s\\fR\n%s\n", roffText(e.Command), roffLine(e.Explain))
		}
	}

	s.WriteString(".SH EXIT STATUS\n")
	for _, u := range b.Spec.Codes() {
		fmt.Fprintf(s, ".TP\n.B %d\n%s\n", u.Code, roffLine(u.Describe()))
	}
	if b.Spec.ExitNote != "" {
		s.WriteString(".PP\n" + roffLine(b.Spec.ExitNote) + "\n")
	}
}

// manFilesAndSeeAlso writes FILES and SEE ALSO.
func manFilesAndSeeAlso(s *strings.Builder, name string) {
	s.WriteString(".SH FILES\n")
	s.WriteString(".TP\n.I /etc/nixdots/config.json\nConfiguration written by the NixOS module.\n")
	s.WriteString(".TP\n.I $XDG_STATE_HOME/nixdots\nState directory (or $STATE_DIRECTORY, or /var/lib/nixdots under the NixOS module): locks, last sync, rebuild history.\n")

	s.WriteString(".SH SEE ALSO\n")
	var see []string
	for _, other := range []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"} {
		if other != name {
			see = append(see, "\\fB"+roffText(other)+"\\fR(1)")
		}
	}
	s.WriteString(strings.Join(see, ", ") + ", \\fBjj\\fR(1), \\fBchezmoi\\fR(1), \\fBnh\\fR(1)\n")
}

// manFlag writes one flag's entry and returns its "VARIABLE\t--flag"
// environment lines.
func manFlag(s *strings.Builder, b Binary, f Flag) (envs []string) {
	s.WriteString(".TP\n")
	var names []string
	if f.Short != 0 {
		names = append(names, "\\fB\\-"+roffText(string(f.Short))+"\\fR")
	}
	long := "\\fB\\-\\-" + roffText(f.Name) + "\\fR"
	if f.Takes {
		long += "=\\fI" + roffText(f.Place) + "\\fR"
	}
	names = append(names, long)
	if f.Negation != "" {
		names = append(names, "\\fB\\-\\-"+roffText(f.Negation)+"\\fR")
	}
	s.WriteString(strings.Join(names, ", ") + "\n")
	help := f.Help
	if f.Command != "" {
		help = "(" + f.Command + ") " + help
	}
	s.WriteString(roffLine(help) + "\n")
	var extra []string
	if len(f.Enum) > 0 {
		extra = append(extra, "One of: "+strings.Join(f.Enum, ", ")+".")
	}
	if f.Default != "" && f.Takes {
		extra = append(extra, "Default: "+f.Default+".")
	}
	if len(f.Envs) > 0 {
		extra = append(extra, "Environment: "+strings.Join(f.Envs, ", ")+".")
		for _, e := range f.Envs {
			envs = append(envs, e+"\t--"+f.Name)
		}
	}
	if f.Config != "" && b.Spec.Section != "" {
		extra = append(extra, "Config key: "+b.Spec.Section+"."+f.Config+".")
	}
	if len(extra) > 0 {
		s.WriteString(".br\n" + roffLine(strings.Join(extra, " ")) + "\n")
	}
	return envs
}

// roffQuoted is an argument of a request (.SS "Title"), quoted so spaces
// stay inside it.
func roffQuoted(s string) string {
	return `"` + strings.ReplaceAll(roffText(s), `"`, `\(dq`) + `"`
}

// roffText escapes backslashes and hyphens.
func roffText(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// roffLine escapes a text line; a leading dot or quote would be a request.
func roffLine(s string) string {
	s = roffText(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func roffParagraphs(s string) string {
	var out strings.Builder
	for i, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if i > 0 {
			out.WriteString(".PP\n")
		}
		for _, line := range strings.Split(p, "\n") {
			out.WriteString(roffLine(strings.TrimSpace(line)) + "\n")
		}
	}
	return out.String()
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	if len(s) > 1 && s[1] >= 'A' && s[1] <= 'Z' {
		return s // an acronym
	}
	return strings.ToLower(s[:1]) + s[1:]
}
