package gendocs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// What can be generated; Generate with none selected writes all of them.
const (
	Completions = "completions"
	ManPages    = "man"
	ConfigKeys  = "config" // nix/config-keys.json and the tables of docs/configuration.md
)

// Files renders every generated file, keyed by path relative to the
// repository root. docs/configuration.md is rendered from current, its
// hand-written text (nil: that file is skipped).
func Files(version string, currentConfigDoc []byte, what ...string) (map[string][]byte, error) {
	want := map[string]bool{}
	for _, w := range what {
		switch w {
		case Completions, ManPages, ConfigKeys:
			want[w] = true
		default:
			return nil, fmt.Errorf("unknown output %q (known: %s, %s, %s)", w, Completions, ManPages, ConfigKeys)
		}
	}
	all := len(want) == 0
	bins, err := Binaries()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, b := range bins {
		n := b.Spec.Name
		if all || want[Completions] {
			out[filepath.Join("completions", n+".bash")] = []byte(Bash(b))
			out[filepath.Join("completions", "_"+n)] = []byte(Zsh(b))
			out[filepath.Join("completions", n+".fish")] = []byte(Fish(b))
		}
		if all || want[ManPages] {
			out[filepath.Join("man", n+".1")] = []byte(Man(b, version))
		}
	}
	if all || want[ConfigKeys] {
		data, err := ConfigKeysJSON()
		if err != nil {
			return nil, err
		}
		out[filepath.Join("nix", "config-keys.json")] = data
		if currentConfigDoc != nil {
			doc, err := ReplaceGenerated(string(currentConfigDoc), ConfigTables(bins))
			if err != nil {
				return nil, fmt.Errorf("docs/configuration.md: %w", err)
			}
			out[filepath.Join("docs", "configuration.md")] = []byte(doc)
		}
	}
	return out, nil
}

// Generate writes the generated files under root and returns their paths.
// docs/configuration.md is updated in place when it exists under root.
func Generate(root, version string, what ...string) ([]string, error) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	files, err := Files(version, doc, what...)
	if err != nil {
		return nil, err
	}
	var written []string
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, err
		}
		if old, err := os.ReadFile(p); err == nil && string(old) == string(data) {
			continue
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return written, err
		}
		written = append(written, rel)
	}
	return written, nil
}
