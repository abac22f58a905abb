package rollback

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

// View is the history joined with what the system says: which generation
// is running and which profile links still exist. Everything here is pure so
// the selection rules are table-tested without a system.
type View struct {
	Entries []history.Entry
	// Links maps generation number to its toplevel for every profile link
	// that exists; a generation missing here was garbage-collected (or
	// never existed).
	Links map[int]string
	// ProfileGen is the generation the system profile points at (0:
	// unknown), RunningToplevel what /run/current-system resolves to.
	ProfileGen      int
	RunningToplevel string
	// SystemKnown is false when the machine has no profile at all (a
	// repository-only rollback on a non-NixOS box, or a broken root).
	SystemKnown bool
	// Root is the system root the links were read under (for messages).
	Root string
}

// NewView reads the system side.
func NewView(entries []history.Entry, sys *nixsys.System) View {
	v := View{Entries: entries, Links: map[int]string{}, Root: sys.Root}
	gens, _ := sys.Generations()
	for _, g := range gens {
		v.Links[g.Number] = g.Toplevel
		if g.Current {
			v.ProfileGen = g.Number
		}
	}
	v.SystemKnown = len(gens) > 0
	if t, err := sys.CurrentSystem(); err == nil {
		v.RunningToplevel = t
	}
	return v
}

// GenOf is the generation of e: recorded, else found from its toplevel
// among the profile links (a pre-switch record of a `test` activation has
// none).
func (v View) GenOf(e history.Entry) int {
	if e.Generation > 0 {
		return e.Generation
	}
	if e.Toplevel != "" {
		best := 0
		for n, t := range v.Links {
			if t == e.Toplevel && n > best {
				best = n
			}
		}
		return best
	}
	return 0
}

// Current is the running generation: the profile link /run/current-system
// matches (the profile's own when both match), else the profile's, else —
// no system to ask — the generation of the last build or rollback the
// history records.
func (v View) Current() int {
	if v.RunningToplevel != "" {
		if v.Links[v.ProfileGen] == v.RunningToplevel {
			return v.ProfileGen
		}
		best := 0
		for n, t := range v.Links {
			if t == v.RunningToplevel && n > best {
				best = n
			}
		}
		if best > 0 {
			return best
		}
	}
	if v.ProfileGen > 0 {
		return v.ProfileGen
	}
	for i := len(v.Entries) - 1; i >= 0; i-- {
		e := v.Entries[i]
		if e.Successful() || e.Outcome == history.OutcomeRolledBack {
			if g := v.GenOf(e); g > 0 {
				return g
			}
		}
	}
	return 0
}

// Build is one rollback target: a successful build, its generation when it
// was activated, and the commit it was built from.
type Build struct {
	Generation int
	Commit     string
	Toplevel   string
	Entry      history.Entry // the record describing it best
	// DotfilesCommit and DotfilesSource are the chezmoi source commit (and
	// directory) the build was made with (dotfiles.go).
	DotfilesCommit string
	DotfilesSource string
	// dotfilesAt is 1 + the index in View.Entries of the record naming
	// them (0: none), for whose history named them.
	dotfilesAt int
}

// Builds merges the successful entries per generation (a pre-switch record
// and rebuild-smart's record of the same activation are one build; the one
// naming a commit describes it). Builds without a generation (--build
// runs) are kept per commit. Oldest first.
func (v View) Builds() []Build {
	byGen := map[int]*Build{}
	var order []*Build
	byCommit := map[string]*Build{}
	for i, e := range v.Entries {
		if !e.Successful() {
			continue
		}
		g := v.GenOf(e)
		var b *Build
		switch {
		case g > 0:
			b = byGen[g]
			if b != nil && b.Toplevel != "" && e.Toplevel != "" && b.Toplevel != e.Toplevel {
				// nix-env numbers a new generation after the highest
				// existing link, so after a rollback and a garbage
				// collection a number comes back for another system:
				// the later build replaces the earlier one.
				*b = Build{Generation: g}
			}
			if b == nil {
				b = &Build{Generation: g}
				byGen[g] = b
				order = append(order, b)
			}
		case e.Commit != "":
			b = byCommit[e.Commit]
			if b == nil {
				b = &Build{}
				byCommit[e.Commit] = b
				order = append(order, b)
			}
		default:
			continue
		}
		if e.Commit != "" || b.Commit == "" {
			b.Entry = e
		}
		if e.Commit != "" {
			b.Commit = e.Commit
		}
		if e.Toplevel != "" {
			b.Toplevel = e.Toplevel
		}
		if e.DotfilesCommit != "" {
			b.DotfilesCommit, b.DotfilesSource, b.dotfilesAt = e.DotfilesCommit, e.DotfilesSource, i+1
		}
	}
	out := make([]Build, 0, len(order))
	for _, b := range order {
		if b.Toplevel == "" {
			b.Toplevel = v.Links[b.Generation]
		}
		out = append(out, *b)
	}
	return out
}

