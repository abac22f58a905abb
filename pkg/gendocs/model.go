// Package gendocs renders shell completions (bash, zsh, fish) and man pages
// from the kong models of the suite's binaries, plus the generated parts of
// the configuration reference (nix/config-keys.json for the NixOS module and
// the key tables of docs/configuration.md) from config.Keys.
//
// Everything is derived, never written by hand, so a flag added to a command
// struct reaches the completions and the man page by running
// `go run ./cmd/nixdots-gendocs -out .` (the Nix package runs it at build
// time). The tests regenerate into a temporary directory and check every flag.
package gendocs

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoistatus"
	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/rebuildsmart"
	"github.com/nixdots/nixdots/pkg/rollback"
	"github.com/nixdots/nixdots/pkg/showconflicts"
)

// Binary is one command of the suite with its parsed kong model.
type Binary struct {
	Spec  cli.Spec
	Model *kong.Application
	// Dynamic lists the flags whose values the binary itself completes
	// (cli.Completer): the scripts call `BINARY __complete FLAG`.
	Dynamic []string
}

// Flag is what the renderers need to know about one flag.
type Flag struct {
	Name     string   // long name without dashes
	Negation string   // other long name of a negatable bool ("no-foo"), or ""
	Short    rune     // 0: none
	Help     string   // one line
	Takes    bool     // the flag takes a value
	Place    string   // placeholder (DIR, FILE, DURATION, ...)
	Enum     []string // allowed values, when an enum
	Envs     []string // environment variables that set it
	Config   string   // config-file key that sets it, when any
	Default  string
	Repeat   bool // may be given more than once (slices, counters)
	Command  string
	Group    string // title of its --help group ("" for none)
	Dynamic  bool   // the binary completes its value (`BINARY __complete NAME`)
}

// Command is a subcommand (most binaries have none).
type Command struct {
	Name string
	Help string
}

// models builds the kong model of each binary exactly as cli.Main does
// (cli.KongOptions: name, description, groups, variables), without
// parsing anything.
func models() ([]Binary, error) {
	type entry struct {
		spec cli.Spec
		cmd  any
	}
	entries := []entry{
		{chezmoisync.Spec, &chezmoisync.Command{}},
		{chezmoistatus.Spec, &chezmoistatus.Command{}},
		{showconflicts.Spec, &showconflicts.Command{}},
		{rebuildsmart.Spec, &rebuildsmart.Command{}},
		{rollback.Spec, &rollback.Command{}},
	}
	var out []Binary
	for _, e := range entries {
		k, err := kong.New(e.cmd, append(cli.KongOptions(e.spec), kong.Exit(func(int) {}))...)
		if err != nil {
			return nil, fmt.Errorf("%s: building the kong model: %w", e.spec.Name, err)
		}
		b := Binary{Spec: e.spec, Model: k.Model}
		if c, ok := e.cmd.(cli.Completer); ok {
			b.Dynamic = c.CompleteFlags()
		}
		out = append(out, b)
	}
	return out, nil
}

// Binaries returns the five binaries' models.
func Binaries() ([]Binary, error) { return models() }

// Flags lists the visible flags of the binary: the application's own and
// those of its subcommands (Command names the subcommand), sorted by name.
// Hidden flags are internal entry points (rebuild-rollback --record for the
// pre-switch check) and are left out of completions and man pages alike.
func (b Binary) Flags() []Flag {
	var out []Flag
	seen := map[string]bool{}
	var walk func(n *kong.Node, command string)
	walk = func(n *kong.Node, command string) {
		for _, f := range n.Flags {
			if f.Hidden || seen[command+"\x00"+f.Name] {
				continue
			}
			seen[command+"\x00"+f.Name] = true
			cf := convert(f, command)
			cf.Dynamic = command == "" && slices.Contains(b.Dynamic, f.Name)
			out = append(out, cf)
		}
		for _, c := range n.Children {
			if c.Hidden || c.Type != kong.CommandNode {
				continue
			}
			walk(c, strings.TrimSpace(command+" "+c.Name))
		}
	}
	walk(b.Model.Node, "")
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Command != out[j].Command {
			return out[i].Command < out[j].Command
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// FlagGroup is one titled group of flags, as --help shows it.
type FlagGroup struct {
	Title string
	Flags []Flag
}

// Groups lists the visible flags of the application node in --help's
// order: ungrouped first, then each group in the order its first flag
// appears (cli.KongOptions puts the common flags last).
func (b Binary) Groups() []FlagGroup {
	var out []FlagGroup
	at := map[string]int{}
	for _, f := range b.Model.Node.Flags {
		if f.Hidden {
			continue
		}
		key, title := "", "Options"
		if f.Group != nil {
			key, title = f.Group.Key, strings.TrimSuffix(f.Group.Title, ":")
		}
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, FlagGroup{Title: title})
		}
		cf := convert(f, "")
		cf.Dynamic = slices.Contains(b.Dynamic, f.Name)
		out[i].Flags = append(out[i].Flags, cf)
	}
	return out
}

// Commands lists the visible subcommands (first level).
func (b Binary) Commands() []Command {
	var out []Command
	for _, c := range b.Model.Node.Children {
		if c.Hidden || c.Type != kong.CommandNode {
			continue
		}
		out = append(out, Command{Name: c.Name, Help: brief.First(c.Help)})
	}
	return out
}

// Positionals lists the positional arguments of the application node.
func (b Binary) Positionals() []*kong.Positional { return b.Model.Node.Positional }

func convert(f *kong.Flag, command string) Flag {
	out := Flag{
		Name:    f.Name,
		Short:   f.Short,
		Help:    brief.First(f.Help),
		Takes:   !f.IsBool() && !f.IsCounter(),
		Envs:    f.Envs,
		Default: f.Default,
		Repeat:  f.IsCounter() || f.IsSlice() || f.IsMap(),
		Command: command,
	}
	if f.Group != nil {
		out.Group = strings.TrimSuffix(f.Group.Title, ":")
	}
	if f.Tag != nil {
		out.Config = f.Tag.Get("config")
		if f.IsBool() && f.Tag.Negatable != "" {
			if f.Tag.Negatable == "_" {
				out.Negation = "no-" + f.Name
			} else {
				out.Negation = f.Tag.Negatable
			}
		}
	}
	if out.Takes {
		out.Place = f.FormatPlaceHolder()
	}
	if f.Enum != "" {
		for _, e := range strings.Split(f.Enum, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out.Enum = append(out.Enum, e)
			}
		}
	}
	return out
}

// ValueKind says how a shell completes the flag's value.
func (f Flag) ValueKind() string {
	switch {
	case !f.Takes:
		return "none"
	case f.Dynamic:
		return "dynamic"
	case len(f.Enum) > 0:
		return "enum"
	case strings.Contains(f.Place, "DIR"):
		return "dir"
	case strings.Contains(f.Place, "FILE"), strings.Contains(f.Place, "PATH"):
		return "file"
	case strings.HasSuffix(f.Place, "HOST"):
		return "host" // an ssh destination: the shell's own host completion

	default:
		return "any"
	}
}

// funcName turns a binary name into a shell identifier.
func funcName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}
