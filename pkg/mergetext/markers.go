package mergetext

import (
	"slices"
	"strings"
)

// Marker styles jj writes (ui.conflict-marker-style), named as jj names
// them.
const (
	StyleGit      = "git"      // <<<<<<< ||||||| ======= >>>>>>>
	StyleDiff     = "diff"     // jj's default: <<<<<<< %%%%%%% \\\\\\\ +++++++ >>>>>>>
	StyleSnapshot = "snapshot" // <<<<<<< +++++++ ------- >>>>>>>
)

// markerChars are the characters of every marker line jj or git writes.
const markerChars = `<>|=%+-\`

// markerLineOf reports whether l starts like a conflict marker of any
// style: seven or more of one marker character, then the end of the line
// or a space (a label). It returns that character.
func markerLineOf(l string) (byte, bool) {
	if len(l) < 7 || !strings.ContainsRune(markerChars, rune(l[0])) {
		return 0, false
	}
	c := l[0]
	n := 0
	for n < len(l) && l[n] == c {
		n++
	}
	return c, n >= 7 && (n == len(l) || l[n] == ' ')
}

// LeftoverMarkers returns the 1-based numbers of the lines of text that
// start like a conflict marker of any style (git's, jj's diff and
// snapshot styles: seven or more of < > | = % + - \ then a space or the
// line's end) and that are not the file's own: a line counts unless one of
// sides (the versions the conflict was made of) holds it as many times.
// So a dotfile's own "=======" separator passes, and the "=======" a hand
// resolution forgot is caught.
func LeftoverMarkers(text string, sides ...string) []int {
	lines := strings.Split(text, "\n")
	count := map[string]int{}
	for _, l := range lines {
		if _, ok := markerLineOf(l); ok {
			count[l]++
		}
	}
	if len(count) == 0 {
		return nil
	}
	own := map[string]int{}
	for _, s := range sides {
		per := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			if count[l] > 0 {
				per[l]++
			}
		}
		for l, n := range per {
			own[l] = max(own[l], n)
		}
	}
	var out []int
	for i, l := range lines {
		if _, ok := markerLineOf(l); ok && count[l] > own[l] {
			out = append(out, i+1)
		}
	}
	return out
}

// MarkerStyle names the style of the marker lines text holds (the lines
// of LeftoverMarkers, or every marker line when lines is nil): StyleDiff
// when it has %%%%%%% or \\\\\\\ lines, StyleGit with ||||||| or =======,
// StyleSnapshot with ------- or +++++++; "" when it cannot tell.
func MarkerStyle(text string, lines []int) string {
	all := strings.Split(text, "\n")
	has := map[byte]bool{}
	for i, l := range all {
		if lines != nil && !slices.Contains(lines, i+1) {
			continue
		}
		if c, ok := markerLineOf(l); ok {
			has[c] = true
		}
	}
	switch {
	case has['%'] || has['\\']:
		return StyleDiff
	case has['|'] || has['=']:
		return StyleGit
	case has['-'] || has['+']:
		return StyleSnapshot
	}
	return ""
}

// Advice says how to finish a hand resolution of markers of style (what
// a person deletes), for a next-step line.
func Advice(style string) string {
	switch style {
	case StyleGit:
		return "keep the lines you want, delete every <<<<<<<, |||||||, ======= and >>>>>>> line and the lines of the side or base you do not want"
	case StyleDiff:
		return "keep the lines you want, delete every <<<<<<<, %%%%%%%, \\\\\\\\\\\\\\, +++++++ and >>>>>>> line; the lines after %%%%%%% are a diff (a leading - removed, + added): keep the result without its -, + and space prefixes"
	case StyleSnapshot:
		return "keep the lines you want, delete every <<<<<<<, +++++++, ------- and >>>>>>> line and the lines of the side you do not want"
	}
	return "keep the lines you want, delete every line starting with seven of < > | = % + - \\ (a conflict marker)"
}

// IsMarkerLine reports whether l starts like a conflict marker of any
// style (seven or more of < > | = % + - \ then a space or the line's end).
func IsMarkerLine(l string) bool {
	_, ok := markerLineOf(l)
	return ok
}
