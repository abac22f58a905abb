package chezmoisync

import (
	"bytes"
	"context"
	"os"
	"strings"

	"github.com/nixdots/nixdots/pkg/mergetext"
)

// Some dotfiles hold conflict-marker lines as their real content (a git
// tutorial, a merge-tool test file). The sync cannot tell a new one from a
// merge left half-done, so a NEW file with a marker block is not published
// by the sync (waiting, kind markers): it stays on this host. Once a version holding the marker
// lines is published, those lines are content: a later edit that adds no
// marker line of its own is captured and published like any other.

// markerSet is the marker-looking lines of data (mergetext.IsMarkerLine:
// any style's, seven or more of one marker character).
func markerSet(data []byte) map[string]bool {
	out := map[string]bool{}
	if bytes.IndexByte(data, 0) >= 0 {
		return out
	}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if mergetext.IsMarkerLine(l) {
			out[l] = true
		}
	}
	return out
}

// knownMarkers: every marker line of now is already in before (the
// published or source version), so they are the file's content.
func knownMarkers(now, before []byte) bool {
	had := markerSet(before)
	if len(had) == 0 {
		return false
	}
	for l := range markerSet(now) {
		if !had[l] {
			return false
		}
	}
	return true
}

// markersPublished: the file at path (repository-relative) holds no marker
// line that its version at rev lacks.
func (r *run) markersPublished(ctx context.Context, rev, path string) bool {
	now, err := os.ReadFile(r.workTree + "/" + path)
	if err != nil {
		return false
	}
	before, err := r.jj.FileShow(ctx, rev, path)
	if err != nil {
		return false
	}
	return knownMarkers(now, before)
}

// markersNext is the advice for a file holding conflict-marker lines: it
// never tells to delete lines that may be the file's content.
func markersNext(published bool) string {
	if published {
		return "it holds conflict-marker lines its published version does not have: if a merge left them, finish it (keep what you want, delete those marker lines), then run chezmoi-sync again; if they are the file's content, take it out of chezmoi-sync's hands: chezmoi forget FILE"
	}
	return "a new file holding conflict-marker lines: chezmoi-sync cannot tell them from a merge left half-done, so it does not publish it; if a merge left them, finish it (the next sync publishes the file); if they are the file's real content, it stays on this host (chezmoi forget FILE stops this message)"
}
