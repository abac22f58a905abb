package chezmoisync

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// summary prints the one-line result, then what to do next. A dry run
// says what a real run would do; a failed run says why, never "nothing
// to do".
func (r *run) summary(code int) {
	rec := r.rec
	took := ui.FormatDuration(time.Duration(rec.DurationMS) * time.Millisecond)
	if rec.DryRun {
		word := ""
		if rec.Status != syncstate.Success && rec.Status != syncstate.EditsWaiting {
			word = r.word(rec.Status, code) + ": "
		}
		r.io.Println(fmt.Sprintf("chezmoi-sync (dry run): %s%s (%s)", word, r.dryParts(), took))
	} else {
		r.io.Println(fmt.Sprintf("chezmoi-sync: %s: %s (%s)", r.word(rec.Status, code), r.parts(), took))
	}
	for _, res := range rec.Resolutions {
		r.io.Println("resolved: " + r.describeResolution(res))
	}
	for _, w := range rec.Waiting {
		r.io.Println(fmt.Sprintf("waiting: %s: %s", w.Path, w.Next))
	}
	switch {
	case len(r.recipe) > 0:
		r.io.Println("next: resolve the conflict:")
		for _, l := range r.recipe {
			r.io.Println("    " + l)
		}
	case rec.NextStep != "" && (len(rec.Waiting) == 0 || rec.Status != syncstate.EditsWaiting):
		r.io.Println("next: " + rec.NextStep)
	}
}

func (r *run) word(w string, code int) string {
	switch {
	case code == exitcode.OK && w == syncstate.Success:
		return r.io.Green(w)
	case w == syncstate.Failed || w == syncstate.ConflictsPreserved || w == syncstate.Refused:
		return r.io.Red(w)
	default:
		return r.io.Yellow(w)
	}
}

// parts says what a real run did.
func (r *run) parts() string {
	rec := r.rec
	var parts []string
	add := func(ok bool, s string) {
		if ok {
			parts = append(parts, s)
		}
	}
	add(rec.Undo != nil, "undone: back to "+r.undoTargetID())
	add(rec.Kept != nil, "this host's side kept on "+r.keptBookmark)
	add(len(rec.Resolutions) > 0, fmt.Sprintf("%d resolved", len(rec.Resolutions)))
	add(len(rec.Captured) > 0, fmt.Sprintf("%d captured", len(rec.Captured)))
	add(rec.Committed != "", "committed "+brief.ID(rec.Committed))
	add(rec.Pushed, "pushed")
	add(!rec.Pushed && rec.PendingPush > 0 && !rec.Held, fmt.Sprintf("%d waiting to push", rec.PendingPush))
	add(rec.Held, fmt.Sprintf("%d held by an unpublished undo (chezmoi-sync --publish)", rec.PendingPush))
	add(rec.Incoming > 0 && r.rebasedClean, fmt.Sprintf("%d incoming applied", rec.Incoming))
	add(rec.Incoming > 0 && !r.rebasedClean, fmt.Sprintf("%d incoming not applied", rec.Incoming))
	// HOME written without commits coming in (a first run, an accepted
	// rewind, an edit of the source directory): never "nothing to do".
	add(len(rec.Applied) > 0 && rec.Incoming == 0 && rec.Undo == nil, fmt.Sprintf("%s written", plural(len(rec.Applied), "home file")))
	add(rec.Parked != "", "parked on "+rec.Parked)
	add(len(rec.Removed) > 0, fmt.Sprintf("%d removed", len(rec.Removed)))
	add(len(rec.Backups) > 0, fmt.Sprintf("%d backed up", len(rec.Backups)))
	add(len(rec.Skipped) > 0, fmt.Sprintf("%d skipped", len(rec.Skipped)))
	add(len(rec.Waiting) > 0, fmt.Sprintf("%d waiting for you", len(rec.Waiting)))
	add(len(rec.Tracked) > 0, fmt.Sprintf("%d new file(s) tracked", len(rec.Tracked)))
	add(len(rec.Untracked) > 0, fmt.Sprintf("%d left untracked", len(rec.Untracked)))
	if rec.Error != "" && rec.Status != syncstate.Success && rec.Status != syncstate.EditsWaiting {
		parts = append(parts, rec.Error)
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

// dryParts says what a real run would do, from the plans printed.
func (r *run) dryParts() string {
	var parts []string
	for _, name := range r.planned {
		switch name {
		case "capture":
			parts = append(parts, fmt.Sprintf("would capture %d", len(r.cls.Capture)+len(r.cls.Links)))
		case "push":
			parts = append(parts, fmt.Sprintf("would push %s", plural(r.rec.PendingPush, "commit")))
		case "rebase":
			if len(r.splits) > 0 || r.dryParked {
				parts = append(parts, "would park on "+r.park)
			} else {
				parts = append(parts, "would rebase")
			}
		case "fetch", "index":
		default:
			parts = append(parts, "would "+name)
		}
	}
	if r.rec.Error != "" {
		parts = append(parts, r.rec.Error)
	}
	if len(parts) == 0 {
		return "nothing to do (nothing was changed)"
	}
	out := strings.Join(parts, ", ")
	if strings.HasSuffix(out, "nothing was changed") {
		return out // a refusal's own words
	}
	return out + " (nothing was changed)"
}

func (r *run) undoTargetID() string {
	if r.rec.Undo == nil {
		return ""
	}
	return brief.ID(r.rec.Undo.To)
}
