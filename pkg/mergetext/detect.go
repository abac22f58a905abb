package mergetext

import (
	"bytes"
	"regexp"
)

// conflictBlock is a complete conflict: a line that opens one (seven <,
// alone or followed by a space) and, on a later line, one that closes it
// (seven >). It is the rule chezmoi-sync applies to home files before
// capturing them, so chezmoi-status predicts the same answer.
var conflictBlock = regexp.MustCompile(`(?m)^<<<<<<<( .*)?$(?s:.*?)^>>>>>>>( .*)?$`)

// HasConflict reports text holding a complete conflict block. Binary data
// (a NUL byte) never does.
func HasConflict(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	return conflictBlock.Match(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))
}

// markerLine is any line that starts like a conflict marker of jj's or
// git's: seven or more <, >, %, \, + or | and then a space or the line's
// end (======= and ------- alone are too common in dotfiles to count).
var markerLine = regexp.MustCompile(`(?m)^(<{7,}|>{7,}|%{7,}|\\{7,}|\+{7,}|\|{7,})( .*)?\r?$`)

// HasMarkerLines reports data holding any line that starts like a
// conflict marker: a conflict not fully resolved (a half-deleted one jj no
// longer reads as one). Binary data counts too: jj writes its markers into
// a conflicted binary file as well.
func HasMarkerLines(data []byte) bool {
	return markerLine.Match(data)
}
