// Package mergetext reads a text file holding two-sided conflict markers in
// git's diff3 style, as jj writes them with ui.conflict-marker-style=git:
//
//	<<<<<<< side 1 label
//	side 1 lines
//	||||||| base label
//	base lines
//	=======
//	side 2 lines
//	>>>>>>> side 2 label
//
// and resolves them: one side for every conflicting hunk (chezmoi-sync
// --keep-local / --take-remote), or, when no choice is needed, the
// trivial resolutions chezmoi-sync makes without asking. Pure functions:
// the callers read and write the files.
package mergetext

import (
	"errors"
	"fmt"
	"strings"
)

// Region is a stretch of the file: lines both sides agree on, or one
// conflicting hunk.
type Region struct {
	Conflict bool
	Lines    []string    // !Conflict: the lines
	Sides    [2][]string // Conflict: side 1 and side 2, in marker order
	Base     []string    // Conflict: the base (the common ancestor's lines)
	Labels   [2]string   // the labels after <<<<<<< and >>>>>>>
}

// File is a parsed file.
type File struct {
	Regions []Region
	// FinalNewline: the text ended with a newline (kept on output).
	FinalNewline bool
}

// ErrNotTwoSided: the text is not a two-sided diff3-style conflict (jj
// writes its own style for conflicts of more sides, and none for binary
// files).
var ErrNotTwoSided = errors.New("not a two-sided conflict in diff3 style")

