// Package hostkey is the one rule that turns a host name into the form used
// in sync/<host> bookmarks, commit subjects and sync records, shared by
// chezmoi-sync (which writes them) and the read-only commands (which look
// them up), so the two can never disagree.
package hostkey

import (
	"strconv"
	"strings"
)

// Sanitize turns a host name into something safe inside a bookmark
// (sync/<host>), a git ref and a commit subject: letters, digits, '.', '_'
// and '-' are kept; every other run of characters (spaces, shell and revset
// metacharacters, '/', '@', non-ASCII) becomes one '-'; leading and trailing
// '-' and '.' are dropped, ".." becomes ".", a trailing ".lock" is dropped
// (git refuses it), the result is cut to 63 characters, and an empty result
// is "host".
func Sanitize(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			if !dash {
				b.WriteByte('-')
				dash = true
			}
			continue
		}
		dash = r == '-'
		if dash && b.Len() > 0 && strings.HasSuffix(b.String(), "-") {
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	s = strings.Trim(s, "-.")
	s = strings.Trim(strings.TrimSuffix(s, ".lock"), "-.")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-.")
	}
	if s == "" {
		return "host"
	}
	return s
}

// ParkPrefix starts every bookmark chezmoi-sync parks conflicting commits on.
const ParkPrefix = "sync/"

// ParkBookmark is the bookmark that holds a host's parked commits:
// sync/<sanitised host>.
func ParkBookmark(host string) string { return ParkPrefix + Sanitize(host) }

// StampLayout is the time in the names of what a sync keeps
// (kept/<host>/<time>, rewound/<host>/<time>, backups/<time>): the run's
// start, UTC, to the second.
const StampLayout = "20060102T150405Z"

// Numbered is the i-th free-name candidate for base: base, then base-2,
// base-3, ... (runs that start in one second share a stamp, and a name a
// run kept is never reused).
func Numbered(base string, i int) string {
	if i <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(i)
}

// SplitNumbered reverses Numbered: the base and the counter (1 for a
// plain base, 0 when the suffix is not a counter).
func SplitNumbered(name string) (base string, i int) {
	base, n, found := strings.Cut(name, "-")
	if !found {
		return name, 1
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 2 {
		return base, 0
	}
	return base, i
}
