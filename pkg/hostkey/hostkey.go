// Package hostkey is the one rule that turns a host name into the form used
// in sync/<host> bookmarks, commit subjects and sync records, shared by
// chezmoi-sync (which writes them) and the read-only commands (which look
// them up), so the two can never disagree.
package hostkey

import "strings"

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
