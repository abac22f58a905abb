package rollback_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// cleanDoc is the part of --clean --json the tests read.
type cleanDoc struct {
	DryRun      bool   `json:"dry_run"`
	Outcome     string `json:"outcome"`
	PinnedFrom  string `json:"pinned_from"`
	Generations []struct {
		Generation int      `json:"generation"`
		Commit     string   `json:"commit"`
		Delete     bool     `json:"delete"`
		Reasons    []string `json:"reasons"`
	} `json:"generations"`
	Delete   []int    `json:"delete"`
	Commands []string `json:"commands"`
	GC       *struct {
		Ran    bool   `json:"ran"`
		Result string `json:"result"`
	} `json:"gc"`
	Summary string `json:"summary"`
}

func cleanJSON(t *testing.T, f *fixture, args ...string) (cleanDoc, string) {
	t.Helper()
	r := f.mustRun(append([]string{"--clean", "--json"}, args...)...)
	var d cleanDoc
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &d), r.Stdout)
	return d, r.Stderr
}

// links lists the generations whose profile link exists.
func (f *fixture) links() []int {
	var out []int
	for n := 1; n <= len(f.tops); n++ {
		if _, err := os.Lstat(filepath.Join(f.root, "nix/var/nix/profiles", fmt.Sprintf("system-%d-link", n))); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// linkAt sets generation n's link time (nix's notion of when it was made).
func (f *fixture) linkAt(n int, at time.Time) {
	tv := unix.NsecToTimeval(at.UnixNano())
	require.NoError(f.t, unix.Lutimes(filepath.Join(f.root, "nix/var/nix/profiles", fmt.Sprintf("system-%d-link", n)), []unix.Timeval{tv, tv}))
}

func (f *fixture) booted(n int) {
	require.NoError(f.t, os.Symlink(f.tops[n-1], filepath.Join(f.root, "run", "booted-system")))
}

// rewriteHistory gives generation n the outcome outcomes[n] (and marks
// dirty ones) in the fixture's history.
func (f *fixture) rewriteHistory(outcomes map[int]string, dirty ...int) {
	es := f.history()
	require.NoError(f.t, os.Remove(filepath.Join(f.h.StateDir(), history.FileName)))
	for _, e := range es {
		if o := outcomes[e.Generation]; o != "" {
			e.Outcome = o
		}
		for _, d := range dirty {
			e.Dirty = e.Dirty || e.Generation == d
		}
		f.appendHistory(e)
	}
}

// clean machine: 10 generations. 6 boots next, 5 runs, 3 was booted, 4 is
// the last plain success; origin/release is commit 2 and tags name commits
// 7 and 1 (but generation 1 is a dirty build). --keep 2 keeps 9 and 10.
func cleanMachine(t *testing.T, tools ...string) *fixture {
	f := newFixture(t, "git", 10, tools...)
	f.rewriteHistory(map[int]string{5: history.OutcomeUnitsFailed, 6: history.OutcomeActivated, 7: history.OutcomeActivated,
		8: history.OutcomeUnitsFailed, 9: history.OutcomeActivated, 10: history.OutcomeActivated}, 1)
	f.point(6)
	cur := filepath.Join(f.root, "run", "current-system")
	require.NoError(t, os.Remove(cur))
	require.NoError(t, os.Symlink(f.tops[4], cur))
	f.booted(3)
	remote := filepath.Join(f.h.Root, "remote.git")
	f.h.Run("", "git", "init", "-q", "--bare", "-b", "main", remote)
	f.h.Run(f.repo, "git", "remote", "add", "origin", remote)
	f.h.Run(f.repo, "git", "push", "-q", "origin", f.commits[1]+":refs/heads/release")
	f.h.Run(f.repo, "git", "fetch", "-q", "origin")
	f.h.Run(f.repo, "git", "tag", "v0.7", f.commits[6])
	f.h.Run(f.repo, "git", "tag", "-a", "-m", "first", "v0.1", f.commits[0])
	return f
}

// The retention policy on a real profile with the real nix-env: the dry
// run plans exactly what the real run then does (same decisions, same
// command); what always stays stays; the deleted generations are marked in
// the history, shown as deleted by --list, and refused by a rollback.
func TestCleanKeepsWhatMatters(t *testing.T) {
	t.Parallel()
	f := cleanMachine(t)
	before := f.snapshot()
	plan, _ := cleanJSON(t, f, "--keep", "2", "--dry-run")
	require.Equal(t, before, f.snapshot(), "a dry run changes nothing")
	require.True(t, plan.DryRun)
	require.Equal(t, []int{1, 8}, plan.Delete)
	why := map[int]string{}
	for _, g := range plan.Generations {
		why[g.Generation] = strings.Join(g.Reasons, "; ")
	}
	for g, want := range map[int]string{2: "pinned: origin/release", 3: "booted system", 4: "last successful build",
		5: "running system", 6: "boots next", 7: "pinned: tag v0.7", 9: "among the 2 newest", 10: "among the 2 newest", 1: "not a pinned build"} {
		require.Contains(t, why[g], want, "generation %d", g)
	}
	profile := filepath.Join(f.root, "nix/var/nix/profiles/system")
	require.Equal(t, []string{"sudo nix-env --profile " + profile + " --delete-generations 1 8"}, plan.Commands)

	real, _ := cleanJSON(t, f, "--keep", "2")
	require.False(t, real.DryRun)
	require.Equal(t, "cleaned", real.Outcome)
	require.Equal(t, plan.Generations, real.Generations, "the real run decides exactly what its dry run said")
	require.Equal(t, plan.Commands, real.Commands)
	require.Equal(t, []int{2, 3, 4, 5, 6, 7, 9, 10}, f.links())
	require.Contains(t, strings.Join(f.callLines(), "\n"), "sudo nix-env --profile "+profile+" --delete-generations 1 8")
	f.requireRunning(5, 6)

	var deleted []int
	for _, e := range f.history() {
		if e.Outcome == history.OutcomeDeleted {
			require.Equal(t, "rebuild-rollback", e.Source)
			require.Equal(t, f.commits[e.Generation-1], e.Commit)
			deleted = append(deleted, e.Generation)
		}
	}
	require.Equal(t, []int{1, 8}, deleted, "one deleted record per deleted generation; the build records stay")

	list := f.mustRun("--list").Stdout
	require.Regexp(t, `(?m)^  1 .* success\s+rebuild-smart\s+deleted \d{4}-\d\d-\d\d, dirty$`, list)
	require.Regexp(t, `(?m)^  8 .* units-failed\s+rebuild-smart\s+deleted \d{4}-\d\d-\d\d$`, list)
	r := f.run("--to", "8")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "generation 8 was deleted by rebuild-rollback --clean on ")

	// A second clean-up finds nothing more to delete and says so.
	again, _ := cleanJSON(t, f, "--keep", "2")
	require.Equal(t, "unchanged", again.Outcome)
	require.Empty(t, again.Delete)
}

// requireRunning checks what runs and what boots next.
func (f *fixture) requireRunning(running, profile int) {
	f.t.Helper()
	require.Equal(f.t, fmt.Sprintf("system-%d-link", profile), f.profileGen())
	require.Equal(f.t, f.tops[running-1], f.running())
}

// --no-keep-pinned lets the pinned builds go; --gc runs the collection
// (nix-collect-garbage without -d) after the deletion.
func TestCleanNoKeepPinnedAndGC(t *testing.T) {
	t.Parallel()
	f := cleanMachine(t, "nix-collect-garbage")
	doc, _ := cleanJSON(t, f, "--keep", "2", "--no-keep-pinned", "--gc")
	require.Equal(t, []int{1, 2, 7, 8}, doc.Delete)
	require.Empty(t, doc.PinnedFrom, "no repository read without pins")
	require.NotNil(t, doc.GC)
	require.True(t, doc.GC.Ran)
	require.Equal(t, "0 store paths deleted, 0.00 MiB freed", doc.GC.Result)
	require.Equal(t, []int{3, 4, 5, 6, 9, 10}, f.links())
	calls := f.callLines()
	require.Equal(t, "nix-collect-garbage", strings.TrimSpace(calls[len(calls)-1]), "the collection runs last, without -d")
}

// --keep-since keeps what was made recently, by the links' own times (what
// nix-env's --delete-generations Nd looks at); config keys give the
// defaults.
func TestCleanKeepSinceAndConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 6)
	now := time.Now()
	for n := 1; n <= 6; n++ {
		f.linkAt(n, now.Add(-time.Duration(7-n)*24*time.Hour)) // 6d ago ... 1d ago
	}
	doc, _ := cleanJSON(t, f, "--keep", "0", "--keep-since", "3.5d", "--dry-run")
	require.Equal(t, []int{1, 2, 3}, doc.Delete)

	cfg := filepath.Join(f.h.Root, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"rebuildSmart": {"clean": {"keep": 1, "keepSince": "108h", "keepPinned": false}}}`), 0o644))
	doc, _ = cleanJSON(t, f, "--config", cfg)
	require.Equal(t, []int{1, 2}, doc.Delete)
	require.Equal(t, []int{3, 4, 5, 6}, f.links())
}

// Refusals, each exit 2 with one line and nothing deleted: pins that
// cannot be read (no repository), a profile that does not point at a
// generation, a negative --keep, --clean with a rollback flag.
func TestCleanRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 4)
	for _, tc := range []struct {
		name  string
		args  []string
		setup func()
		want  string
	}{
		{"pins unreadable", []string{"--flake", filepath.Join(f.h.Root, "not-a-repo")}, func() {
			require.NoError(t, os.MkdirAll(filepath.Join(f.h.Root, "not-a-repo"), 0o755))
		}, "the builds of pushed commits cannot be found, so nothing is deleted"},
		{"negative keep", []string{"--keep=-1"}, nil, "--keep -1"},
		{"with a rollback flag", []string{"--system-only"}, nil, "--system-only and --repo-only are for a rollback"},
		{"profile not understood", nil, func() {
			p := filepath.Join(f.root, "nix/var/nix/profiles/system")
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Symlink(f.tops[0], p))
		}, "does not point at one of its generations"},
	} {
		if tc.setup != nil {
			tc.setup()
		}
		before := f.snapshot()
		r := f.run(append([]string{"--clean", "--keep", "0"}, tc.args...)...)
		require.Equal(t, 2, r.Code, "%s: %s", tc.name, r)
		require.Contains(t, r.Stderr, tc.want, tc.name)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%s: one line: %q", tc.name, r.Stderr)
		require.Equal(t, before, f.snapshot(), tc.name)
	}
	require.Equal(t, []int{1, 2, 3, 4}, f.links())
}
