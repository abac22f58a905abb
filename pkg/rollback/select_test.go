package rollback

import (
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

func entry(gen int, commit, top, outcome, source string) history.Entry {
	return history.Entry{Time: time.Date(2026, 11, 20, gen, 0, 0, 0, time.UTC), Generation: gen, Commit: commit, Toplevel: top, Outcome: outcome, Source: source}
}

func view(profile int, running string, entries ...history.Entry) View {
	v := View{Entries: entries, Links: map[int]string{1: "/t1", 2: "/t2", 3: "/t3", 4: "/t4"}, ProfileGen: profile, RunningToplevel: running, SystemKnown: true}
	return v
}

func TestCurrent(t *testing.T) {
	ok := history.OutcomeSuccess
	cases := []struct {
		name string
		v    View
		want int
	}{
		{"profile and running agree", view(3, "/t3"), 3},
		{"booted-next differs from running (after a boot action)", view(4, "/t2"), 2},
		{"running unknown", view(3, ""), 3},
		{"no system: last build or rollback in the history", View{Entries: []history.Entry{
			entry(1, "a", "", ok, "rebuild-smart"), entry(2, "b", "", ok, "rebuild-smart"),
			entry(1, "a", "", history.OutcomeRolledBack, "rebuild-rollback"), entry(0, "c", "", history.OutcomeFailed, "rebuild-smart"),
		}}, 1},
		{"nothing at all", View{}, 0},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.v.Current(), tc.name)
	}
}

func TestBuildsMergePerGeneration(t *testing.T) {
	v := view(3, "/t3",
		// the pre-switch check records generation 2 (found from its
		// toplevel), then rebuild-smart records it with the commit
		entry(0, "", "/t2", history.OutcomeActivated, "pre-switch-check"),
		entry(2, "c2", "/t2", history.OutcomeSuccess, "rebuild-smart"),
		entry(0, "", "", history.OutcomeFailed, "rebuild-smart"),
		entry(0, "cb", "", history.OutcomeSuccess, "rebuild-smart"), // --build: no generation
		entry(3, "", "/t3", history.OutcomeActivated, "pre-switch-check"),
	)
	b := v.Builds()
	require.Len(t, b, 3)
	require.Equal(t, Build{Generation: 2, Commit: "c2", Toplevel: "/t2", Entry: v.Entries[1]}, b[0])
	require.Equal(t, "cb", b[1].Commit)
	require.Equal(t, 0, b[1].Generation)
	require.Equal(t, 3, b[2].Generation)
	require.Equal(t, "", b[2].Commit)
}

