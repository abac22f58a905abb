package corpus

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// pair starts a scenario on snap with two hosts, alpha and beta.
func pair(t *testing.T, snap Snapshot) (f *Fleet, a, b *Host) {
	t.Helper()
	Scenario(t)
	f = NewFleet(t, snap, "alpha", "beta")
	return f, f.Host("alpha"), f.Host("beta")
}

// plainEdits: each host edits a different plain file (comments led by
// "#"); both edits reach main and the other HOME, every run exits 0.
func plainEdits(t *testing.T, snap Snapshot, alphaFile, betaFile string) (*Fleet, *Host, *Host) {
	f, a, b := pair(t, snap)
	e1 := a.AppendLine(alphaFile, "#", "plain edit")
	e2 := b.AppendLine(betaFile, "#", "plain edit")
	syncOK(t, a, b, a)
	assert.True(t, e1.In(f.Remote, "main"), "alpha's edit is on main")
	assert.True(t, e2.In(f.Remote, "main"), "beta's edit is on main")
	arrived(t, b, e1)
	arrived(t, a, e2)
	f.Check()
	return f, a, b
}

// templateEditKept: alpha edits the targets of templates; beta changes a
// template source (when upstream is set) or makes an unrelated edit. The
// apply that follows never overwrites alpha's edits, which are reported.
func templateEditKept(t *testing.T, snap Snapshot, upstream string, targets ...string) {
	f, a, b := pair(t, snap)
	var edits []*Edit
	for _, target := range targets {
		edits = append(edits, a.AppendLine(target, "#", "template target edited"))
	}
	if upstream != "" {
		b.EditSource(upstream, "template changed", Appending("# TOKEN"))
	}
	syncAll(t, a, b, a)
	for _, e := range edits {
		assert.True(t, e.Kept(), "alpha's edit of the template target ~/%s was overwritten", e.Path)
	}
	f.Check()
}

// configTemplateSurfaced: alpha changes the config template (rel, in the
// work tree); both hosts' runs say "run chezmoi init", in output and record.
func configTemplateSurfaced(t *testing.T, snap Snapshot, rel string, change func(old, tok string) string) {
	f, a, b := pair(t, snap)
	a.EditSource(rel, "config template changed", change)
	for _, r := range syncAll(t, a, b) {
		assert.Contains(t, r.Output, "chezmoi init", "the changed config template is surfaced\n%s", r)
		assert.Contains(t, r.JSON, "chezmoi init", "and recorded")
	}
	f.Check()
}

// removalNamed: a file the sync's apply would remove (remove_ entry,
// .chezmoiremove) is there again on alpha when beta's edit comes in; the run
// never removes it without naming it (Check).
func removalNamed(t *testing.T, snap Snapshot, rel, content, betaFile string) {
	f, a, b := pair(t, snap)
	a.WriteHome(rel, content)
	b.AppendLine(betaFile, "#", "plain edit")
	syncAll(t, b, a)
	f.Check()
}

// privateLoosened: alpha makes a private_ file world-readable (looseEntry is
// the source name that would carry it). A warning names it, and beta's copy
// is not silently loosened.
func privateLoosened(t *testing.T, snap Snapshot, rel, looseEntry string) (*Fleet, *Host, *Host) {
	f, a, b := pair(t, snap)
	a.Chmod(rel, 0o644, looseEntry, "private file loosened")
	assertWarns(t, a.Sync(), rel)
	if rb := b.Sync(); !rb.Names(rel) {
		assertMode(t, b, rel, 0o600)
	}
	return f, a, b
}
