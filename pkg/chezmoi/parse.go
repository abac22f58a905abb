package chezmoi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Change is one line of `chezmoi status` (as the sync reads it).
type Change struct {
	// Actual is the first column: how the home file differs from what
	// chezmoi last wrote (' ' unchanged, 'M' modified, 'A' added, 'D' deleted).
	Actual byte
	// Target is the second column: what `chezmoi apply` would do to it
	// (' ' nothing, 'M' modify, 'A' create, 'D' delete, 'R' run a script).
	Target byte
	Path   string
}

// ChangedAtHome reports whether the home file was edited since chezmoi
// last wrote it (the edit re-add captures, and apply must not overwrite).
func (e Change) ChangedAtHome() bool { return e.Actual == 'M' }

// PendingApply reports whether apply would change the home file although
// nobody edited it there: the source changed (an edit in the source
// directory, or a resolved conflict) and has not been applied yet.
func (e Change) PendingApply() bool { return e.Actual == ' ' && e.Target != ' ' && e.Target != 'R' }

// ParseChanges parses `chezmoi status` output: "XY path" lines.
func ParseChanges(out string) ([]Change, error) {
	var entries []Change
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < 4 || line[2] != ' ' || !statusCode(line[0]) || !statusCode(line[1]) {
			return nil, fmt.Errorf("cannot parse chezmoi status line %q", line)
		}
		entries = append(entries, Change{Actual: line[0], Target: line[1], Path: line[3:]})
	}
	return entries, nil
}

func statusCode(b byte) bool { return strings.IndexByte(" AMDR", b) >= 0 }

// ParseManagedNul parses `chezmoi managed --nul-path-separator` output:
// NUL-terminated paths (a path may hold a newline).
func ParseManagedNul(out string) []string {
	var paths []string
	for _, p := range strings.Split(out, "\x00") {
		if p = strings.TrimRight(p, "\n"); p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

// Plan splits status entries into what a sync does with them: Capture are
// home edits of plain files (re-add them), Uncapturable are home edits of
// templates (re-add cannot turn a rendered file back into a template:
// report them and never overwrite them), Pending are source changes not
// yet applied.
type Plan struct {
	Capture      []string
	Uncapturable []string
	Pending      []string
}

// PlanCapture classifies entries; templates holds the absolute target paths
// of managed templates.
func PlanCapture(entries []Change, templates []string) Plan {
	isTemplate := make(map[string]bool, len(templates))
	for _, t := range templates {
		isTemplate[t] = true
	}
	var p Plan
	for _, e := range entries {
		switch {
		case e.ChangedAtHome() && isTemplate[e.Path]:
			p.Uncapturable = append(p.Uncapturable, e.Path)
		case e.ChangedAtHome():
			p.Capture = append(p.Capture, e.Path)
		case e.PendingApply():
			p.Pending = append(p.Pending, e.Path)
		}
	}
	return p
}

// NeedsTemplates reports whether any entry is a home edit, the only case
// in which the template list is needed (one chezmoi process saved on the
// no-op path).
func NeedsTemplates(entries []Change) bool {
	for _, e := range entries {
		if e.ChangedAtHome() {
			return true
		}
	}
	return false
}

// Differing lists the paths whose home file still differs from the target
// (after an apply: the files it skipped).
func Differing(entries []Change) []string {
	var out []string
	for _, e := range entries {
		if e.Target != ' ' && e.Target != 'R' {
			out = append(out, e.Path)
		}
	}
	return out
}

// ParseEntryState parses `chezmoi state get-bucket --bucket entryState
// --format json`: {"/abs/path": {"contentsSHA256": "...", ...}}. Entries
// without a hash (directories, scripts) are left out.
func ParseEntryState(data []byte) (map[string]string, error) {
	var raw map[string]struct {
		SHA  string `json:"contentsSHA256"`
		Type string `json:"type"`
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return map[string]string{}, nil
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("cannot parse chezmoi's entryState: %w", err)
	}
	out := make(map[string]string, len(raw))
	for path, e := range raw {
		if e.SHA != "" && (e.Type == "" || e.Type == "file") {
			out[path] = e.SHA
		}
	}
	return out, nil
}

// ParseManagedPaths parses `chezmoi managed -f json -p all` into a map from
// absolute target path to absolute source path.
func ParseManagedPaths(data []byte) (map[string]string, error) {
	var raw map[string]struct {
		Absolute       string `json:"absolute"`
		SourceAbsolute string `json:"sourceAbsolute"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("chezmoi managed: %w", err)
	}
	out := make(map[string]string, len(raw))
	for _, e := range raw {
		if e.Absolute != "" && e.SourceAbsolute != "" {
			out[e.Absolute] = e.SourceAbsolute
		}
	}
	return out, nil
}