func TestSelect(t *testing.T) {
	ok := history.OutcomeSuccess
	hist := []history.Entry{
		entry(1, "c1", "/t1", ok, "rebuild-smart"),
		entry(2, "c2", "/t2", history.OutcomeUnitsFailed, "rebuild-smart"),
		entry(0, "c2", "", history.OutcomeFailed, "rebuild-smart"),
		entry(3, "c3", "/t3", ok, "rebuild-smart"),
		entry(4, "", "/t4", history.OutcomeActivated, "pre-switch-check"),
	}
	cases := []struct {
		name    string
		v       View
		c       Choice
		gen     int
		commit  string
		wantErr string
	}{
		{"previous of 3", view(3, "/t3", hist...), Choice{}, 2, "c2", ""},
		{"previous of 4 (activated outside rebuild-smart)", view(4, "/t4", hist...), Choice{}, 3, "c3", ""},
		{"previous of 2 after a rollback", view(2, "/t2", hist...), Choice{}, 1, "c1", ""},
		{"nothing before 1", view(1, "/t1", hist...), Choice{}, 0, "", "no successful build before generation 1"},
		{"--to", view(3, "/t3", hist...), Choice{To: "1"}, 1, "c1", ""},
		{"--to the running one", view(3, "/t3", hist...), Choice{To: "3"}, 3, "c3", ""},
		{"--to unknown", view(3, "/t3", hist...), Choice{To: "7"}, 0, "", "unknown generation 7"},
		{"--to negative", view(3, "/t3", hist...), Choice{To: "-1"}, 0, "", "positive number"},
		{"--to-commit", view(3, "/t3", hist...), Choice{ToCommit: "c1"}, 1, "c1", ""},
		{"--to-commit never built", view(3, "/t3", hist...), Choice{ToCommit: "c9"}, 0, "", "no successful build of commit c9"},
		{"garbage-collected", View{Entries: hist, Links: map[int]string{2: "/t2", 3: "/t3"}, ProfileGen: 3, RunningToplevel: "/t3", SystemKnown: true}, Choice{To: "1"}, 0, "", "generation 1 was garbage-collected"},
		{"garbage-collected, repository only", View{Entries: hist, Links: map[int]string{2: "/t2", 3: "/t3"}, ProfileGen: 3, RunningToplevel: "/t3", SystemKnown: true}, Choice{To: "1", RepoOnly: true}, 1, "c1", ""},
		{"no system, repository only", View{Entries: hist}, Choice{RepoOnly: true}, 3, "c3", ""},
		{"no system, system asked", View{Entries: hist}, Choice{}, 0, "", "no system profile"},
		{"profile link without history", View{Entries: hist, Links: map[int]string{1: "/t1", 3: "/t3", 5: "/t5"}, ProfileGen: 3, RunningToplevel: "/t3", SystemKnown: true}, Choice{To: "5"}, 0, "", "use --system-only"},
		{"profile link without history, system only", View{Entries: hist, Links: map[int]string{1: "/t1", 3: "/t3", 5: "/t5"}, ProfileGen: 3, RunningToplevel: "/t3", SystemKnown: true}, Choice{To: "5", SystemOnly: true}, 5, "", ""},
		{"no commit, repository only", view(3, "/t3", hist...), Choice{To: "4", RepoOnly: true}, 0, "", "no commit is recorded for generation 4"},
		{"empty", view(3, "/t3"), Choice{}, 0, "", "no successful build"},
	}
	for _, tc := range cases {
		b, err := tc.v.Select(tc.c)
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, tc.name)
			require.Equal(t, exitcode.Usage, exitcode.FromError(err), tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.gen, b.Generation, tc.name)
		require.Equal(t, tc.commit, b.Commit, tc.name)
	}
}