// Parse reads content. A file without markers is one region.
func Parse(content string) (File, error) {
	f := File{FinalNewline: strings.HasSuffix(content, "\n")}
	text := strings.TrimSuffix(content, "\n")
	var lines []string
	if content != "" {
		lines = strings.Split(text, "\n")
	}
	var plain []string
	flush := func() {
		if len(plain) > 0 {
			f.Regions = append(f.Regions, Region{Lines: plain})
			plain = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		n, label, ok := marker(lines[i], '<', 0)
		if !ok {
			plain = append(plain, lines[i])
			continue
		}
		flush()
		reg, next, err := parseHunk(lines, i+1, n)
		if err != nil {
			return File{}, fmt.Errorf("line %d: %w", i+1, err)
		}
		reg.Labels[0] = label
		f.Regions = append(f.Regions, reg)
		i = next
	}
	flush()
	return f, nil
}

// parseHunk reads one hunk after its <<<<<<< line (markers of length n)
// and returns it with the index of its >>>>>>> line.
func parseHunk(lines []string, i, n int) (Region, int, error) {
	reg := Region{Conflict: true}
	section := 0 // 0 side 1, 1 base, 2 side 2
	for ; i < len(lines); i++ {
		l := lines[i]
		if _, _, ok := marker(l, '|', n); ok && section == 0 {
			section = 1
			continue
		}
		if _, _, ok := marker(l, '=', n); ok && section == 1 {
			section = 2
			continue
		}
		if _, label, ok := marker(l, '>', n); ok && section == 2 {
			reg.Labels[1] = label
			return reg, i, nil
		}
		if _, _, ok := marker(l, '<', n); ok {
			return Region{}, 0, ErrNotTwoSided
		}
		switch section {
		case 0:
			reg.Sides[0] = append(reg.Sides[0], l)
		case 1:
			reg.Base = append(reg.Base, l)
		default:
			reg.Sides[1] = append(reg.Sides[1], l)
		}
	}
	return Region{}, 0, ErrNotTwoSided
}

// marker reports whether l is a conflict marker of character c: exactly n
// of them (n == 0: seven or more) followed by the end of the line or a
// space and a label.
func marker(l string, c byte, n int) (int, string, bool) {
	k := 0
	for k < len(l) && l[k] == c {
		k++
	}
	if k < 7 || (n > 0 && k != n) || (k < len(l) && l[k] != ' ') {
		return 0, "", false
	}
	return k, strings.TrimSpace(l[k:]), true
}

// Conflicts counts the conflicting hunks.
func (f File) Conflicts() int {
	n := 0
	for _, r := range f.Regions {
		if r.Conflict {
			n++
		}
	}
	return n
}

// SideWith returns the index (0 or 1) of the side whose label contains
// s in every hunk, or -1.
func (f File) SideWith(s string) int {
	found := -1
	for _, r := range f.Regions {
		if !r.Conflict {
			continue
		}
		i := -1
		switch {
		case strings.Contains(r.Labels[0], s) && !strings.Contains(r.Labels[1], s):
			i = 0
		case strings.Contains(r.Labels[1], s) && !strings.Contains(r.Labels[0], s):
			i = 1
		}
		if i < 0 || (found >= 0 && i != found) {
			return -1
		}
		found = i
	}
	return found
}

// Choose resolves every conflicting hunk with side (0 or 1); what both
// sides agree on, including the other side's changes outside the
// conflicting hunks, stays (git merge -X ours / -X theirs).
func (f File) Choose(side int) string {
	var out []string
	for _, r := range f.Regions {
		if r.Conflict {
			out = append(out, r.Sides[side]...)
		} else {
			out = append(out, r.Lines...)
		}
	}
	return f.join(out)
}

// Side is the whole text of one side: the agreed lines and its hunks.
func (f File) Side(side int) string { return f.Choose(side) }

func (f File) join(lines []string) string {
	s := strings.Join(lines, "\n")
	if f.FinalNewline && len(lines) > 0 {
		s += "\n"
	}
	return s
}

// Trivial reasons, one per kind of hunk resolved without a choice.
const (
	SameChange     = "both sides made the same change"
	OnlyOneSide    = "only one side changed it"
	WhitespaceOnly = "one side only changed whitespace at the end of a line"
	DifferentLines = "the two sides changed different lines"
)

// Outcome is a trivial resolution of a whole file.
type Outcome struct {
	Text    string
	Reasons []string // the kinds of hunks resolved, each once, in order
	// Dropped[i]: side i had a change the result does not hold (a
	// whitespace-only change given up for the other side's real one).
	Dropped [2]bool
}

// Trivial resolves the file without a choice when every conflicting hunk
// is one of: both sides the same; one side equal to the base; one side
// differing from the base only in whitespace at the end of lines (the
// other side's change is taken); or, with as many lines on each side as
// in the base, every line changed by one side only. ok is false when any
// hunk needs a person.
func (f File) Trivial() (Outcome, bool) {
	var out []string
	var o Outcome
	seen := map[string]bool{}
	for _, r := range f.Regions {
		if !r.Conflict {
			out = append(out, r.Lines...)
			continue
		}
		lines, reason, dropped, ok := trivialHunk(r)
		if !ok {
			return Outcome{}, false
		}
		out = append(out, lines...)
		if !seen[reason] {
			seen[reason] = true
			o.Reasons = append(o.Reasons, reason)
		}
		for i := range dropped {
			o.Dropped[i] = o.Dropped[i] || dropped[i]
		}
	}
	o.Text = f.join(out)
	return o, true
}

func trivialHunk(r Region) (lines []string, reason string, dropped [2]bool, ok bool) {
	a, b, base := r.Sides[0], r.Sides[1], r.Base
	switch {
	case equal(a, b):
		return a, SameChange, dropped, true
	case equal(a, base):
		return b, OnlyOneSide, dropped, true
	case equal(b, base):
		return a, OnlyOneSide, dropped, true
	case equalTrimmed(a, base):
		dropped[0] = true
		return b, WhitespaceOnly, dropped, true
	case equalTrimmed(b, base):
		dropped[1] = true
		return a, WhitespaceOnly, dropped, true
	}
	if len(a) != len(base) || len(b) != len(base) {
		return nil, "", dropped, false
	}
	out := make([]string, len(base))
	for i := range base {
		switch {
		case a[i] == b[i] || b[i] == base[i]:
			out[i] = a[i]
		case a[i] == base[i]:
			out[i] = b[i]
		default:
			return nil, "", dropped, false
		}
	}
	return out, DifferentLines, dropped, true
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// equalTrimmed: the same lines once whitespace at their ends is ignored.
func equalTrimmed(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.TrimRight(a[i], " \t\r") != strings.TrimRight(b[i], " \t\r") {
			return false
		}
	}
	return true
}
