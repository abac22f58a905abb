package rollback_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixdots/nixdots/internal/testuser"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

// A flag given an empty or impossible value is refused before anything is
// read or changed: exit 2, one line, with and without --dry-run and
// --json, whether the history is full or empty. (Before: --action without
// --record, --record "" and --to-commit "" ran a real rollback, since the
// empty value read as "not given"; --to 0 with an empty history said
// "history empty".)
func TestBadFlagValuesChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 3)
	f.write("hosts/alpha.nix", "dirty work\n")
	histFile := filepath.Join(f.h.StateDir(), history.FileName)
	good, err := os.ReadFile(histFile)
	require.NoError(t, err)

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--action", "switch"}, "--action is only valid with --record"},
		{[]string{"--action", "boot"}, "--action is only valid with --record"},
		{[]string{"--action", ""}, "--action is only valid with --record"},
		{[]string{"--record", ""}, `--record "": give the system being activated, an absolute path`},
		{[]string{"--record", "", "--action", "switch"}, `--record "": give the system being activated`},
		{[]string{"--record", "nix/store/x-nixos-system"}, "an absolute path"},
		{[]string{"--record", "/nix/store/x\n", "--action", "switch"}, "an absolute path"},
		{[]string{"--to-commit", ""}, `--to-commit "": give a commit id`},
		{[]string{"--to-commit", " "}, "give a commit id"},
		{[]string{"--to-commit=--all"}, "give a commit id"},
		{[]string{"--to", ""}, "a generation is a positive number"},
		{[]string{"--to", "0"}, "a generation is a positive number"},
		{[]string{"--to=-1"}, "a generation is a positive number"},
		{[]string{"--to", "two"}, "a generation is a positive number"},
		{[]string{"--flake", ""}, "--flake is empty"},
		{[]string{"--with-dotfiles", "--list"}, "--with-dotfiles is only valid with a rollback"},
		{[]string{"--with-dotfiles", "--clean"}, "--with-dotfiles is only valid with a rollback"},
		{[]string{"--with-dotfiles", "--record", "/nix/store/x-nixos-system"}, "--with-dotfiles is only valid with a rollback"},
	}
	for _, hist := range []string{"full", "empty"} {
		content := good
		if hist == "empty" {
			content = nil
		}
		require.NoError(t, os.WriteFile(histFile, content, 0o600))
		for _, tc := range cases {
			for _, extra := range [][]string{nil, {"--dry-run"}, {"--dry-run", "--json"}} {
				args := append(append([]string{}, tc.args...), extra...)
				before := f.snapshot()
				r := f.run(args...)
				name := hist + " history: " + strings.Join(args, " ")
				require.Equal(t, 2, r.Code, "%s: %s", name, r)
				require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%s: one line: %q", name, r.Stderr)
				require.Contains(t, r.Stderr, tc.want, name)
				require.Equal(t, before, f.snapshot(), "%s changed something", name)
				require.Empty(t, f.calls(), name)
				if len(extra) == 2 {
					var doc struct {
						ExitCode int `json:"exit_code"`
					}
					require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), "%s: %s", name, r.Stdout)
					require.Equal(t, 2, doc.ExitCode, name)
				}
			}
		}
	}
	// The values those flags do take still work (the refusal is of the
	// value, not of the flag).
	require.NoError(t, os.WriteFile(histFile, good, 0o600))
	f.mustRun("--to", "2", "--dry-run")
	f.mustRun("--to-commit", f.commits[1][:12], "--dry-run")
}

// --record --dry-run writes nothing and says what a real run would record;
// a record without a generation never says "generation 0"; an unusable
// state directory is an error with its documented code, not a warning
// and exit 0: a FIFO at the history is refused (10), a file given as the
// state directory is bad input (2).
func TestRecordDryRunAndRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "git", 2)
	histFile := filepath.Join(f.h.StateDir(), history.FileName)
	before, err := os.ReadFile(histFile)
	require.NoError(t, err)

	r := f.mustRun("--record", f.tops[1], "--action", "switch", "--dry-run")
	require.Equal(t, "Dry run, nothing was recorded. A real run would record the switch activation of "+f.tops[1]+" (generation 2) in "+histFile+".\n", r.Stdout)
	r = f.mustRun("--record", f.tops[1], "--dry-run", "--json")
	var doc struct {
		DryRun  bool          `json:"dry_run"`
		History string        `json:"history"`
		Entry   history.Entry `json:"entry"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.Stdout)
	require.True(t, doc.DryRun)
	require.Equal(t, histFile, doc.History)
	require.Equal(t, 2, doc.Entry.Generation)
	require.Equal(t, history.OutcomeActivated, doc.Entry.Outcome)
	after, err := os.ReadFile(histFile)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "--record --dry-run wrote the history")

	// No profile link holds it (a test activation): no "generation 0".
	test := "/nix/store/00000000000000000000000000000000-nixos-system-test"
	r = f.mustRun("--record", test, "--action", "test")
	require.NotContains(t, r.Stdout, "generation 0")
	require.Contains(t, r.Stdout, "recorded test activation of "+test+" (no generation:")
	r = f.mustRun("--record", test, "--action", "")
	require.NotContains(t, r.Stdout, "generation 0")
	require.Contains(t, r.Stdout, "recorded activation of "+test)
	es := f.history()
	require.Equal(t, "", es[len(es)-1].Action, "--action \"\" records no action")

	// A FIFO at the history: exit 10, one line, nothing written.
	fifoDir := filepath.Join(f.h.Root, "fifo-state")
	require.NoError(t, os.Mkdir(fifoDir, 0o700))
	require.NoError(t, syscall.Mkfifo(filepath.Join(fifoDir, history.FileName), 0o600))
	r = f.run("--state-dir", fifoDir, "--record", f.tops[0])
	require.Equal(t, 10, r.Code, r.String())
	require.Contains(t, r.Stderr, "named pipe")
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)

	// A file given as the state directory: exit 2, as for every binary.
	file := filepath.Join(f.h.Root, "not-a-dir")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	r = f.run("--state-dir", file, "--record", f.tops[0])
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "is not a directory")
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "x", string(data))
	// So is a FIFO given as the state directory (it is not opened).
	fifo := filepath.Join(f.h.Root, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	r = f.run("--state-dir", fifo, "--record", f.tops[0])
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "is not a directory")
}

// What --record still only warns about: a history it cannot write for a
// plain reason (here: a state directory of the user's own that the user
// made read-only) is a warning and exit 0, never a failed switch. Run as
// a real unprivileged user, since root writes through any mode.
func TestRecordUnwritableIsAWarning(t *testing.T) {
	testuser.RequireRoot(t)
	t.Parallel()
	f := newFixture(t, "git", 1)
	u := testuser.New(t)
	dir := filepath.Join(u.Dir(t), "state")
	require.NoError(t, os.Mkdir(dir, 0o500))
	require.NoError(t, os.Chown(dir, u.UID, u.GID))
	out, err := runAsUser(t, u, f, dir, "--state-dir", dir, "--record", f.tops[0], "--action", "switch")
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, "warning: could not record the activation of "+f.tops[0])
	require.Contains(t, out, "permission denied")
	require.NoFileExists(t, filepath.Join(dir, history.FileName))
}
