package faults

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// TestKillUndoNeverPublishes (attack 3, F9): `chezmoi-sync --undo` of a
// run that brought another host's edit in is held (the remote keeps what it
// takes back). Killed at any point of making its revert, the next plain
// sync must not publish the revert: either the undo did not happen, or it
// is held, recognised from the revert commit itself (the undo/<host>
// bookmark was not set yet, and is deleted here to make sure).
func TestKillUndoNeverPublishes(t *testing.T) {
	points := []struct {
		name  string
		fault fault
		held  bool // the revert is under the working copy after the kill
	}{
		{"after-new", fault{Tool: "jj", Match: " new --no-edit ", When: "after"}, false},
		{"after-restore", fault{Tool: "jj", Match: " restore --from ", When: "after"}, false},
		// The working copy is on the revert, the bookmark not set yet.
		{"after-move", fault{Tool: "jj", Match: " diff --from remote_bookmarks(", When: "after"}, true},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.incoming(t)
			if r := w.alpha.Exec("", "chezmoi-sync"); r.Code != 0 {
				t.Fatalf("alpha takes beta's edit: %s", r)
			}
			a := startFaulty(t, w.alpha, p.fault, "chezmoi-sync", "--undo")
			a.kill9(t, a.waitReached(t))
			src := w.alpha.SourceDir()
			if out := w.alpha.Run(src, "jj", "bookmark", "list"); strings.Contains(out, "undo/alpha") {
				w.alpha.Run(src, "jj", "bookmark", "delete", "undo/alpha")
			}
			r := w.alpha.Exec("", "chezmoi-sync")
			if r.Code != 0 {
				t.Fatalf("the sync after the killed undo: %s\n%s", r, diag(w.alpha))
			}
			if got := testharness.RemoteFile(t, w.remote, "main", "dot_gitconfig"); !strings.Contains(got, incomingEdit) {
				t.Fatalf("a plain sync published the killed undo's revert (beta's edit is gone from the remote):\n%s\n%s\n%s", got, r, diag(w.alpha))
			}
			rec, err := syncstate.Load(w.alpha.StateDir())
			must(t, err)
			if rec.Held != p.held {
				t.Fatalf("held = %v after the kill, want %v:\n%s\n%s", rec.Held, p.held, r, diag(w.alpha))
			}
			if p.held && strings.Contains(w.alpha.ReadHome(".gitconfig"), incomingEdit) {
				t.Fatalf("the held undo did not reach HOME:\n%s", w.alpha.ReadHome(".gitconfig"))
			}
		})
	}
}
