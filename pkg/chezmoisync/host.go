package chezmoisync

import "strings"

// BookmarkHost turns a host name into something safe inside a bookmark
// (sync/<host>), a git ref and a commit subject: letters, digits, '.', '_'
// and '-' are kept; every other run of characters (spaces, shell and revset
// metacharacters, '/', '@', non-ASCII) becomes one '-'; leading and trailing
// '-' and '.' are dropped, ".." becomes ".", a trailing ".lock" is dropped
// (git refuses it), the result is cut to 63 characters, and an empty result
// is "host".
func BookmarkHost(name string) string {
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

// ParkBookmark is the bookmark that holds this host's parked commits.
func ParkBookmark(host string) string { return "sync/" + BookmarkHost(host) }
