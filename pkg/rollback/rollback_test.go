package rollback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

// A dirty plain-git working copy (a staged edit edited again, a deletion,
// untracked files, an ignored file) goes back to the previous build; every
// byte of the work is recoverable with the printed command.
func TestRollbackGitDirtyLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.write("hosts/alpha.nix", "STAGED VERSION\n")
	f.h.Run(f.repo, "git", "add", "hosts/alpha.nix")
	f.write("hosts/alpha.nix", "EDITED AGAIN AFTER STAGING\n")
	require.NoError(t, os.Remove(filepath.Join(f.repo, "README.md")))
	f.write("hosts/beta.nix", "{ new host, never committed }\n")
	f.write("secrets/notes.txt", "untracked in a new directory\n")
	f.write("result", "ignored build link stand-in\n")
	before := f.files()

	r := f.mustRun()
	f.requireAt(2)
	require.Equal(t, f.commits[1], f.headCommit())
	want := map[string]string{"result": "ignored build link stand-in\n"}
	for k, v := range f.trees[1] {
		want[k] = v
	}
	require.Equal(t, want, f.files(), "the working tree is exactly generation 2's commit (ignored files untouched)")
	require.Empty(t, f.h.Run(f.repo, "git", "status", "--porcelain"))
	require.Contains(t, r.Stdout, "branch rollback/")
	// The last line says what happened.
	lastLine := lastLineOf(r.Stdout)
	require.True(t, strings.HasPrefix(lastLine, "Switched the system from generation 3 to 2; moved "+f.repo+" to "+f.commits[1][:12]+", your uncommitted work saved in rollback/"), lastLine)
	require.Equal(t, "main", strings.TrimSpace(f.h.Run(f.repo, "git", "branch", "--list", "main", "--format=%(refname:short)")))
	require.Equal(t, f.commits[2], f.h.Run(f.repo, "git", "rev-parse", "main"), "main is not moved")

	// The staged version (different from both HEAD and the tree) is kept
	// too, as the saved commit's second parent.
	branch := f.h.Run(f.repo, "git", "for-each-ref", "--format=%(refname:short)", "refs/heads/rollback/")
	require.Equal(t, "STAGED VERSION\n", f.h.Run(f.repo, "git", "show", branch+"^2:hosts/alpha.nix")+"\n")

	// The system went through the profile and its switch-to-configuration,
	// both through sudo.
	lines := strings.Join(f.callLines(), "\n")
	require.Contains(t, lines, "sudo nix-env --profile "+filepath.Join(f.root, "nix/var/nix/profiles/system")+" --switch-generation 2")
	require.Contains(t, lines, "switch-to-configuration --toplevel "+f.tops[1]+" switch")

	// History: one rolled-back entry for generation 2.
	hist := f.history()
	last := hist[len(hist)-1]
	require.Equal(t, history.OutcomeRolledBack, last.Outcome)
	require.Equal(t, "rebuild-rollback", last.Source)
	require.Equal(t, 2, last.Generation)
	require.Equal(t, f.commits[1], last.Commit)
	require.Equal(t, "alpha", last.Host)

	// Getting the work back with the printed command restores it exactly.
	f.h.Run(f.repo, "sh", "-c", restoreCmd(t, r.Stdout))
	require.Equal(t, before, f.files())
}

// In a jj colocated repository the working-copy change keeps the work and
// stays visible; the new working copy starts on the target.
func TestRollbackJJDirtyLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "jj", 3)
	f.write("hosts/alpha.nix", "edited, not committed\n")
	require.NoError(t, os.Remove(filepath.Join(f.repo, "README.md")))
	f.write("hosts/beta.nix", "{ brand new file }\n")
	before := f.files()

	r := f.mustRun()
	f.requireAt(2)
	require.Equal(t, f.commits[1], f.headCommit())
	require.Equal(t, f.trees[1], f.files())
	require.Contains(t, r.Stdout, "your uncommitted work is in change ")
	require.Equal(t, "true", f.h.Run(f.repo, "jj", "log", "--no-graph", "-r", "@", "-T", "empty"), "a fresh working-copy change on the target")

	cmd := restoreCmd(t, r.Stdout)
	require.True(t, strings.HasPrefix(cmd, "jj edit "), cmd)
	saved := strings.TrimPrefix(cmd, "jj edit ")
	require.Equal(t, "false", f.h.Run(f.repo, "jj", "log", "--no-graph", "-r", saved+" & ::visible_heads()", "-T", "empty"), "the saved change is visible and holds the work")
	f.h.Run(f.repo, "sh", "-c", cmd)
	require.Equal(t, before, f.files())
}

