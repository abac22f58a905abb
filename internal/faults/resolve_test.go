package faults

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

// parked: beta publishes an edit of .bashrc's last line, alpha edits the
// same line and parks (exit 5).
func (w *world) parked(t *testing.T) {
	t.Helper()
	w.beta.WriteHome(".bashrc", w.beta.ReadHome(".bashrc")+"export SIDE=beta\n")
	if r := w.beta.Exec("", "chezmoi-sync"); r.Code != 0 {
		t.Fatalf("beta: %s", r)
	}
	w.alpha.WriteHome(".bashrc", w.alpha.ReadHome(".bashrc")+localEdit)
	if r := w.alpha.Exec("", "chezmoi-sync"); r.Code != exitcode.Conflicts {
		t.Fatalf("alpha should park: %s", r)
	}
}

// TestKillInsideResolutionSquash (attack 3, F5): --keep-local's jj squash
// killed after it exported its bookmarks to git (sync/<host> moved off the
// parked commits, which the squash abandons) but before it recorded its
// operation. No wrapper can stop jj inside one command, so the test kills
// the run right before the squash and leaves the repository exactly as
// that kill would: it runs the squash itself, takes jj's operation back
// and puts git's refs and HEAD where the squash had put them. The next
// plain sync must not lose this host's side (it imported the moved ref,
// jj abandoned the parked commits, and the sync applied the remote's side
// over HOME and deleted sync/<host> on the remote): the conflict is still
// there, HOME keeps the edit, the remote keeps sync/<host>.
func TestKillInsideResolutionSquash(t *testing.T) {
	w := newWorld(t)
	w.parked(t)
	h, src := w.alpha, w.alpha.SourceDir()
	a := startFaulty(t, h, fault{Tool: "jj", Match: " squash ", When: "before"}, "chezmoi-sync", "--keep-local", "~/.bashrc")
	a.kill9(t, a.waitReached(t))
	jjc := func(args ...string) string {
		r := h.Exec(src, "jj", append([]string{"--ignore-working-copy", "--config", "snapshot.auto-track=none()"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("jj %v: %s", args, r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	op := jjc("op", "log", "--no-graph", "-n1", "-T", "id")
	local := `(remote_bookmarks(exact:"main", exact:"origin")..@)`
	// jj's own squash with --ignore-working-copy does not touch the files:
	// as if killed before it rewrote them.
	jjc("squash", "--from", "(roots(conflicts() & "+local+"):: & ::@- & "+local+")", "--into", "@", "-m", "resolve")
	refs := h.Run(src, "git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
	head := h.Run(src, "git", "rev-parse", "HEAD")
	jjc("op", "restore", op)
	for _, l := range strings.Split(strings.TrimSpace(refs), "\n") {
		ref, id, _ := strings.Cut(l, " ")
		h.Run(src, "git", "update-ref", ref, id)
	}
	h.Run(src, "git", "update-ref", "--no-deref", "HEAD", strings.TrimSpace(head))

	r := h.Exec("", "chezmoi-sync")
	if r.Code == 0 {
		t.Fatalf("the sync after the killed squash succeeded: this host's side was dropped:\n%s\n%s", r, diag(h))
	}
	if !strings.Contains(h.ReadHome(".bashrc"), localEdit) {
		t.Fatalf("this host's side is gone from HOME:\n%s\n%s\n%s", h.ReadHome(".bashrc"), r, diag(h))
	}
	if got := testharness.RemoteFile(t, w.remote, "sync/alpha", "dot_bashrc"); !strings.Contains(got, localEdit) {
		t.Fatalf("sync/alpha is gone from the remote:\n%s\n%s", r, diag(h))
	}
	// And the resolution the user asked for still works.
	if r := h.Exec("", "chezmoi-sync", "--keep-local", "~/.bashrc"); r.Code != 0 {
		t.Fatalf("--keep-local after the recovery: %s\n%s", r, diag(h))
	}
	if got := testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"); !strings.Contains(got, localEdit) {
		t.Fatalf("this host's side was not published:\n%s", got)
	}
}

// TestKillAfterKeptBookmark (attack 3, F4): --take-remote killed right
// after it put this host's side on kept/<host>/<time> (and, a second
// case, after it pushed): no record names the side not taken, yet
// chezmoi-show-conflicts --history must list it, from the bookmark.
func TestKillAfterKeptBookmark(t *testing.T) {
	for _, p := range []struct {
		name  string
		fault fault
	}{
		{"after-bookmark", fault{Tool: "jj", Match: " bookmark set kept/", When: "after"}},
		{"after-push", fault{Tool: "jj", Match: " git push ", When: "after"}},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.parked(t)
			h := w.alpha
			a := startFaulty(t, h, p.fault, "chezmoi-sync", "--take-remote")
			a.kill9(t, a.waitReached(t))
			// Finished by this sync, or the conflict still waits (exit 5,
			// with its recipe): either way nothing is lost.
			if r := h.Exec("", "chezmoi-sync"); r.Code != 0 && r.Code != exitcode.Conflicts {
				t.Fatalf("the sync after the killed resolution: %s\n%s", r, diag(h))
			}
			hist := h.Exec("", "chezmoi-show-conflicts", "--history")
			if hist.Code != 0 || !strings.Contains(hist.Stdout, "kept/alpha/") {
				t.Fatalf("--history does not name the side not taken:\n%s\n%s", hist, h.Run(h.SourceDir(), "jj", "--ignore-working-copy", "bookmark", "list"))
			}
			if !strings.Contains(hist.Stdout, "bring it back: ") {
				t.Fatalf("no command brings it back:\n%s", hist)
			}
		})
	}
}
