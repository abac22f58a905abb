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
// --format json`: {"/abs/path": {"contentsSHA256": "...", "type": "file"}}.
// The result holds every target chezmoi wrote: files and symlinks with the
// SHA-256 of what it wrote, directories with "". Scripts (their keys are
// not home files) and "remove" entries (chezmoi removed the target) are
// left out.
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
		switch e.Type {
		case "", "file", "symlink":
			if e.SHA != "" {
				out[path] = e.SHA
			}
		case "dir":
			out[path] = ""
		}
	}
	return out, nil
}

// ParseManagedPaths parses `chezmoi managed -f json -p all` into a map from
// absolute target path to absolute source path (targets without a source
// file, such as .chezmoiremove entries, are left out).
func ParseManagedPaths(data []byte) (map[string]string, error) {
	all, err := ParseManaged(data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(all))
	for t, m := range all {
		if m.Relative != "" {
			out[t] = m.Source
		}
	}
	return out, nil
}

// ParseManaged parses `chezmoi managed -f json -p all`: every target, with
// its source (empty for removals that have no source file: .chezmoiremove
// patterns and unmanaged files in exact_ directories).
func ParseManaged(data []byte) (map[string]Managed, error) {
	var raw map[string]struct {
		Absolute       string `json:"absolute"`
		SourceAbsolute string `json:"sourceAbsolute"`
		SourceRelative string `json:"sourceRelative"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("chezmoi managed: %w", err)
	}
	out := make(map[string]Managed, len(raw))
	for _, e := range raw {
		if e.Absolute == "" {
			continue
		}
		m := Managed{Relative: e.SourceRelative}
		if e.SourceRelative != "" {
			m.Source = e.SourceAbsolute
		}
		out[e.Absolute] = m
	}
	return out, nil
}

// ApplyFailure is one "chezmoi: <target>: <reason>" line of a failed
// `chezmoi apply --keep-going`.
type ApplyFailure struct {
	Target string // as chezmoi names it: relative to the home directory
	Reason string // "exit status 127", "inconsistent state (...)", ...
	// Context is the line printed just before, when it is not chezmoi's
	// own: for a failing script, the script's last line on stderr.
	Context string
}

// ParseApplyErrors reads apply's stderr (chezmoi 2.73): each failure is a
// line "chezmoi: <target>: <reason>"; a run_ script's own output comes
// before its line, and later scripts' output after it, so the cause of a
// script failure is the line before chezmoi's, never the last lines.
func ParseApplyErrors(stderr string) []ApplyFailure {
	var out []ApplyFailure
	prev := ""
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimRight(l, "\r")
		rest, ok := strings.CutPrefix(l, "chezmoi: ")
		if !ok {
			if strings.TrimSpace(l) != "" {
				prev = strings.TrimSpace(l)
			}
			continue
		}
		if strings.HasPrefix(rest, "warning: ") {
			continue
		}
		target, reason, found := strings.Cut(rest, ": ")
		if !found {
			target, reason = "", rest
		}
		out = append(out, ApplyFailure{Target: target, Reason: reason, Context: prev})
		prev = ""
	}
	return out
}