// Two rollbacks in a row walk back two generations; the history and --list
// follow.
func TestTwoRollbacksInARow(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"git", "jj"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, 3)
			f.mustRun()
			f.requireAt(2)
			require.Equal(t, f.commits[1], f.headCommit())
			f.mustRun()
			f.requireAt(1)
			require.Equal(t, f.commits[0], f.headCommit())
			require.Equal(t, f.trees[0], f.files())

			var rolled []int
			for _, e := range f.history() {
				if e.Outcome == history.OutcomeRolledBack {
					rolled = append(rolled, e.Generation)
				}
			}
			require.Equal(t, []int{2, 1}, rolled)
			doc := listJSON(t, f)
			require.Equal(t, 1, doc.CurrentGeneration)
			require.True(t, doc.Entries[len(doc.Entries)-1].Current)
			// Five records, three generations: one line each, the
			// rollbacks folded in.
			require.Len(t, doc.Generations, 3)
			require.True(t, doc.Generations[0].Current)
			require.Equal(t, []int{1, 1, 0}, []int{doc.Generations[0].RolledBack, doc.Generations[1].RolledBack, doc.Generations[2].RolledBack})
			if kind == "git" {
				require.Empty(t, f.h.Run(f.repo, "git", "branch", "--list", "rollback/*"), "a clean tree needs no saving")
			}
		})
	}
}

// After a rollback, a new build is recorded (as rebuild-smart records it)
// and becomes current; rolling back from it goes to the build before it.
func TestRollbackThenNewBuild(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.mustRun()
	f.requireAt(2)

	// The user fixes things on top of generation 2 and rebuilds.
	f.write("hosts/alpha.nix", "{ fixed = true; }\n")
	f.h.Run(f.repo, "git", "commit", "-q", "-am", "fix on top of 2")
	commit4 := f.h.Run(f.repo, "git", "rev-parse", "HEAD")
	top := f.makeToplevel(4)
	require.NoError(t, os.Symlink(top, filepath.Join(f.root, "nix/var/nix/profiles/system-4-link")))
	f.point(4)
	f.appendHistory(history.Entry{Time: time.Now().UTC(), Host: "alpha", Flake: f.repo, Commit: commit4, Generation: 4,
		Toplevel: top, Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"})

	doc := listJSON(t, f)
	require.Equal(t, 4, doc.CurrentGeneration)
	require.Equal(t, 4, doc.Entries[len(doc.Entries)-1].Generation)
	require.True(t, doc.Entries[len(doc.Entries)-1].Current)

	f.mustRun()
	f.requireAt(3)
	require.Equal(t, f.commits[2], f.headCommit())
	// The fix commit was on a detached HEAD: it is kept on a branch.
	r := f.mustRun("--to", "4")
	f.requireAt(4)
	require.Equal(t, commit4, f.headCommit())
	require.NotContains(t, r.Stdout, "uncommitted work")
	branches := f.h.Run(f.repo, "git", "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/rollback/")
	require.Contains(t, branches, commit4, "the detached fix commit was saved on a rollback/ branch before moving away from it")
}

type listDoc struct {
	History           string `json:"history"`
	CurrentGeneration int    `json:"current_generation"`
	CurrentSystem     string `json:"current_system"`
	Generations       []struct {
		Generation int             `json:"generation"`
		Commit     string          `json:"commit"`
		Current    bool            `json:"current"`
		Available  bool            `json:"available"`
		RolledBack int             `json:"rolled_back"`
		Records    []history.Entry `json:"records"`
	} `json:"generations"`
	Entries []struct {
		history.Entry
		Generation int  `json:"generation"`
		Current    bool `json:"current"`
		Available  bool `json:"available"`
	} `json:"entries"`
}

func listJSON(t *testing.T, f *fixture) listDoc {
	t.Helper()
	r := f.mustRun("--list", "--json")
	var doc listDoc
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.Stdout)
	return doc
}

// --list shows every entry (a failed build, a pre-switch record, a
// garbage-collected generation) with the current one marked, as a table
// and as JSON.
func TestListTableAndJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.appendHistory(history.Entry{Time: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), Host: "alpha", Commit: f.commits[2],
		Action: "switch", Outcome: history.OutcomeFailed, Source: "rebuild-smart"})
	// A failed build recorded with the generation that was running (as
	// rebuild-smart did before issue 19): not a second line for 3.
	f.appendHistory(history.Entry{Time: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Host: "alpha", Commit: f.commits[2],
		Generation: 3, Toplevel: "/nix/store/00000000000000000000000000000000-nixos-system-failed",
		Action: "switch", Outcome: history.OutcomeFailed, Source: "rebuild-smart"})
	// The pre-switch check's record of generation 2: folded into its line.
	f.appendHistory(history.Entry{Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Host: "alpha", Generation: 2,
		Toplevel: f.tops[1], Action: "switch", Outcome: history.OutcomeActivated, Source: "pre-switch-check"})
	require.NoError(t, os.Remove(filepath.Join(f.root, "nix/var/nix/profiles/system-1-link")))
	before := f.snapshot()

	r := f.mustRun("--list")
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 6, r.Stdout)
	require.Regexp(t, `^\s+GEN\s+TIME\s+COMMIT\s+OUTCOME\s+SOURCE\s+NOTE`, lines[0])
	require.Regexp(t, `^  1\s+2026-11-20 10:00:00\s+`+f.commits[0][:12]+`\s+success\s+rebuild-smart\s+garbage-collected$`, lines[1])
	require.Regexp(t, `^  2\s+2026-11-20 11:00:00\s+`+f.commits[1][:12]+`\s+success\s+rebuild-smart\s*$`, lines[2])
	require.Regexp(t, `^\* 3\s+2026-11-20 12:00:00\s+`+f.commits[2][:12]+`\s+success\s+rebuild-smart\s+current$`, lines[3])
	require.Regexp(t, `^  -\s+2026-11-21 08:00:00\s+`+f.commits[2][:12]+`\s+failed\s+rebuild-smart\s+no generation made$`, lines[4])
	require.Regexp(t, `^  -\s+2026-11-21 09:00:00\s+`+f.commits[2][:12]+`\s+failed\s+rebuild-smart\s+no generation made$`, lines[5])

	doc := listJSON(t, f)
	require.Equal(t, 3, doc.CurrentGeneration)
	require.Equal(t, f.tops[2], doc.CurrentSystem)
	require.Len(t, doc.Generations, 5, "one per generation, one per attempt without")
	require.Equal(t, []int{1, 2, 3, 0, 0}, []int{doc.Generations[0].Generation, doc.Generations[1].Generation,
		doc.Generations[2].Generation, doc.Generations[3].Generation, doc.Generations[4].Generation})
	require.False(t, doc.Generations[0].Available, "generation 1 was garbage-collected")
	require.Len(t, doc.Generations[1].Records, 2, "the build and the pre-switch record")
	require.True(t, doc.Generations[2].Current)
	require.Equal(t, f.commits[2], doc.Generations[2].Commit)
	// The raw records stay in "entries", as before.
	require.Len(t, doc.Entries, 6)
	require.False(t, doc.Entries[0].Available, "generation 1 was garbage-collected")
	require.True(t, doc.Entries[1].Available)
	require.True(t, doc.Entries[2].Current)
	require.Equal(t, "failed", doc.Entries[3].Outcome)
	require.False(t, doc.Entries[3].Current)
	require.Equal(t, before, f.snapshot(), "--list changes nothing")

	// An empty history lists nothing, successfully.
	g := newFixture(t, "git", 1)
	require.NoError(t, os.Truncate(filepath.Join(g.h.StateDir(), history.FileName), 0))
	r = g.mustRun("--list")
	require.Contains(t, r.Stdout, "No builds recorded yet")
	r = g.mustRun("--list", "--json")
	require.Contains(t, r.Stdout, `"entries": []`)
	require.Contains(t, r.Stdout, `"generations": []`)
}

