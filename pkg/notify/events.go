package notify

import (
	"fmt"
	"strings"

	"github.com/nixdots/nixdots/pkg/syncstate"
)

// SyncEvent builds the notification for a chezmoi-sync run, and says
// whether the run is worth one. Parked conflicts and failures are; success
// is not (a timer that succeeds every 15 minutes must stay silent), and
// neither is fetch-failed (being offline is normal for a laptop; the next
// run catches up), interrupted (someone stopped it on purpose) or
// edits-waiting (it repeats on every run until the user acts; chezmoi-status
// --check reports it).
func SyncEvent(r *syncstate.Record) (Event, bool) {
	ev := Event{Tool: "chezmoi-sync", Host: r.Host, Status: r.Status, Time: r.Start, Record: r}
	switch r.Status {
	case syncstate.ConflictsPreserved:
		ev.Urgency = Critical
		ev.Summary = fmt.Sprintf("chezmoi-sync: conflicts parked on %s", r.Host)
		var paths []string
		for _, c := range r.Conflicts {
			paths = append(paths, c.Paths...)
		}
		body := "Your edits are kept"
		if r.Parked != "" {
			body += " on bookmark " + r.Parked
		}
		body += "."
		if len(paths) > 0 {
			body += " Conflicting: " + strings.Join(firstN(paths, 5), ", ") + "."
		}
		ev.Body = joinNext(body, r.NextStep, "Run chezmoi-show-conflicts to see and resolve them.")
	case syncstate.Failed, syncstate.PushFailed, syncstate.Refused:
		ev.Urgency = Normal
		ev.Summary = fmt.Sprintf("chezmoi-sync: %s on %s", r.Status, r.Host)
		ev.Body = joinNext(r.Error, r.NextStep, "Run chezmoi-status for details.")
	default:
		return ev, false
	}
	return ev, true
}

// Rebuild is the part of a rebuild-smart run a notification needs.
type Rebuild struct {
	Host        string
	Outcome     string // success, nothing-to-switch, units-failed, failed, rolled-back, vetoed, interrupted
	Action      string // switch, boot, test, build
	Generation  int
	FailedPhase string
	Error       string
	NextStep    string
	Unattended  bool
	Diff        string // what changed, one line (nixsys.ClosureDiff.Summary)
	Record      any    // the run's JSON summary, sent to the webhook
}

// RebuildEvent builds the notification for a rebuild-smart run, and says
// whether to send it: always, except an unattended run that found nothing
// to switch (an hourly timer must not announce every idle hour), an
// interrupted one, and the non-runs locked, bad-input and dry-run.
func RebuildEvent(r Rebuild) (Event, bool) {
	ev := Event{Tool: "rebuild-smart", Host: r.Host, Status: r.Outcome, Record: r.Record}
	gen := ""
	if r.Generation > 0 {
		gen = fmt.Sprintf(" generation %d", r.Generation)
	}
	switch r.Outcome {
	case "success":
		ev.Urgency = Low
		verb := map[string]string{"boot": "will boot", "test": "is testing", "build": "built"}[r.Action]
		if verb == "" {
			verb = "switched to"
		}
		what := strings.TrimPrefix(gen, " ")
		if what == "" || r.Action == "build" {
			what = "the new system"
		}
		ev.Summary = fmt.Sprintf("rebuild-smart: %s %s %s", r.Host, verb, what)
		ev.Body = "Changes: none shown."
		if r.Diff != "" {
			ev.Body = "Changes: " + r.Diff + "."
		}
		if r.Action == "boot" {
			ev.Body += "\nReboot to activate it."
		}
	case "nothing-to-switch":
		if r.Unattended {
			return ev, false
		}
		ev.Urgency = Low
		ev.Summary = fmt.Sprintf("rebuild-smart: %s is up to date", r.Host)
		ev.Body = "Nothing to switch: the running system is the one the flake builds."
	case "units-failed":
		ev.Urgency = Critical
		ev.Summary = fmt.Sprintf("rebuild-smart: %s switched to%s, some units failed", r.Host, gen)
		ev.Body = joinNext(r.Error, r.NextStep, "See systemctl --failed.")
		if r.Diff != "" {
			ev.Body = "Changes: " + r.Diff + ".\n" + ev.Body
		}
	case "rolled-back":
		// The new system failed its checks (or was not confirmed on a
		// remote target) and the previous one was put back: someone
		// should look, but the machine is as it was.
		ev.Urgency = Critical
		ev.Summary = fmt.Sprintf("rebuild-smart: %s rolled back: the new system%s failed", r.Host, gen)
		ev.Body = joinNext(r.Error, r.NextStep, "The previous generation runs again.")
	case "declined":
		ev.Urgency = Low
		ev.Summary = fmt.Sprintf("rebuild-smart: %s: new system not activated (answered no)", r.Host)
		ev.Body = joinNext("", r.NextStep, "Nothing was activated.")
	case "vetoed":
		ev.Urgency = Normal
		ev.Summary = fmt.Sprintf("rebuild-smart: %s rebuild vetoed by a pre-rebuild hook", r.Host)
		ev.Body = joinNext(r.Error, r.NextStep, "Nothing was changed.")
	case "interrupted", "locked", "bad-input", "dry-run", "":
		// Stopped on purpose, another run owns the lock (and notifies),
		// refused input already on the terminal, or nothing was meant to
		// happen.
		return ev, false
	default:
		ev.Urgency = Critical
		phase := r.FailedPhase
		if phase == "" {
			phase = "the rebuild"
		}
		ev.Summary = fmt.Sprintf("rebuild-smart: %s failed in %s", r.Host, phase)
		ev.Body = joinNext(r.Error, r.NextStep, "The running system is unchanged.")
	}
	return ev, true
}

func joinNext(msg, next, fallback string) string {
	if next == "" {
		next = fallback
	}
	if msg == "" {
		return next
	}
	return msg + "\n" + next
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}
