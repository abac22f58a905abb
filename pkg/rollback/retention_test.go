package rollback

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// machine is n generations made one a day up to yesterday, each built by
// rebuild-smart from commit c<N>, outcomes as given (default success);
// the profile points at profile, /run/current-system at running and
// /run/booted-system at booted.
func machine(n, profile, running, booted int, outcomes map[int]string) RetentionFacts {
	var gens []nixsys.Generation
	var entries []history.Entry
	links := map[int]string{}
	for g := 1; g <= n; g++ {
		top := fmt.Sprintf("/nix/store/%d-nixos-system", g)
		made := now.Add(-time.Duration(n-g+1) * 24 * time.Hour)
		gens = append(gens, nixsys.Generation{Number: g, Toplevel: top, Time: made, Current: g == profile})
		links[g] = top
		o := outcomes[g]
		if o == "" {
			o = history.OutcomeSuccess
		}
		entries = append(entries, history.Entry{Time: made, Generation: g, Toplevel: top, Commit: fmt.Sprintf("c%d", g), Outcome: o, Source: "rebuild-smart"})
	}
	f := RetentionFacts{Generations: gens, Now: now, View: View{Entries: entries, Links: links, ProfileGen: profile, SystemKnown: true}}
	if running > 0 {
		f.Running = links[running]
	}
	if booted > 0 {
		f.Booted = links[booted]
	}
	return f
}

// deleted lists what a plan deletes.
func deleted(plan []Decision) []int { return toDelete(plan) }

func reasonsOf(plan []Decision, g int) string {
	for _, d := range plan {
		if d.Generation == g {
			return strings.Join(d.Reasons, "; ")
		}
	}
	return ""
}

func TestRetentionPlan(t *testing.T) {
	keep2 := Retention{Keep: 2, KeepPinned: true}
	cases := []struct {
		name   string
		pol    Retention
		facts  func() RetentionFacts
		delete []int
		// why: generation -> a reason it must be kept with
		why map[int]string
	}{
		{
			name: "the newest N, and what always stays",
			pol:  keep2,
			facts: func() RetentionFacts {
				// Generation 6 boots next, 5 runs (a boot action after it),
				// 3 was booted; 4 is the last plain success (5..10 failed
				// their units or were only recorded by the pre-switch check).
				return machine(10, 6, 5, 3, map[int]string{5: history.OutcomeUnitsFailed, 6: history.OutcomeActivated,
					7: history.OutcomeActivated, 8: history.OutcomeUnitsFailed, 9: history.OutcomeActivated, 10: history.OutcomeActivated})
			},
			delete: []int{1, 2, 7, 8},
			why:    map[int]string{3: ReasonBooted, 4: ReasonLastGood, 5: ReasonRunning, 6: ReasonProfile, 9: "among the 2 newest", 10: "among the 2 newest"},
		},
		{
			name: "keep 0 keeps only what always stays",
			pol:  Retention{Keep: 0},
			facts: func() RetentionFacts {
				return machine(4, 4, 4, 0, nil)
			},
			delete: []int{1, 2, 3},
			why:    map[int]string{4: ReasonRunning},
		},
		{
			name: "by age: made within 3 days (the last three), oldest go",
			pol:  Retention{Keep: 0, KeepSince: 3 * 24 * time.Hour},
			facts: func() RetentionFacts {
				return machine(6, 6, 6, 6, nil)
			},
			delete: []int{1, 2, 3},
			why:    map[int]string{4: "made within 3d", 5: "made within 3d", 6: ReasonBooted},
		},
		{
			name: "pinned: a remote tip and a tag keep their builds; a dirty build of a tagged commit does not count",
			pol:  Retention{Keep: 1, KeepPinned: true},
			facts: func() RetentionFacts {
				f := machine(5, 5, 5, 5, nil)
				f.View.Entries[0].Dirty = true
				f.Pins = []Pin{{Ref: "origin/main", Commit: "c2"}, {Ref: "tag v1", Commit: "c1"}, {Ref: "tag v3", Commit: "c3"}}
				return f
			},
			delete: []int{1, 4},
			why:    map[int]string{2: "pinned: origin/main is c2", 3: "pinned: tag v3 is c3"},
		},
		{
			name: "--no-keep-pinned: the same pins protect nothing",
			pol:  Retention{Keep: 1},
			facts: func() RetentionFacts {
				f := machine(5, 5, 5, 5, nil)
				f.Pins = []Pin{{Ref: "origin/main", Commit: "c2"}}
				return f
			},
			delete: []int{1, 2, 3, 4},
		},
		{
			name: "a reused generation number holds another system: not the pinned build, not the last good one",
			pol:  Retention{Keep: 1, KeepPinned: true},
			facts: func() RetentionFacts {
				f := machine(4, 4, 4, 0, map[int]string{3: history.OutcomeActivated, 4: history.OutcomeActivated})
				// generation 2's link now holds another system than the build
				// of c2 (deleted, then the number came back).
				f.Generations[1].Toplevel = "/nix/store/other"
				f.View.Links[2] = "/nix/store/other"
				f.Pins = []Pin{{Ref: "origin/main", Commit: "c2"}}
				return f
			},
			delete: []int{2, 3},
			why:    map[int]string{1: ReasonLastGood},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := tc.pol.Plan(tc.facts())
			require.Equal(t, tc.delete, deleted(plan), "%+v", plan)
			for g, why := range tc.why {
				require.Contains(t, reasonsOf(plan, g), why, "generation %d", g)
			}
			for _, d := range plan {
				require.NotEmpty(t, d.Reasons, "generation %d says why", d.Generation)
			}
		})
	}
}

// The profile's current generation, the running and the booted system and
// the last good build stay even with --keep 0 and no pins, whatever else
// the facts say: each on its own.
func TestRetentionNeverDeletes(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() RetentionFacts
		gen  int
	}{
		{"profile", func() RetentionFacts {
			return machine(5, 2, 0, 0, map[int]string{1: history.OutcomeActivated, 2: history.OutcomeActivated, 3: history.OutcomeActivated, 4: history.OutcomeActivated, 5: history.OutcomeActivated})
		}, 2},
		{"running", func() RetentionFacts { return machine(5, 5, 3, 0, map[int]string{5: history.OutcomeFailed}) }, 3},
		{"booted", func() RetentionFacts { return machine(5, 5, 5, 1, nil) }, 1},
		{"last good", func() RetentionFacts {
			return machine(5, 5, 5, 0, map[int]string{3: history.OutcomeChecksFailed, 4: history.OutcomeUnitsFailed, 5: history.OutcomeActivated})
		}, 2},
	} {
		plan := Retention{Keep: 0}.Plan(tc.f())
		require.NotContains(t, deleted(plan), tc.gen, "%s: %+v", tc.name, plan)
	}
}

func TestParsePins(t *testing.T) {
	git := "aaa  refs/remotes/origin/main\nbbb  refs/remotes/origin/HEAD\nccc  refs/tags/v1\nddd eee refs/tags/v2\n"
	require.Equal(t, []Pin{{"origin/main", "aaa"}, {"tag v1", "ccc"}, {"tag v2", "eee"}}, parseGitPins(git))
	jj := "aaa\tmain@git,main@origin,rel@up\tv1,v2\nbbb\t\tv3\n"
	require.Equal(t, []Pin{{"origin/main", "aaa"}, {"up/rel", "aaa"}, {"tag v1", "aaa"}, {"tag v2", "aaa"}, {"tag v3", "bbb"}}, parseJJPins(jj))
}
