package showconflicts_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { testharness.Main(m) }

func show(h *testharness.Host, args ...string) testharness.Result {
	return h.Exec("", "chezmoi-show-conflicts", args...)
}

func requireCode(t *testing.T, want int, r testharness.Result) {
	t.Helper()
	require.Equal(t, want, r.Code, r.String())
}

func scanJSON(t *testing.T, h *testharness.Host, wantCode int, args ...string) (showconflicts.Output, string) {
	t.Helper()
	r := show(h, append([]string{"--json"}, args...)...)
	requireCode(t, wantCode, r)
	var out showconflicts.Output
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
	return out, r.Stdout
}

func TestMapExit(t *testing.T) {
	for in, want := range map[int]int{0: 0, 5: 1, 1: 2, 2: 2, 3: 3, 130: 130} {
		require.Equal(t, want, showconflicts.MapExit(in), "suite code %d", in)
	}
}

// Never synced: no .jj, so no conflicts can exist; that is not an error.
func TestNeverSynced(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	r := show(w.Beta)
	requireCode(t, 0, r)
	require.Contains(t, r.Stderr, "jj is not initialised in "+w.Beta.SourceDir())
	require.Contains(t, r.Stdout, "No conflicts")
	out, _ := scanJSON(t, w.Beta, 0)
	require.False(t, out.Initialized)
	require.Empty(t, out.Conflicts)
}

// After a successful sync: none.
func TestNone(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	conflictfixture.InitJJ(w.Beta)
	conflictfixture.EditHome(t, w.Beta, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	conflictfixture.Capture(w.Beta)
	conflictfixture.Publish(w.Beta)
	r := show(w.Beta)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "No conflicts in "+w.Beta.SourceDir()+" (host beta).")
	r = show(w.Beta, "--files-only")
	requireCode(t, 0, r)
	require.Empty(t, r.Stdout)
	r = show(w.Beta, "-q")
	requireCode(t, 0, r)
	require.Empty(t, r.Stdout+r.Stderr)
	_, doc := scanJSON(t, w.Beta, 0)
	conflictfixture.Golden(t, "none.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)
}

// conflicts-preserved: beta's edit is parked on sync/beta; its commits are
// clean, but they conflict with main@origin, and both sides are named.
func TestParked(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	w.ConflictingEdits()
	conflictfixture.Park(t, w.Beta)
	h := w.Beta
	ops := conflictfixture.OpCount(t, h)

	r := show(h)
	requireCode(t, 1, r)
	for _, want := range []string{
		"1 conflict in " + h.SourceDir() + " (host beta), 1 file:",
		"sync/beta: parked edits of beta that conflict with main@origin",
		"dot_bashrc (1 hunk)",
		`side 1: main@origin: `, `— 1 line: "export EDITOR=nvim"`,
		`side 2: sync/beta: `, `— 1 line: "export EDITOR=emacs"`,
	} {
		require.Contains(t, r.Stdout, want)
	}
	// The one recipe chezmoi-sync prints too (docs/chezmoi-sync.md).
	for _, want := range showconflicts.Recipe(h.SourceDir(), "main@origin", "sync/beta", []string{"dot_bashrc"}) {
		require.Contains(t, r.Stdout, want)
	}

	r = show(h, "--files-only")
	requireCode(t, 1, r)
	require.Equal(t, filepath.Join(h.SourceDir(), "dot_bashrc")+"\n", r.Stdout)

	// --hostname completes the hosts sharing the dotfiles: this one, and
	// the ones the sync commits name (the shells call this).
	r = h.Exec("", "chezmoi-show-conflicts", "__complete", "hostname")
	requireCode(t, 0, r)
	require.Regexp(t, `^alpha\tsynced \d{4}-\d\d-\d\d\nbeta\tthis host\n$`, r.Stdout)
	r = h.Exec("", "chezmoi-status", "__complete", "hostname", "--source-dir", h.SourceDir())
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "alpha\t")
	r = h.Exec("", "chezmoi-sync", "__complete", "hostname")
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "beta\tthis host\n")

	// -q, like grep -q: the exit status only; not even the warning about
	// the sync that holds the lock.
	for _, q := range []string{"-q", "--quiet"} {
		r = show(h, q)
		requireCode(t, 1, r)
		require.Empty(t, r.Stdout, q)
		require.Empty(t, r.Stderr, q)
	}

	out, doc := scanJSON(t, h, 1)
	require.Len(t, out.Conflicts, 1)
	c := out.Conflicts[0]
	require.Equal(t, showconflicts.KindParked, c.Kind)
	require.Equal(t, "sync/beta", c.Bookmark)
	require.True(t, c.ThisHost)
	require.Len(t, c.Local, 1)
	require.Len(t, c.Remote, 1)
	require.Equal(t, "alpha", c.Remote[0].Author)
	conflictfixture.Golden(t, "parked.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)

	require.Equal(t, ops, conflictfixture.OpCount(t, h), "show-conflicts must not add a jj operation")
	require.Equal(t, "", strings.TrimSpace(h.Run(h.SourceDir(), "git", "status", "--porcelain")), "nothing written into the repository")

	// Alpha sees beta's parked bookmark only with --all-hosts, and is told
	// it belongs to beta.
	w.Alpha.Run(w.Alpha.SourceDir(), "jj", "git", "fetch")
	requireCode(t, 0, show(w.Alpha))
	r = show(w.Alpha, "--all-hosts")
	requireCode(t, 1, r)
	require.Contains(t, r.Stdout, "sync/beta@origin: parked edits of beta")
	require.Contains(t, r.Stdout, "# parked by host beta: run chezmoi-show-conflicts there")
}

