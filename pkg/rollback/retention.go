package rollback

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// Retention is the clean-up policy: what --keep, --keep-since and
// --[no-]keep-pinned ask for. The generations that always stay (the
// profile's current one, the running and booted systems, the last
// successful build) are not a choice and have no field.
type Retention struct {
	Keep       int           // the Keep newest generations stay
	KeepSince  time.Duration // generations made within this stay (0: none by age)
	KeepPinned bool          // builds of pushed tips and tags stay
}

// Why a generation stays. Each kept generation carries every reason that
// applies, so --dry-run can say all of them.
const (
	ReasonProfile  = "boots next (the system profile points at it)"
	ReasonRunning  = "running system (/run/current-system)"
	ReasonBooted   = "booted system (/run/booted-system)"
	ReasonLastGood = "last successful build"
)

// Pin is a commit that must keep its build: a remote branch's tip or a tag.
type Pin struct {
	Ref    string `json:"ref"`    // origin/main, tag v1.2 (as the user knows it)
	Commit string `json:"commit"` // full id
}

// RetentionFacts is everything the policy looks at, read once before the
// plan is made (the rebuild lock is held, so none of it moves).
type RetentionFacts struct {
	Generations []nixsys.Generation // the profile's links, oldest first
	Running     string              // /run/current-system's toplevel ("" unknown)
	Booted      string              // /run/booted-system's toplevel ("" unknown)
	Now         time.Time
	View        View  // the history joined with the links
	Pins        []Pin // the remote tips and tags (read only when KeepPinned)
}

// Decision is the plan for one generation: delete it or keep it, and why.
type Decision struct {
	Generation int       `json:"generation"`
	Toplevel   string    `json:"toplevel"`
	Time       time.Time `json:"time"`             // when the link was made (nix's own notion of the generation's age)
	Commit     string    `json:"commit,omitempty"` // the build's commit, when the history knows it
	Delete     bool      `json:"delete"`
	// Reasons says why it stays (every rule that keeps it), or, for one
	// that goes, which rules it fell outside of.
	Reasons []string `json:"reasons"`
}

// Plan applies r to the facts: one decision per generation, oldest first.
// It is a pure function, so a dry run and the real run that follows it
// make the same decisions from the same facts, and its rules are
// table-tested without a system.
func (r Retention) Plan(f RetentionFacts) []Decision {
	gens := append([]nixsys.Generation(nil), f.Generations...)
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	builds := f.View.buildsByGeneration()
	lastGood := f.View.lastGood()
	var pinned map[int][]Pin
	if r.KeepPinned {
		pinned = pinnedGenerations(builds, f.Pins)
	}

	out := make([]Decision, 0, len(gens))
	for i, g := range gens {
		d := Decision{Generation: g.Number, Toplevel: g.Toplevel, Time: g.Time}
		// The recorded build is this generation's only while the link
		// still holds its system: nix reuses a number after a deletion.
		b, recorded := builds[g.Number]
		recorded = recorded && b.Toplevel == g.Toplevel
		if recorded {
			d.Commit = b.Commit
		}
		keep := func(why string) { d.Reasons = append(d.Reasons, why) }
		if g.Current {
			keep(ReasonProfile)
		}
		if f.Running != "" && g.Toplevel == f.Running {
			keep(ReasonRunning)
		}
		if f.Booted != "" && g.Toplevel == f.Booted {
			keep(ReasonBooted)
		}
		if lastGood > 0 && g.Number == lastGood {
			keep(ReasonLastGood)
		}
		if recorded {
			for _, p := range pinned[g.Number] {
				keep("pinned: " + p.Ref + " is " + brief.ID(p.Commit))
			}
		}
		if newest := len(gens) - i; newest <= r.Keep {
			keep(fmt.Sprintf("among the %d newest", r.Keep))
		}
		if r.KeepSince > 0 && !g.Time.Before(f.Now.Add(-r.KeepSince)) {
			keep("made within " + formatAge(r.KeepSince))
		}
		if len(d.Reasons) == 0 {
			d.Delete = true
			d.Reasons = r.deleteReasons(f.Now.Sub(g.Time))
		}
		out = append(out, d)
	}
	return out
}

// deleteReasons names the rules a deleted generation fell outside of.
func (r Retention) deleteReasons(age time.Duration) []string {
	var why []string
	if r.Keep > 0 {
		why = append(why, fmt.Sprintf("not among the %d newest", r.Keep))
	} else {
		why = append(why, "--keep 0")
	}
	if r.KeepSince > 0 {
		why = append(why, fmt.Sprintf("made %s ago, before the last %s", formatAge(age), formatAge(r.KeepSince)))
	}
	if r.KeepPinned {
		why = append(why, "not a pinned build")
	}
	return why
}

// buildsByGeneration is Builds keyed by generation (builds that made none
// are not generations to keep or delete).
func (v View) buildsByGeneration() map[int]Build {
	out := map[int]Build{}
	for _, b := range v.Builds() {
		if b.Generation > 0 {
			out[b.Generation] = b
		}
	}
	return out
}

// lastGood is the generation of the newest build recorded as a plain
// success (not units-failed, not checks-failed, not merely "activated" by
// the pre-switch check, which runs before the switch and so cannot know how
// it went) whose profile link still holds that build's system. 0: none.
func (v View) lastGood() int {
	for i := len(v.Entries) - 1; i >= 0; i-- {
		e := v.Entries[i]
		if e.Outcome != history.OutcomeSuccess {
			continue
		}
		g := v.GenOf(e)
		if g > 0 && v.Links[g] != "" && (e.Toplevel == "" || v.Links[g] == e.Toplevel) {
			return g
		}
	}
	return 0
}

// pinnedGenerations maps each generation holding the build of a pinned
// commit to the pins naming it. A dirty build (made from uncommitted
// changes on top of the commit) is not that commit's build, and a link now
// holding another system (a number nix reused) is not the build either.
func pinnedGenerations(builds map[int]Build, pins []Pin) map[int][]Pin {
	byCommit := map[string][]Pin{}
	for _, p := range pins {
		byCommit[p.Commit] = append(byCommit[p.Commit], p)
	}
	out := map[int][]Pin{}
	for g, b := range builds {
		if b.Commit == "" || b.Entry.Dirty {
			continue
		}
		if ps := byCommit[b.Commit]; len(ps) > 0 {
			out[g] = ps
		}
	}
	return out
}

// formatAge prints a duration the way people count generations' ages:
// days when it is at least a day, else Go's form.
func formatAge(d time.Duration) string {
	if d >= 24*time.Hour {
		days := d.Hours() / 24
		if days == float64(int(days)) {
			return fmt.Sprintf("%dd", int(days))
		}
		return fmt.Sprintf("%.1fd", days)
	}
	return d.Round(time.Second).String()
}

// toDelete lists the generations a plan deletes, ascending.
func toDelete(plan []Decision) []int {
	var out []int
	for _, d := range plan {
		if d.Delete {
			out = append(out, d.Generation)
		}
	}
	return out
}

// joinInts prints 1, 3, 5.
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