func TestFlakeDir(t *testing.T) {
	cases := []struct {
		ref, dir string
		ok       bool
	}{
		{"/etc/nixos", "/etc/nixos", true},
		{"/etc/nixos#alpha", "/etc/nixos", true},
		{"./cfg", "/home/u/cfg", true},
		{"path:/srv/cfg?lastModified=1", "/srv/cfg", true},
		{"git+file:///srv/cfg?ref=main#alpha", "/srv/cfg", true},
		{"github:someone/nix-config", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		dir, ok := FlakeDir(tc.ref, "/home/u")
		require.Equal(t, tc.ok, ok, tc.ref)
		require.Equal(t, tc.dir, dir, tc.ref)
	}
}

// A generation number reused after a garbage collection: the later build
// with that number is the one the link points at.
func TestBuildsReusedGenerationNumber(t *testing.T) {
	v := view(3, "/t3",
		entry(3, "old", "/old3", history.OutcomeSuccess, "rebuild-smart"),
		entry(2, "c2", "/t2", history.OutcomeRolledBack, "rebuild-rollback"),
		entry(3, "", "/t3", history.OutcomeActivated, "pre-switch-check"),
	)
	b := v.Builds()
	require.Len(t, b, 1)
	require.Equal(t, Build{Generation: 3, Toplevel: "/t3", Entry: v.Entries[2]}, b[0])
	l := v.Listing()
	require.False(t, l[0].Available, "the old generation 3 is gone")
	require.True(t, l[2].Available)
	require.True(t, l[2].Current)
}

// --list folds the history into one line per generation: the build, its
// pre-switch record, the rollbacks to it and a failed activation that left
// it are one line; attempts that made no generation (including failed
// builds recorded with the generation that was running, as older
// rebuild-smart versions did) have a line without a number.
func TestLinesOnePerGeneration(t *testing.T) {
	e := func(gen int, commit, top, outcome, source string) history.Entry {
		x := entry(gen, commit, top, outcome, source)
		x.Time = time.Time{}
		return x
	}
	buildOnly := e(0, "cb", "", history.OutcomeSuccess, "rebuild-smart")
	buildOnly.Action = "build"
	v := view(3, "/t3",
		e(0, "", "/t2", history.OutcomeActivated, "pre-switch-check"),
		e(2, "c2", "/t2", history.OutcomeSuccess, "rebuild-smart"),
		e(2, "cx", "/failed", history.OutcomeFailed, "rebuild-smart"), // failed build, running generation recorded
		e(2, "cy", "", history.OutcomeFailed, "rebuild-smart"),        // failed evaluation, same
		e(0, "", "/t3", history.OutcomeActivated, "pre-switch-check"),
		e(3, "c3", "/t3", history.OutcomeUnitsFailed, "rebuild-smart"),
		e(2, "c2", "/t2", history.OutcomeRolledBack, "rebuild-rollback"),
		e(0, "c2", "", history.OutcomeRolledBack, "rebuild-rollback"), // --repo-only
		e(3, "c3", "/t3", history.OutcomeRolledBack, "rebuild-rollback"),
		e(4, "c4", "/t4", history.OutcomeFailed, "rebuild-smart"), // activation failed after the profile was set
		buildOnly,
	)
	lines := v.Lines()
	var gens []int
	for _, l := range lines {
		gens = append(gens, l.Generation)
	}
	require.Equal(t, []int{2, 0, 0, 3, 0, 4, 0}, gens)

	two := lines[0]
	require.Equal(t, "c2", two.Commit)
	require.Equal(t, history.OutcomeSuccess, two.Outcome)
	require.Equal(t, "rebuild-smart", two.Source)
	require.Equal(t, 1, two.RolledBack)
	require.Zero(t, two.Failed)
	require.Len(t, two.Records, 3)
	require.False(t, two.Current)
	require.True(t, two.Available)
	require.Equal(t, "rolled back to once", two.note(true))

	require.Equal(t, "cx", lines[1].Commit)
	require.Equal(t, "no generation made", lines[1].note(true))

	three := lines[3]
	require.Equal(t, history.OutcomeUnitsFailed, three.Outcome)
	require.Equal(t, "c3", three.Commit)
	require.True(t, three.Current)
	require.Equal(t, "current, rolled back to once", three.note(true))

	require.Equal(t, "repository only", lines[4].note(true))

	four := lines[5]
	require.Equal(t, history.OutcomeFailed, four.Outcome)
	require.Equal(t, 1, four.Failed)
	require.True(t, four.Available)

	require.Equal(t, "built, never activated", lines[6].note(true))

	// The same history without generation 2's link: that line says so.
	delete(v.Links, 2)
	lines = v.Lines()
	require.Equal(t, "generation unknown", lines[0].note(true), "the pre-switch record found its number from the link")
	require.Equal(t, 2, lines[1].Generation)
	require.Equal(t, "garbage-collected, rolled back to once", lines[1].note(true))
}

// The dotfiles commit a build was made with travels with the build (the
// seam of --with-dotfiles, dotfiles.go), from whichever record has it.
func TestBuildsCarryTheDotfilesCommit(t *testing.T) {
	withDots := entry(2, "c2", "/t2", history.OutcomeSuccess, "rebuild-smart")
	withDots.DotfilesCommit, withDots.DotfilesSource = "d2", "/home/a/.local/share/chezmoi"
	v := view(3, "/t3", entry(0, "", "/t2", history.OutcomeActivated, "pre-switch-check"), withDots)
	b := v.Builds()
	require.Len(t, b, 1)
	require.Equal(t, "d2", b[0].DotfilesCommit)
	require.Equal(t, "/home/a/.local/share/chezmoi", b[0].DotfilesSource)
	require.Equal(t, "d2", v.Lines()[0].DotfilesCommit)
}
