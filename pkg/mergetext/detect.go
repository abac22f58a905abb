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