// recorded reports whether a history record describes b (not so for a
// profile link --system-only switches to that the history does not know).
func (b Build) recorded() bool { return b.Entry.Outcome != "" }

// Choice is what the user asked for.
type Choice struct {
	To         string // --to GENERATION
	ToCommit   string // --to-commit, already resolved to a full id when possible
	SystemOnly bool
	RepoOnly   bool
}

// badInput is an error the user fixes by asking for something else: exit 2,
// nothing changed.
func badInput(format string, a ...any) error {
	return exitcode.UsageError(fmt.Errorf(format, a...))
}

// Select picks the build to go back to.
func (v View) Select(c Choice) (Build, error) {
	builds := v.Builds()
	if len(builds) == 0 {
		return Build{}, badInput("the rebuild history has no successful build to go back to")
	}
	var b Build
	var err error
	switch {
	case c.To != "":
		b, err = v.byGeneration(builds, c)
	case c.ToCommit != "":
		b, err = v.byCommit(builds, c)
	default:
		b, err = v.previous(builds, c)
	}
	if err != nil || !b.recorded() {
		return b, err // (--system-only to a link the history does not describe)
	}
	if !c.RepoOnly {
		if b.Generation == 0 {
			return Build{}, badInput("the build of commit %s was never activated (no generation); use --repo-only", brief.ID(b.Commit))
		}
		if err := v.restorable(b); err != nil {
			if !v.SystemKnown {
				return Build{}, exitcode.UsageError(err)
			}
			if link, ok := v.Links[b.Generation]; ok && c.SystemOnly && c.To != "" {
				// The link holds a system the history does not record
				// (its number was reused): like a generation with no
				// history at all, --system-only may switch to it.
				return Build{Generation: b.Generation, Toplevel: link}, nil
			}
			return Build{}, badInput("%v; pick another with --to (see --list), or --repo-only", err)
		}
		b.Toplevel = v.Links[b.Generation]
	}
	if !c.SystemOnly && b.Commit == "" && c.RepoOnly {
		return Build{}, badInput("no commit is recorded for generation %d (activated outside rebuild-smart); nothing to do with --repo-only", b.Generation)
	}
	return b, nil
}

// byGeneration is --to N: the build of generation N; for --system-only
// also a generation the history does not know, if its link exists.
func (v View) byGeneration(builds []Build, c Choice) (Build, error) {
	n, err := strconv.Atoi(strings.TrimSpace(c.To))
	if err != nil || n <= 0 {
		return Build{}, badInput("--to %q: a generation is a positive number (see --list)", c.To)
	}
	var b Build
	found := false
	for _, x := range builds {
		if x.Generation == n {
			b, found = x, true
		}
	}
	if found {
		return b, nil
	}
	if _, ok := v.Links[n]; ok && c.SystemOnly {
		return Build{Generation: n, Toplevel: v.Links[n]}, nil
	}
	if _, ok := v.Links[n]; ok {
		return Build{}, badInput("generation %d is not in the rebuild history, so its commit is unknown; use --system-only to switch to it anyway", n)
	}
	return Build{}, badInput("unknown generation %d: not in the rebuild history (known: %s) and no profile link for it", n, knownGens(builds))
}

