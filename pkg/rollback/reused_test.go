package rollback_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

// A generation whose number nix gave to another system after a garbage
// collection (the link holds a toplevel the history does not record for
// it) is never switched to as the recorded build: --to N refuses it and
// changes nothing, the default choice passes over it, --to-commit of its
// commit refuses, completion leaves it out, and --list says the same
// (garbage-collected, not available). --system-only --to N switches to
// what the link holds, as for a generation the history never recorded.
func TestReusedGenerationNumberIsNotRestored(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.write("hosts/alpha.nix", "dirty work\n")
	other := f.makeToplevel(7) // a system no record describes
	link := filepath.Join(f.root, "nix/var/nix/profiles/system-2-link")
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink(other, link))

	// --list and the switch decision agree: 2 is gone.
	doc := listJSON(t, f)
	for _, g := range doc.Generations {
		require.Equal(t, g.Generation != 2, g.Available, "generation %d", g.Generation)
	}
	r := f.mustRun("--list")
	require.Regexp(t, `(?m)^  2 .*garbage-collected$`, r.Stdout)

	before := f.snapshot()
	for _, args := range [][]string{
		{"--to", "2"}, {"--to", "2", "--dry-run"}, {"--to-commit", f.commits[1]}, {"--to-commit", f.commits[1], "--dry-run"},
	} {
		r := f.run(args...)
		require.Equal(t, 2, r.Code, "%v: %s", args, r)
		require.Contains(t, r.Stderr, "generation 2 cannot be restored: its system "+f.tops[1]+" was garbage-collected and the link system-2-link now holds another system, "+other, args)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
		require.Equal(t, before, f.snapshot(), "%v changed something", args)
	}
	require.Empty(t, f.calls())

	r = f.mustRun("__complete", "to")
	require.NotRegexp(t, `(?m)^2\t`, r.Stdout)
	require.Regexp(t, `(?m)^1\t`, r.Stdout)

	// The default goes back past it, to the build before that can be
	// restored: generation 1, with its own commit.
	r = f.mustRun("--dry-run")
	require.Contains(t, r.Stdout, "back to generation 1, commit "+f.commits[0][:12])
	f.mustRun()
	f.requireAt(1)
	require.Equal(t, f.commits[0], f.headCommit())

	// --system-only --to 2 switches to what the link holds, named as
	// that, without the record's commit.
	r = f.mustRun("--system-only", "--to", "2", "--dry-run")
	require.Contains(t, r.Stdout, "back to generation 2\n")
	require.Contains(t, r.Stdout, filepath.Join(other, "bin/switch-to-configuration")+" switch")

	// Of two builds of one commit, the one that can be restored is the
	// target of --to-commit, even when a newer one of it cannot be.
	top4 := f.makeToplevel(4)
	require.NoError(t, os.Symlink(f.makeToplevel(8), filepath.Join(f.root, "nix/var/nix/profiles/system-4-link")))
	f.appendHistory(history.Entry{Time: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Host: "alpha", Flake: f.repo, Commit: f.commits[0],
		Generation: 4, Toplevel: top4, Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"})
	r = f.mustRun("--to-commit", f.commits[0], "--dry-run")
	require.Contains(t, r.Stdout, "back to generation 1, commit "+f.commits[0][:12])
	r = f.run("--to", "4", "--dry-run")
	require.Equal(t, 2, r.Code, r.String())

	// With every build below the running one gone, the default refuses.
	f.point(3)
	require.NoError(t, os.Remove(filepath.Join(f.root, "nix/var/nix/profiles/system-1-link")))
	before = f.snapshot()
	r = f.run()
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "no successful build before generation 3 can be restored: generation 2 cannot be restored")
	require.Equal(t, before, f.snapshot())
}