// Following the printed recipe resolves the conflict: after the rebase the
// conflict is a conflicted commit in the working copy (markers in the
// files); the recipe for it is the same; after editing the files,
// chezmoi-sync publishes the resolution and none is left.
func TestRecipeResolves(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	w.ConflictingEdits()
	conflictfixture.Park(t, w.Beta)
	h := w.Beta
	out, _ := scanJSON(t, h, 1)
	recipe := out.Conflicts[0].Resolve
	require.Equal(t, showconflicts.Recipe(h.SourceDir(), "main@origin", "sync/beta", []string{"dot_bashrc"}), recipe)

	run := func(line string) {
		args := strings.Fields(strings.SplitN(line, "#", 2)[0])
		h.Run(h.SourceDir(), args[0], args[1:]...)
	}
	// The one-command choices first, then the merge by hand.
	require.True(t, strings.HasPrefix(recipe[0], "chezmoi-sync --keep-local ~/.bashrc "), recipe[0])
	require.True(t, strings.HasPrefix(recipe[1], "chezmoi-sync --take-remote ~/.bashrc "), recipe[1])
	require.Equal(t, "# or merge by hand:", recipe[2])
	hand := recipe[3:]
	require.Equal(t, "cd "+h.SourceDir(), hand[0])
	require.True(t, strings.HasPrefix(hand[1], "jj rebase -b @ -d main@origin"), hand[1])
	run(hand[1])

	out, doc := scanJSON(t, h, 1)
	require.Len(t, out.Conflicts, 1)
	c := out.Conflicts[0]
	require.Equal(t, showconflicts.KindCommit, c.Kind)
	require.Equal(t, "working-copy", c.Where)
	require.True(t, c.Commit.Conflict)
	require.Equal(t, "dot_bashrc", c.Files[0].Path)
	require.Len(t, c.Files[0].Sides, 2)
	require.Contains(t, c.Files[0].Sides[0].Label, "(rebase destination)")
	require.Equal(t, "export EDITOR=nvim", c.Files[0].Sides[0].Preview)
	require.Equal(t, "export EDITOR=emacs", c.Files[0].Sides[1].Preview)
	conflictfixture.Golden(t, "working-copy-conflict.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)
	require.Equal(t, recipe, c.Resolve, "the recipe is the same before and after the rebase")

	require.Contains(t, h.ReadSource("dot_bashrc"), "<<<<<<<", "the working copy holds the markers to edit")
	require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), "dot_bashrc"), []byte("# bashrc\nexport EDITOR=emacs\nalias ll='ls -l'\n"), 0o644))
	require.True(t, strings.HasPrefix(c.Resolve[6], "chezmoi-sync --continue"), c.Resolve)
	run(c.Resolve[6])
	r := show(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "No conflicts")
	require.Equal(t, "# bashrc\nexport EDITOR=emacs\nalias ll='ls -l'\n", h.ReadHome(".bashrc"))
}