// byCommit is --to-commit: the newest activated build of that commit (one
// whose system can still be restored over one whose system is gone,
// unless only the repository moves); one never activated (--build) only
// when there is no other.
func (v View) byCommit(builds []Build, c Choice) (Build, error) {
	var b Build
	found := false
	for _, x := range builds {
		if x.Commit == "" || x.Commit != c.ToCommit && (len(c.ToCommit) < 7 || !strings.HasPrefix(x.Commit, c.ToCommit)) {
			continue
		}
		if found && x.Commit != b.Commit {
			return Build{}, badInput("--to-commit %s matches several builds; give more of the commit id", c.ToCommit)
		}
		better := x.Generation >= b.Generation
		if !c.RepoOnly && found && (v.restorable(x) == nil) != (v.restorable(b) == nil) {
			better = v.restorable(x) == nil
		}
		if !found || better {
			b = x
		}
		found = true
	}
	if !found {
		return Build{}, badInput("no successful build of commit %s in the rebuild history (see --list)", brief.ID(c.ToCommit))
	}
	return b, nil
}

// previous is the default: the newest build below the running generation
// that can be restored. One whose system is gone (garbage-collected, or
// its number reused by another system) is passed over, as --list shows it.
func (v View) previous(builds []Build, c Choice) (Build, error) {
	limit := v.Current()
	if limit == 0 {
		// Nothing says what runs: "previous" is the build before the
		// newest one.
		for _, x := range builds {
			limit = max(limit, x.Generation)
		}
	}
	var b Build
	found, skippedGen := false, 0
	var skipped error
	for _, x := range builds {
		if x.Generation <= 0 || x.Generation >= limit || found && x.Generation <= b.Generation {
			continue
		}
		if err := v.restorable(x); err != nil && !c.RepoOnly {
			if x.Generation > skippedGen {
				skipped, skippedGen = err, x.Generation
			}
			continue
		}
		b, found = x, true
	}
	switch {
	case found:
		return b, nil
	case skipped != nil:
		return Build{}, badInput("no successful build before generation %d can be restored: %v", limit, skipped)
	default:
		return Build{}, badInput("no successful build before generation %d in the rebuild history (see --list)", limit)
	}
}

// restorable reports whether b's system can still be switched to: its
// profile link exists and holds the system the history recorded. nix-env
// numbers a new generation after the highest existing link, so after a
// garbage collection a number can come back for another system; the link
// then holds that one, and switching to "generation N" would run a system
// the record (and its commit) does not describe. --list marks the same
// builds garbage-collected (Lines: Available).
func (v View) restorable(b Build) error {
	link, ok := v.Links[b.Generation]
	switch {
	case ok && (b.Toplevel == "" || link == b.Toplevel):
		return nil
	case !v.SystemKnown:
		return errNoProfile(v.Root)
	case ok:
		return fmt.Errorf("generation %d cannot be restored: its system %s was garbage-collected and the link system-%d-link now holds another system, %s, which the history does not describe (--system-only --to %d switches to that one)", b.Generation, b.Toplevel, b.Generation, link, b.Generation)
	}
	if when := v.deletedAt(b.Generation); when != "" {
		return fmt.Errorf("generation %d was deleted by rebuild-rollback --clean on %s", b.Generation, when)
	}
	return fmt.Errorf("generation %d was garbage-collected (its profile link system-%d-link is missing)", b.Generation, b.Generation)
}

func errNoProfile(root string) error {
	return fmt.Errorf("no system profile %s/nix/var/nix/profiles/system to switch; use --repo-only on a machine without one", strings.TrimSuffix(root, "/"))
}

// deletedAt is when --clean deleted generation g ("" if it did not).
func (v View) deletedAt(g int) string {
	for i := len(v.Entries) - 1; i >= 0; i-- {
		if e := v.Entries[i]; e.Outcome == history.OutcomeDeleted && e.Generation == g {
			return e.Time.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return ""
}

func knownGens(builds []Build) string {
	var s []string
	for _, b := range builds {
		if b.Generation > 0 {
			s = append(s, strconv.Itoa(b.Generation))
		}
	}
	sort.Slice(s, func(i, j int) bool { a, _ := strconv.Atoi(s[i]); b, _ := strconv.Atoi(s[j]); return a < b })
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
