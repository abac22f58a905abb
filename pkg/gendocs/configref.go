package gendocs

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/config"
)

// ModulePaths maps a config section to the NixOS option set that writes it.
var ModulePaths = map[string]string{
	config.SectionSync:    "myModules.services.dotfiles.chezmoiSync",
	config.SectionRebuild: "myModules.services.rebuild.smart",
}

// jsonKey is one entry of nix/config-keys.json.
type jsonKey struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Help string `json:"help"`
}

// ConfigKeysJSON renders config.Keys for the NixOS module, which declares an
// option for every key it has no hand-written option for.
func ConfigKeysJSON() ([]byte, error) {
	out := map[string][]jsonKey{}
	for section, keys := range config.Keys {
		list := []jsonKey{}
		for _, k := range keys {
			list = append(list, jsonKey{k.Name, k.Type, k.Help})
		}
		out[section] = list
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Markers around the generated part of docs/configuration.md.
const (
	BeginConfig = "<!-- BEGIN GENERATED CONFIG KEYS (go run ./cmd/nixdots-gendocs -out .) -->"
	EndConfig   = "<!-- END GENERATED CONFIG KEYS -->"
)

// ConfigTables renders one Markdown table per section: every key with its
// type, NixOS option, the flags and environment variables that override it.
func ConfigTables(bins []Binary) string {
	type over struct{ flags, envs []string }
	overrides := map[string]*over{} // section.key
	for _, b := range bins {
		if b.Spec.Section == "" {
			continue
		}
		for _, f := range b.Flags() {
			if f.Config == "" {
				continue
			}
			id := b.Spec.Section + "." + f.Config
			o := overrides[id]
			if o == nil {
				o = &over{}
				overrides[id] = o
			}
			o.flags = appendNew(o.flags, fmt.Sprintf("`%s --%s`", b.Spec.Name, f.Name))
			for _, e := range f.Envs {
				o.envs = appendNew(o.envs, "`"+e+"`")
			}
		}
	}
	sections := make([]string, 0, len(config.Keys))
	for s := range config.Keys {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	var s strings.Builder
	s.WriteString(BeginConfig + "\n")
	for _, sec := range sections {
		fmt.Fprintf(&s, "\n### Section `%s` (NixOS: `%s.*`)\n\n", sec, ModulePaths[sec])
		s.WriteString("| Key | Type | Flag | Environment | Meaning |\n|---|---|---|---|---|\n")
		for _, k := range config.Keys[sec] {
			o := overrides[sec+"."+k.Name]
			flags, envs := "—", "—"
			if o != nil {
				if len(o.flags) > 0 {
					flags = strings.Join(o.flags, "<br>")
				}
				if len(o.envs) > 0 {
					envs = strings.Join(o.envs, "<br>")
				}
			}
			fmt.Fprintf(&s, "| `%s` | %s | %s | %s | %s |\n", k.Name, k.Type, flags, envs, mdCell(k.Help))
		}
	}
	s.WriteString(perRunFlags(bins))
	s.WriteString("\n" + EndConfig)
	return s.String()
}

// perRunFlags lists, per binary, the flags that have no config key: they
// say what to do in one run (--dry-run, --list, --check, --to ...), so they
// come from the command line, and some also from an environment variable.
func perRunFlags(bins []Binary) string {
	var s strings.Builder
	s.WriteString("\n### Flags without a config key\n\n")
	s.WriteString("These say what to do in one run, so they come only from the command line (and, where named, the\n")
	s.WriteString("environment). The flags every binary shares (`--state-dir`, `--config`, `--json`, `--verbose`, `--no-color`,\n")
	s.WriteString("`--wait`, `--dry-run`, `--version`, `--help`) are among them.\n\n")
	s.WriteString("| Binary | Flags |\n|---|---|\n")
	for _, b := range bins {
		var flags []string
		for _, g := range b.Groups() {
			if g.Title == strings.TrimSuffix(commonTitle(), ":") {
				continue
			}
			for _, f := range g.Flags {
				if f.Config != "" {
					continue
				}
				name := "`--" + f.Name + "`"
				if len(f.Envs) > 0 {
					name += " (`" + strings.Join(f.Envs, "`, `") + "`)"
				}
				flags = append(flags, name)
			}
		}
		if len(flags) == 0 {
			flags = []string{"—"}
		}
		fmt.Fprintf(&s, "| `%s` | %s |\n", b.Spec.Name, strings.Join(flags, ", "))
	}
	return s.String()
}

func commonTitle() string {
	for _, g := range cli.Groups {
		if g.Key == cli.GroupCommon {
			return g.Title
		}
	}
	return ""
}

// ReplaceGenerated swaps the text between the markers of doc for block
// (which includes the markers).
func ReplaceGenerated(doc, block string) (string, error) {
	i := strings.Index(doc, BeginConfig)
	j := strings.Index(doc, EndConfig)
	if i < 0 || j < i {
		return "", fmt.Errorf("the markers %q and %q are missing", BeginConfig, EndConfig)
	}
	return doc[:i] + block + doc[j+len(EndConfig):], nil
}

// mdCell escapes what Markdown would take as a cell end or an HTML tag.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
