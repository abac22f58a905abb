package showconflicts

import (
	"strings"
)

// Side summarises one side of a conflicted file: who wrote it and what it
// says, so a person can tell the sides apart without opening the file.
type Side struct {
	Label   string `json:"label"`   // jj's marker label ("zmwzqwru dde5366e \"b edit\" (rebased revision)") or the bookmark name
	Lines   int    `json:"lines"`   // lines this side holds inside the conflict hunks
	Preview string `json:"preview"` // its first non-blank line, shortened
}

// Markers is what ParseMarkers found in one file.
type Markers struct {
	Hunks  int
	Sides  []Side
	Binary bool // set by the caller that read the file: it holds a NUL byte
}

const previewMax = 60

// ParseMarkers reads conflict markers as jj 0.46 writes them
// (<<<<<<< conflict 1 of 1, %%%%%%% diff sections, +++++++ snapshots,
// ------- bases, >>>>>>> conflict 1 of 1 ends) and as git writes them
// (<<<<<<< ours, ||||||| base, =======, >>>>>>> theirs). Sides are numbered in
// the order they appear in each hunk and merged across hunks.
func ParseMarkers(content string) Markers {
	var m Markers
	lines := strings.Split(content, "\n")
	inHunk := false
	gitStyle := false
	side := -1   // index of the side being read in this hunk, -1: a base section
	section := 0 // position of the section in the current hunk
	diffSection := false
	addSide := func(label string) {
		if section < len(m.Sides) {
			if m.Sides[section].Label == "" {
				m.Sides[section].Label = label
			}
		} else {
			m.Sides = append(m.Sides, Side{Label: label})
		}
		side = section
		section++
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		switch {
		case !inHunk && isMarker(l, '<'):
			inHunk, section, side, diffSection = true, 0, -1, false
			m.Hunks++
			gitStyle = i+1 < len(lines) && !isMarker(lines[i+1], '%') && !isMarker(lines[i+1], '+') && !isMarker(lines[i+1], '-')
			if gitStyle {
				addSide(markerText(l))
			}
		case !inHunk:
			continue
		case isMarker(l, '>'):
			if gitStyle && side >= 0 && m.Sides[side].Label == "" {
				m.Sides[side].Label = markerText(l)
			}
			inHunk = false
		case !gitStyle && isMarker(l, '%'):
			// "diff from: A" then "\\\\\\\ to: B": the side is B.
			label := ""
			if i+1 < len(lines) && isMarker(lines[i+1], '\\') {
				i++
				label = strings.TrimSpace(strings.TrimPrefix(markerText(lines[i]), "to:"))
			}
			addSide(label)
			diffSection = true
		case !gitStyle && isMarker(l, '+'):
			addSide(markerText(l))
			diffSection = false
		case !gitStyle && isMarker(l, '-'), gitStyle && isMarker(l, '|'):
			side, diffSection = -1, false
		case gitStyle && isMarker(l, '='):
			addSide("")
		default:
			if side < 0 {
				continue
			}
			text := l
			if diffSection {
				if strings.HasPrefix(text, "-") {
					continue // removed from the base: not part of this side
				}
				if len(text) > 0 {
					text = text[1:]
				}
			}
			s := &m.Sides[side]
			s.Lines++
			if s.Preview == "" && strings.TrimSpace(text) != "" {
				s.Preview = shorten(strings.TrimSpace(text))
			}
		}
	}
	return m
}

// isMarker reports whether l starts with at least seven c (jj lengthens
// markers when the file itself holds such lines).
func isMarker(l string, c byte) bool {
	n := 0
	for n < len(l) && l[n] == c {
		n++
	}
	return n >= 7 && (n == len(l) || l[n] == ' ')
}

func markerText(l string) string {
	return strings.TrimSpace(strings.TrimLeft(l, string(l[0])))
}

func shorten(s string) string {
	r := []rune(s)
	if len(r) <= previewMax {
		return s
	}
	return string(r[:previewMax-1]) + "…"
}