// Every bad input: a one-line error, exit 2, nothing changed.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.write("hosts/alpha.nix", "dirty work\n")
	f.write("untracked.nix", "new\n")
	require.NoError(t, os.Remove(filepath.Join(f.root, "nix/var/nix/profiles/system-1-link")))
	histFile := filepath.Join(f.h.StateDir(), history.FileName)
	good, err := os.ReadFile(histFile)
	require.NoError(t, err)

	cases := []struct {
		name    string
		args    []string
		history string // replaces the history file; "-" removes it
		want    string
	}{
		{"unknown generation", []string{"--to", "9"}, "", "unknown generation 9"},
		{"generation not a number", []string{"--to", "two"}, "", "a generation is a positive number"},
		{"generation zero", []string{"--to", "0"}, "", "a generation is a positive number"},
		{"garbage-collected generation", []string{"--to", "1"}, "", "generation 1 was garbage-collected"},
		{"unknown commit", []string{"--to-commit", "0123456789abcdef0123456789abcdef01234567"}, "", "is not a commit in"},
		{"commit never built", []string{"--to-commit", "HEAD"}, "", ""}, // replaced below
		{"both targets", []string{"--to", "2", "--to-commit", "HEAD~1"}, "", "can't be used together"},
		{"both sides", []string{"--system-only", "--repo-only"}, "", "can't be used together"},
		{"missing flake", []string{"--flake", "/nonexistent/flake"}, "", "does not exist"},
		{"remote flake", []string{"--flake", "github:someone/nix-config"}, "", "is not a local repository"},
		{"action without record", []string{"--action", "boot"}, "", "--action is only valid with --record"},
		{"empty history", nil, "", "is empty: nothing to roll back to"},
		{"missing history", nil, "-", "is empty: nothing to roll back to"},
		{"corrupt history", nil, string(good) + "{not json\n", "is corrupt"},
		{"only failed builds", nil, `{"time":"2026-11-20T09:00:00Z","host":"alpha","outcome":"failed","source":"rebuild-smart"}` + "\n", "no successful build"},
		{"corrupt history in --list", []string{"--list"}, "garbage\n", "is corrupt"},
	}
	// A commit that exists but was never built.
	side := f.h.Run(f.repo, "git", "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "never built")
	cases[5].args = []string{"--to-commit", side}
	cases[5].want = "no successful build of commit " + side[:12]

	for _, tc := range cases {
		switch {
		case tc.history == "-":
			require.NoError(t, os.Remove(histFile))
		case tc.history != "" || tc.name == "empty history":
			require.NoError(t, os.WriteFile(histFile, []byte(tc.history), 0o600))
		default:
			require.NoError(t, os.WriteFile(histFile, good, 0o600))
		}
		before := f.snapshot()
		r := f.run(tc.args...)
		require.Equal(t, 2, r.Code, "%s: %s", tc.name, r)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%s: one line: %q", tc.name, r.Stderr)
		require.Contains(t, r.Stderr, tc.want, tc.name)
		require.True(t, strings.HasPrefix(r.Stderr, "rebuild-rollback: "), tc.name)
		require.Equal(t, before, f.snapshot(), "%s changed something", tc.name)
	}
}