// The pipe: conflicted paths into xargs, newline- and NUL-separated, with a
// path holding a space; the files hold jj's conflict markers.
func TestPipeToXargs(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	for _, h := range []*testharness.Host{w.Alpha, w.Beta} {
		conflictfixture.InitJJ(h)
	}
	notes := ".config/my app/notes.txt"
	conflictfixture.EditHome(t, w.Alpha, notes, "first note", "alpha's note")
	conflictfixture.EditHome(t, w.Alpha, ".bashrc", "EDITOR=vi", "EDITOR=nvim")
	conflictfixture.Capture(w.Alpha)
	conflictfixture.Publish(w.Alpha)
	conflictfixture.EditHome(t, w.Beta, notes, "first note", "beta's note")
	conflictfixture.EditHome(t, w.Beta, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	conflictfixture.Capture(w.Beta)
	conflictfixture.ConflictInWorkingCopy(t, w.Beta)
	h := w.Beta

	spaced := filepath.Join(h.SourceDir(), conflictfixture.SpacedFile)
	bashrc := filepath.Join(h.SourceDir(), "dot_bashrc")

	r := h.Exec(h.SourceDir(), "bash", "-c", `chezmoi-show-conflicts --files-only | xargs -d '\n' grep -l '^<<<<<<<'; echo "show=${PIPESTATUS[0]} xargs=${PIPESTATUS[1]}"`)
	require.Equal(t, bashrc+"\n"+spaced+"\nshow=1 xargs=0\n", r.Stdout, r.String())

	r = h.Exec(h.SourceDir(), "bash", "-c", `chezmoi-show-conflicts -z | xargs -0 grep -c '^>>>>>>>'; echo "show=${PIPESTATUS[0]} xargs=${PIPESTATUS[1]}"`)
	require.Equal(t, bashrc+":1\n"+spaced+":1\nshow=1 xargs=0\n", r.Stdout, r.String())

	r = show(h, "-z")
	require.Equal(t, bashrc+"\x00"+spaced+"\x00", r.Stdout)

	// With nothing in conflict the pipe carries nothing and xargs -r runs nothing.
	r = w.Alpha.Exec(w.Alpha.SourceDir(), "bash", "-c", `chezmoi-show-conflicts --files-only | xargs -r echo found; echo "show=${PIPESTATUS[0]}"`)
	require.Equal(t, "show=0\n", r.Stdout, r.String())
}

func TestSyncRunning(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	w.ConflictingEdits()
	conflictfixture.Park(t, w.Beta)
	h := w.Beta
	lock, err := state.Acquire(context.Background(), h.StateDir(), state.SyncLock, 0,
		state.Holder{PID: os.Getpid(), Host: "beta", Command: "chezmoi-sync", Since: time.Now()})
	require.NoError(t, err)
	defer lock.Release()

	r := show(h)
	requireCode(t, 1, r)
	require.Contains(t, r.Stderr, fmt.Sprintf("a sync is running (pid %d on beta (chezmoi-sync)", os.Getpid()))
	out, _ := scanJSON(t, h, 1)
	require.True(t, out.SyncRunning)
	require.Equal(t, os.Getpid(), out.SyncHolder.PID)

	r = show(h, "--wait", "200ms")
	requireCode(t, 3, r)
	require.Contains(t, r.Stderr, "another run holds")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--files-only", "--json"},
		{"-q", "--json"},
		{"-q", "-z"},
		{"--source-dir", filepath.Join(h.Root, "missing")},
		{"--branch", ""},
	} {
		r := show(h, args...)
		requireCode(t, 2, r)
		require.Equal(t, 1, len(strings.Split(strings.TrimSpace(r.Stderr), "\n")), "%v: one line: %q", args, r.Stderr)
		require.True(t, strings.HasPrefix(r.Stderr, "chezmoi-show-conflicts: "), r.Stderr)
	}
	// A source directory that is not a jj repository at all and jj fails in.
	conflictfixture.InitJJ(h)
	require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), ".jj", "repo", "store", "type"), []byte("bogus"), 0o644))
	r := show(h)
	require.GreaterOrEqual(t, r.Code, 2, r.String())
}