// --dry-run prints the real plan (commands included) and changes nothing,
// for git and jj, in text and JSON.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"git", "jj"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, kind, 3)
			f.write("hosts/alpha.nix", "dirty\n")
			f.write("new.nix", "untracked\n")
			before := f.snapshot()
			r := f.mustRun("--dry-run")
			require.Contains(t, r.Stdout, "Plan (dry run, nothing is changed): back to generation 2, commit "+f.commits[1][:12])
			require.Contains(t, r.Stdout, "sudo nix-env --profile "+filepath.Join(f.root, "nix/var/nix/profiles/system")+" --switch-generation 2")
			require.Contains(t, r.Stdout, "sudo "+filepath.Join(f.tops[1], "bin/switch-to-configuration")+" switch")
			if kind == "git" {
				require.Contains(t, r.Stdout, "save 2 uncommitted change(s), untracked files included, to a new branch rollback/<time>")
			} else {
				require.Contains(t, r.Stdout, "stays as it is, with its edits; a new working-copy change on "+f.commits[1][:12])
			}
			require.Equal(t, before, f.snapshot())
			require.Empty(t, f.calls())
			// The last line says what a real run would do.
			want := map[string]string{
				"git": "Dry run, nothing was changed. A real run would switch the system from generation 3 to 2; save 2 uncommitted change(s) on a rollback/ branch and check out " + f.commits[1][:12] + " in " + f.repo + ".",
				"jj":  "Dry run, nothing was changed. A real run would switch the system from generation 3 to 2; start a new working-copy change on " + f.commits[1][:12] + " in " + f.repo + " (the current change keeps its edits).",
			}[kind]
			require.Equal(t, want, lastLineOf(r.Stdout))

			// A git revision or a jj revset names the commit.
			rev := map[string]string{"git": "HEAD~2", "jj": "main--"}[kind]
			r = f.mustRun("--dry-run", "--json", "--to-commit", rev)
			var rep struct {
				DryRun  bool   `json:"dry_run"`
				Outcome string `json:"outcome"`
				Summary string `json:"summary"`
				Target  struct {
					Generation int    `json:"generation"`
					Commit     string `json:"commit"`
				} `json:"target"`
				System struct {
					Method   string   `json:"method"`
					Commands []string `json:"commands"`
				} `json:"system"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep), r.Stdout)
			require.True(t, rep.DryRun)
			require.Equal(t, "planned", rep.Outcome)
			require.True(t, strings.HasPrefix(rep.Summary, "Dry run, nothing was changed. A real run would switch the system from generation 3 to 1; "), rep.Summary)
			require.Contains(t, r.Stderr, rep.Summary, "human lines go to stderr with --json")
			require.Equal(t, 1, rep.Target.Generation)
			require.Equal(t, f.commits[0], rep.Target.Commit)
			require.Equal(t, "profile", rep.System.Method)
			require.Len(t, rep.System.Commands, 2)
			require.Equal(t, before, f.snapshot())
		})
	}
}

// --record appends an "activated" entry with the generation found from the
// profile, without the lock, and never fails.
func TestRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	lock, err := state.Acquire(context.Background(), f.h.StateDir(), state.RebuildLock, 0, state.Holder{PID: 1, Host: "alpha", Command: "rebuild-smart", Since: time.Now()})
	require.NoError(t, err)
	defer lock.Release()

	// A generation made by a plain `nh os switch`: the profile already
	// points at it when the pre-switch check runs.
	top := f.makeToplevel(4)
	require.NoError(t, os.Symlink(top, filepath.Join(f.root, "nix/var/nix/profiles/system-4-link")))
	r := f.mustRun("--record", top, "--action", "switch")
	require.Contains(t, r.Stdout, "generation 4")
	last := f.history()[len(f.history())-1]
	require.Equal(t, history.OutcomeActivated, last.Outcome)
	require.Equal(t, "pre-switch-check", last.Source)
	require.Equal(t, 4, last.Generation)
	require.Equal(t, top, last.Toplevel)
	require.Equal(t, "switch", last.Action)
	require.Equal(t, "alpha", last.Host)

	// A test activation has no generation; dry-activate records nothing.
	f.mustRun("--record", "/nix/store/00000000000000000000000000000000-nixos-system-test", "--action", "test")
	n := len(f.history())
	require.Equal(t, 0, f.history()[n-1].Generation)
	f.mustRun("--record", top, "--action", "dry-activate")
	require.Len(t, f.history(), n)

	// It shows up in --list, as current once it runs; rolling back from it
	// goes to generation 3 with the repository left alone for the entry
	// without a commit.
	lock.Release()
	f.point(4)
	doc := listJSON(t, f)
	require.Equal(t, 4, doc.CurrentGeneration)
	found := false
	for _, e := range doc.Entries {
		if e.Source == "pre-switch-check" && e.Generation == 4 {
			found = e.Current
		}
	}
	require.True(t, found, "the recorded generation is listed as current")
	f.mustRun("--to", "4", "--dry-run")
	r = f.run("--to", "4", "--repo-only")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "no commit is recorded for generation 4")

	// A history it cannot write: TestRecordUnwritableIsAWarning; a state
	// directory that is not one: TestRecordDryRunAndRefusals.
}

// The lock shared with rebuild-smart: a rollback while it is held exits 3
// and changes nothing.
func TestLockedChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	lock, err := state.Acquire(context.Background(), f.h.StateDir(), state.RebuildLock, 0, state.Holder{PID: 4242, Host: "alpha", Command: "rebuild-smart", Since: time.Now()})
	require.NoError(t, err)
	defer lock.Release()
	f.write("hosts/alpha.nix", "dirty\n")
	before := f.snapshot()
	r := f.run()
	require.Equal(t, 3, r.Code, r.String())
	require.Contains(t, r.Stderr, "pid 4242")
	require.Equal(t, before, f.snapshot())
	// A dry run still plans, and says the lock is held.
	r = f.mustRun("--dry-run")
	require.Contains(t, r.Stderr, "the rebuild lock is held by pid 4242")
	require.Equal(t, before, f.snapshot())
}

// A repository in the middle of a merge is refused before anything
// changes (exit 1, the message says how to finish or abort).
func TestMergeInProgressChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.conflictingSide()
	require.NotEqual(t, 0, f.h.Exec(f.repo, "git", "merge", "-q", "side").Code, "the merge must conflict")
	before := f.snapshot()
	r := f.run()
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, "a merge is in progress")
	require.Contains(t, r.Stderr, "git merge --abort")
	require.Equal(t, before, f.snapshot())
}

// The plan's check of the repository is minutes old by the time the
// repository step runs: the system switch sits in between, and the user
// may start a merge in another terminal meanwhile. The move must look
// again and refuse, leaving the merge exactly as the user has it (a forced
// checkout would drop MERGE_HEAD and the conflict, and move HEAD off the
// branch being merged into). TestMergeInProgressChangesNothing cannot see
// this: there the plan already refuses.
func TestMergeStartedDuringSwitchIsLeftAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	side := f.conflictingSide()
	// Generation 2's activation is where the user's merge happens: after
	// the plan, before the repository step. It conflicts (exit 1), so its
	// status is ignored; the assertions below show it did start.
	script := fmt.Sprintf("#!/bin/sh\ngit -C '%s' merge -q side >/dev/null 2>&1\nexec fake-switch-to-configuration --toplevel '%s' \"$@\"\n", f.repo, f.tops[1])
	require.NoError(t, os.WriteFile(filepath.Join(f.tops[1], "bin", "switch-to-configuration"), []byte(script), 0o755))

	r := f.run()
	require.Equal(t, 1, r.Code, r.String())
	f.requireAt(2)
	require.Contains(t, r.Stderr, "the system is at generation 2 but the repository "+f.repo+" could not be moved")
	require.Contains(t, r.Stderr, "a merge is in progress")
	require.Contains(t, r.Stderr, "git merge --abort")
	// The merge is untouched: HEAD on main where it was, MERGE_HEAD still
	// naming side, the conflict still in the index, nothing saved.
	require.Equal(t, "main", f.h.Run(f.repo, "git", "symbolic-ref", "--short", "HEAD"))
	require.Equal(t, f.commits[2], f.headCommit())
	require.Equal(t, side, f.h.Run(f.repo, "git", "rev-parse", "MERGE_HEAD"))
	require.Equal(t, "UU hosts/alpha.nix", f.h.Run(f.repo, "git", "status", "--porcelain"))
	require.Empty(t, f.h.Run(f.repo, "git", "branch", "--list", "rollback/*"))
	// What did move is recorded: the history says generation 2 runs, the
	// repository stayed (system-only).
	hist := f.history()
	last := hist[len(hist)-1]
	require.Equal(t, history.OutcomeRolledBack, last.Outcome)
	require.Equal(t, 2, last.Generation)
	require.Equal(t, "system-only", last.Action)

	// (attack 4, F4) The advice is not "run rebuild-rollback again;
	// nothing was changed" (that goes back one more generation): it names
	// the command that moves the repository alone, which works once the
	// merge is given up.
	require.NotContains(t, r.Stderr, "nothing was changed")
	require.Contains(t, r.Stderr, "rebuild-rollback --repo-only --to 2")
	f.h.Run(f.repo, "git", "merge", "--abort")
	f.mustRun("--repo-only", "--to", "2")
	f.requireAt(2)
	require.Equal(t, f.commits[1], f.headCommit())
}

// Commits made on a detached HEAD are on no branch: once the rollback
// moves HEAD they would be reachable from the reflog only, and gone at the
// next gc. With a clean tree there is nothing "uncommitted" to save, so
// only the detached-HEAD case keeps them: on a rollback/ branch the tool
// names, from which the printed command gets back to them.
func TestDetachedCommitsAreKeptOnABranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.h.Run(f.repo, "git", "checkout", "-q", "--detach")
	f.write("hosts/alpha.nix", "experiment one\n")
	f.h.Run(f.repo, "git", "commit", "-q", "-am", "experiment one")
	first := f.h.Run(f.repo, "git", "rev-parse", "HEAD")
	f.write("flake.nix", "{ outputs = _: { experiment = 2; }; }\n")
	f.h.Run(f.repo, "git", "commit", "-q", "-am", "experiment two")
	tip := f.h.Run(f.repo, "git", "rev-parse", "HEAD")
	tipFiles := f.files()
	require.Empty(t, f.h.Run(f.repo, "git", "for-each-ref", "--contains", tip), "the setup: no ref holds the detached commits")

	r := f.mustRun()
	f.requireAt(2)
	require.Equal(t, f.commits[1], f.headCommit())
	require.Equal(t, f.trees[1], f.files())
	require.Equal(t, f.commits[2], f.h.Run(f.repo, "git", "rev-parse", "main"), "main is not moved")

	// One new branch, named in the output, holds both detached commits.
	branch := f.h.Run(f.repo, "git", "for-each-ref", "--format=%(refname:short)", "refs/heads/rollback/")
	require.Regexp(t, `^rollback/\d{8}-\d{6}$`, branch)
	require.Contains(t, r.Stdout, "your work on the detached HEAD is in branch "+branch)
	// Nothing was uncommitted: the message must not send the user looking
	// for edits.
	require.NotContains(t, r.Stdout, "uncommitted")
	require.Equal(t, tip, f.h.Run(f.repo, "git", "rev-parse", branch))
	require.Equal(t, first, f.h.Run(f.repo, "git", "rev-parse", branch+"~1"))

	// The printed command goes back to exactly the detached work.
	f.h.Run(f.repo, "sh", "-c", restoreCmd(t, r.Stdout))
	require.Equal(t, tip, f.headCommit())
	require.Equal(t, tipFiles, f.files())
}

// conflictingSide makes a branch "side" off main~1 whose edit of
// hosts/alpha.nix conflicts with main's, so `git merge side` stops midway;
// main stays checked out. It returns side's commit.
func (f *fixture) conflictingSide() string {
	f.h.Run(f.repo, "git", "checkout", "-q", "-b", "side", "HEAD~1")
	f.write("hosts/alpha.nix", "side edit\n")
	f.h.Run(f.repo, "git", "commit", "-q", "-am", "side")
	side := f.h.Run(f.repo, "git", "rev-parse", "HEAD")
	f.h.Run(f.repo, "git", "checkout", "-q", "main")
	return side
}

// --system-only leaves the repository, --repo-only the system.
func TestSystemOnlyAndRepoOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	repoBefore := f.files()
	f.mustRun("--system-only")
	f.requireAt(2)
	require.Equal(t, f.commits[2], f.headCommit())
	require.Equal(t, repoBefore, f.files())

	g := newFixture(t, "jj", 3)
	g.mustRun("--repo-only", "--to-commit", g.commits[0][:10])
	g.requireAt(3)
	require.Empty(t, g.calls())
	require.Equal(t, g.commits[0], g.headCommit())
	last := g.history()[len(g.history())-1]
	require.Equal(t, "repo-only", last.Action)
	require.Equal(t, g.commits[0], last.Commit)
}

// nh on PATH: `nh os rollback --to N`; nixos-rebuild (no nh): `nixos-rebuild
// switch --rollback` for the previous generation, the profile otherwise.
func TestSwitchMethods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3, "nh", "nixos-rebuild")
	r := f.mustRun("--to", "1", "--json")
	f.requireAt(1)
	// As root nh must be told that root is meant (it refuses otherwise,
	// and so does the fake); as a user it elevates itself.
	wantNH := "nh os rollback --to 1"
	if os.Geteuid() == 0 {
		wantNH += " --bypass-root-check"
	}
	require.Equal(t, wantNH, f.callLines()[0])
	var rep struct {
		Outcome string `json:"outcome"`
		System  struct {
			From   int    `json:"from_generation"`
			To     int    `json:"to_generation"`
			Method string `json:"method"`
		} `json:"system"`
		Repository struct {
			Kind  string `json:"kind"`
			From  string `json:"from"`
			To    string `json:"to"`
			Moved bool   `json:"moved"`
		} `json:"repository"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep), "stdout is one JSON document: %s", r.Stdout)
	require.Equal(t, "rolled-back", rep.Outcome)
	require.Equal(t, 3, rep.System.From)
	require.Equal(t, 1, rep.System.To)
	require.Equal(t, "nh", rep.System.Method)
	require.Equal(t, "git", rep.Repository.Kind)
	require.Equal(t, f.commits[2], rep.Repository.From)
	require.Equal(t, f.commits[0], rep.Repository.To)
	require.True(t, rep.Repository.Moved)
	require.Contains(t, r.Stderr, "[ok] system", "human lines go to stderr with --json")

	g := newFixture(t, "git", 3, "nixos-rebuild")
	g.mustRun()
	g.requireAt(2)
	require.Equal(t, "sudo nixos-rebuild switch --rollback", g.callLines()[0])
	g.mustRun("--to", "3")
	g.requireAt(3)
	require.Contains(t, strings.Join(g.callLines(), "\n"), "--switch-generation 3")
}

// switch-to-configuration exit 4 (units failed): switched, repository
// moved, exit 8. A failed activation: exit 1, repository untouched.
func TestSwitchFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3, "nh")
	f.h.Setenv("FAKE_UNITS_FAILED", "broken.service")
	r := f.run()
	require.Equal(t, 8, r.Code, r.String())
	f.requireAt(2)
	require.Equal(t, f.commits[1], f.headCommit())
	require.Equal(t, history.OutcomeRolledBack, f.history()[len(f.history())-1].Outcome)

	g := newFixture(t, "git", 3)
	g.write("hosts/alpha.nix", "dirty\n")
	repoBefore := g.files()
	g.h.Setenv("FAKE_STC_FAIL", "1")
	r = g.run()
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, "system switch to generation 2 failed")
	require.Contains(t, r.Stderr, "the repository was not touched")
	require.Equal(t, repoBefore, g.files())
	require.Equal(t, g.commits[2], g.headCommit())
	require.Empty(t, g.h.Run(g.repo, "git", "branch", "--list", "rollback/*"))
	require.Equal(t, g.tops[2], g.running())
}

// rebuild-smart records a non-empty jj working-copy commit as the built
// commit; later edits rewrite it (the id becomes hidden). Going back to
// that build still works, by commit id, and the later edits are kept.
func TestJJBuiltFromWorkingCopyCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "jj", 3)
	f.write("hosts/alpha.nix", "built from the working copy\n")
	built := f.h.Run(f.repo, "jj", "log", "--no-graph", "-r", "@", "-T", "commit_id")
	builtFiles := f.files()
	top := f.makeToplevel(4)
	require.NoError(t, os.Symlink(top, filepath.Join(f.root, "nix/var/nix/profiles/system-4-link")))
	f.point(4)
	f.appendHistory(history.Entry{Time: time.Now().UTC(), Host: "alpha", Flake: f.repo, Commit: built, Generation: 4,
		Toplevel: top, Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"})
	// Edited after the build: the next jj command's snapshot rewrites @,
	// hiding the built commit id.
	f.write("hosts/alpha.nix", "later edit\n")
	later := f.files()
	r := f.mustRun("--to", "2")
	f.requireAt(2)
	require.NotEqual(t, built, f.h.Run(f.repo, "jj", "log", "--no-graph", "-r", "@-", "-T", "commit_id"))
	saved := restoreCmd(t, r.Stdout)

	r = f.mustRun("--to", "4")
	f.requireAt(4)
	require.Equal(t, builtFiles, f.files())
	require.Equal(t, f.commits[2], f.headCommit(), "the new change sits on the built commit's parent")
	require.NotContains(t, f.h.Run(f.repo, "jj", "log", "--no-graph", "-r", "all()", "-T", `if(divergent, "DIVERGENT ")`), "DIVERGENT")
	require.NotContains(t, r.Stdout, "uncommitted work", "nothing new to save")
	f.h.Run(f.repo, "sh", "-c", saved)
	require.Equal(t, later, f.files())
}

// Asking for what already runs, with the repository already there, does
// nothing and records nothing.
func TestNothingToDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 2)
	before := f.snapshot()
	r := f.mustRun("--to", "2")
	require.Equal(t, "Nothing to do: the system already runs generation 2; "+f.repo+" is already at "+f.commits[1][:12]+".", lastLineOf(r.Stdout))
	r = f.mustRun("--to", "2", "--dry-run")
	require.Equal(t, "Dry run, nothing to do: the system already runs generation 2; "+f.repo+" is already at "+f.commits[1][:12]+".", lastLineOf(r.Stdout))
	require.Equal(t, before, f.snapshot())
	require.Empty(t, f.calls())
}

func lastLineOf(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// Awkward work in a git tree: names with spaces, quotes, unicode and a
// leading dash, a symlink, an executable bit, an intent-to-add file (what
// rebuild-smart leaves for new files). All of it comes back, modes included.
func TestGitAwkwardWorkLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 2)
	f.write("with space/fïlé \"quoted\".nix", "1\n")
	f.write("-leading-dash.nix", "2\n")
	f.write("intent.nix", "intent to add\n")
	f.h.Run(f.repo, "git", "add", "--intent-to-add", "intent.nix")
	require.NoError(t, os.Symlink("hosts/alpha.nix", filepath.Join(f.repo, "link.nix")))
	require.NoError(t, os.Chmod(filepath.Join(f.repo, "flake.nix"), 0o755))
	modes := func() map[string]string {
		out := map[string]string{}
		for p, c := range f.files() {
			st, err := os.Lstat(filepath.Join(f.repo, p))
			require.NoError(t, err)
			out[p] = st.Mode().String() + " " + c
		}
		return out
	}
	before := modes()

	r := f.mustRun()
	f.requireAt(1)
	require.Equal(t, f.trees[0], f.files())
	f.h.Run(f.repo, "sh", "-c", restoreCmd(t, r.Stdout))
	require.Equal(t, before, modes())
}

// The attack: a user's state directory whose history is a link to a
// root-owned file. Root's --record there (the old documented pre-switch
// invocation) is refused, exit 10: the link's target is neither appended to
// nor chowned, and nothing of the user's changes.
func TestRecordAsRootRefusesUserState(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	f := newFixture(t, "git", 1)
	u := testuser.New(t)
	userDir := u.Dir(t)
	stateDir := filepath.Join(userDir, ".local", "state", "nixdots")
	require.NoError(t, os.MkdirAll(stateDir, 0o700))
	victim := filepath.Join(f.h.Root, "root-owned")
	require.NoError(t, os.WriteFile(victim, []byte("root's\n"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(stateDir, history.FileName)))
	for _, p := range []string{filepath.Join(userDir, ".local"), filepath.Join(userDir, ".local", "state"), stateDir} {
		require.NoError(t, os.Chown(p, u.UID, u.GID))
	}
	require.NoError(t, os.Lchown(filepath.Join(stateDir, history.FileName), u.UID, u.GID))
	before := testuser.Snapshot(t, userDir)

	r := f.run("--state-dir", stateDir, "--record", f.tops[0])
	require.Equal(t, 10, r.Code, r.String())
	require.Contains(t, r.Stderr, "refusing the state directory "+stateDir+": it is owned by "+u.Name)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, "one line")
	data, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "root's\n", string(data))
	st, err := os.Stat(victim)
	require.NoError(t, err)
	require.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Uid, "the target was chowned")
	require.Equal(t, before, testuser.Snapshot(t, userDir))

	// Nor does root create anything inside a user's directory.
	fresh := filepath.Join(userDir, "fresh", "nixdots")
	r = f.run("--state-dir", fresh, "--record", f.tops[0])
	require.Equal(t, 10, r.Code, r.String())
	require.NoDirExists(t, filepath.Join(userDir, "fresh"))
}
