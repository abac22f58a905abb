package chezmoisync_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// Conflicts in two files: alpha and beta changed the same line of
// .bashrc and of .gitconfig; beta also made a disjoint edit. beta's sync
// parks (exit 5).
func parkedTwoFiles(t *testing.T) (remote string, a, b *testharness.Host) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, dotfiles(map[string]string{"dot_profile": "export A=1\n"}))
	a, b = newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	a.WriteHome(".gitconfig", "[core]\n\tpager = alpha\n")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	b.WriteHome(".gitconfig", "[core]\n\tpager = beta\n")
	editLine(t, b, ".config/app/config.toml", 1, "font = 14")
	syncCode(t, b, 5)
	return remote, a, b
}

// discarded reads the side a resolution did not take, from the commit the
// record names.
func discarded(t *testing.T, h *testharness.Host, path string) (string, syncstate.Resolution) {
	t.Helper()
	for _, res := range record(t, h).Resolutions {
		if res.Path == path {
			require.NotEmpty(t, res.DiscardedCommit, "%s: no commit holds the side not taken", path)
			// Byte for byte (jjOut trims): whitespace matters here.
			return h.Exec(h.SourceDir(), "jj", "--ignore-working-copy", "file", "show", "-r", res.DiscardedCommit, path).Stdout, res
		}
	}
	t.Fatalf("no resolution of %s in the record", path)
	return "", syncstate.Resolution{}
}

// One run resolves both files, one side each; the disjoint edit is
// published too, the parked bookmark goes, HOME gets the result, and the
// side not taken of each file is in the commit the record names.
func TestKeepLocalAndTakeRemotePerPath(t *testing.T) {
	t.Parallel()
	remote, a, b := parkedTwoFiles(t)
	r := mustSync(t, b, "--keep-local", "~/.bashrc", "--take-remote", filepath.Join(b.Home, ".gitconfig"))
	require.Equal(t, syncstate.Success, record(t, b).Status, r.String())
	require.Contains(t, r.Stdout, "resolved: ~/.bashrc: kept this host's side")
	require.Contains(t, r.Stdout, "resolved: ~/.gitconfig: took main@origin's side")

	for file, want := range map[string]string{"dot_bashrc": "ls -lh", "dot_gitconfig": "pager = alpha", "dot_config/app/config.toml": "font = 14"} {
		require.Contains(t, testharness.RemoteFile(t, remote, "main", file), want, file)
	}
	require.Contains(t, b.ReadHome(".bashrc"), "ls -lh")
	require.Contains(t, b.ReadHome(".gitconfig"), "pager = alpha")
	require.Contains(t, b.ReadHome(".config/app/config.toml"), "font = 14")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	require.Empty(t, jjOut(b, "bookmark", "list", "exact:sync/beta"))

	// The sides not taken: alpha's .bashrc is in main's history, beta's
	// .gitconfig on a local kept/ bookmark (never pushed).
	side, res := discarded(t, b, "dot_bashrc")
	require.Equal(t, "remote", res.Discarded)
	require.Contains(t, side, "ls -la")
	side, res = discarded(t, b, "dot_gitconfig")
	require.Equal(t, "local", res.Discarded)
	require.Contains(t, side, "pager = beta")
	require.Contains(t, jjOut(b, "bookmark", "list", "glob:kept/beta/*"), "kept/beta/")
	for _, ref := range testharness.RemoteRefs(t, remote) {
		require.False(t, strings.HasPrefix(ref, "kept/"), "the kept side was pushed: %s", ref)
	}
	// chezmoi-show-conflicts --history lists both, with the commands that
	// show each side (run here: they print it).
	hist := b.Exec("", "chezmoi-show-conflicts", "--history", "--json")
	require.Equal(t, 0, hist.Code, hist.String())
	var doc showconflicts.HistoryDoc
	require.NoError(t, json.Unmarshal([]byte(hist.Stdout), &doc))
	require.Len(t, doc.History, 2)
	for _, e := range doc.History {
		shown := b.Exec(b.SourceDir(), "sh", "-c", e.Show)
		require.Equal(t, 0, shown.Code, shown.String())
		want := map[string]string{"dot_bashrc": "ls -la", "dot_gitconfig": "pager = beta"}[e.Path]
		require.Contains(t, shown.Stdout, want, e.Show)
	}
	human := b.Exec("", "chezmoi-show-conflicts", "--history")
	require.Contains(t, human.Stdout, "dot_gitconfig: chezmoi-sync --take-remote took the remote's side; this host's side is in")
	require.Contains(t, human.Stdout, "kept/beta/")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "ls -lh")
	require.Contains(t, a.ReadHome(".config/app/config.toml"), "font = 14")
}

// No path: every conflicted file, across several parked runs and an edit
// made while parked. take-remote for all keeps every side of beta's on
// the kept bookmark, and the disjoint edits are still published.
func TestResolveEveryPathOfSeveralParkedRuns(t *testing.T) {
	for _, flag := range []string{"--keep-local", "--take-remote"} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()
			remote, a, b, _ := parkedTwice(t, "parked-twice")
			editLine(t, b, ".config/app/config.toml", 1, "font = 13") // while parked
			mustSync(t, b, flag)
			rec := record(t, b)
			require.Equal(t, syncstate.Success, rec.Status)
			want := map[string]string{"dot_bashrc": "ls -lh", "dot_gitconfig": "parked-twice", "dot_config/app/config.toml": "font = 13"}
			if flag == "--take-remote" {
				want["dot_bashrc"] = "ls -la"
			}
			for file, edit := range want {
				require.Contains(t, testharness.RemoteFile(t, remote, "main", file), edit, "%s lost from main", file)
			}
			require.Contains(t, b.ReadHome(".bashrc"), want["dot_bashrc"])
			require.Contains(t, b.ReadHome(".config/app/config.toml"), "font = 13")
			if flag == "--take-remote" {
				side, _ := discarded(t, b, "dot_bashrc")
				require.Contains(t, side, "ls -lh")
			}
			mustSync(t, a)
			require.Contains(t, a.ReadHome(".gitconfig"), "parked-twice")
		})
	}
}

// A choice for one file only: the other stays conflicted (exit 5, its
// markers in the source file, HOME untouched); the next run chooses for
// it, and both choices hold.
func TestPartialResolutionStaysParked(t *testing.T) {
	t.Parallel()
	remote, _, b := parkedTwoFiles(t)
	home := homeFiles(t, b)
	r := syncCode(t, b, 5, "--keep-local", ".bashrc") // relative to the current directory (HOME)
	require.Contains(t, r.Stdout, "still conflicted: ~/.gitconfig")
	require.Contains(t, r.Stdout, "chezmoi-sync --take-remote ~/.gitconfig")
	require.Equal(t, syncstate.ConflictsPreserved, record(t, b).Status)
	require.Equal(t, home, homeFiles(t, b), "a partial resolution changed HOME")
	require.True(t, hasConflictMarkers(b.ReadSource("dot_gitconfig")))
	require.False(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
	require.Contains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	syncCode(t, b, 5) // a plain sync refuses, as before

	mustSync(t, b, "--take-remote", "dot_gitconfig") // a source path works too
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lh")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = alpha")
	require.Contains(t, b.ReadHome(".gitconfig"), "pager = alpha")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")

	// Undo takes back the resolution made in two runs: HOME holds beta's
	// side again, as before it; the remote keeps the resolution (held).
	published := remoteRef(t, b, remote, "refs/heads/main")
	r = mustSync(t, b, "--undo")
	require.Len(t, record(t, b).Undo.Undone, 2, r.String())
	require.Contains(t, b.ReadHome(".gitconfig"), "pager = beta")
	require.Contains(t, b.ReadHome(".bashrc"), "ls -lh")
	require.True(t, record(t, b).Held)
	require.Equal(t, published, remoteRef(t, b, remote, "refs/heads/main"))
}

// A path that is not conflicted is bad input: exit 2, nothing changed.
func TestResolveUnknownPathChangesNothing(t *testing.T) {
	t.Parallel()
	remote, _, b := parkedTwoFiles(t)
	before := everything(t, b, remote)
	r := syncCode(t, b, 2, "--keep-local", "~/.zshrc")
	require.Contains(t, r.Stderr, "~/.zshrc is not a conflicted file")
	require.Contains(t, r.Stderr, "~/.bashrc (dot_bashrc)")
	require.Equal(t, before, everything(t, b, remote))
	syncCode(t, b, 2, "--keep-local", "~/.bashrc", "--take-remote", "~/.bashrc")
	require.Equal(t, before, everything(t, b, remote))
	// (attack 3, F12) an empty path, and the directory holding the source
	// directory (it holds no conflicted target), are bad input too.
	syncCode(t, b, 2, "--keep-local", "")
	up := b.Exec(b.SourceDir(), "chezmoi-sync", "--keep-local", "..")
	require.Equal(t, 2, up.Code, up.String())
	require.Equal(t, before, everything(t, b, remote))
}

// Conflicts that need no choice are resolved by a plain sync, each named
// in the output: one side only changed whitespace at a line's end; the two
// sides changed adjacent lines (jj conflicts on those). The whitespace
// side given up is kept.
func TestTriviallyResolvableConflicts(t *testing.T) {
	t.Parallel()
	remote, a, b := hostsWith(t, nil)
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	editLine(t, a, ".config/app/config.toml", 0, "theme = \"light\"")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -l'   ")
	editLine(t, b, ".config/app/config.toml", 1, "font = 16")
	r := mustSync(t, b)
	rec := record(t, b)
	require.Equal(t, syncstate.Success, rec.Status, r.String())
	require.Empty(t, rec.Parked)
	require.Contains(t, r.Stdout, "~/.bashrc: resolved without asking, one side only changed whitespace at the end of a line")
	require.Contains(t, r.Stdout, "~/.config/app/config.toml: resolved without asking, the two sides changed different lines")
	require.Equal(t, "# bashrc\nexport EDITOR=vi\nalias ll='ls -la'\n", testharness.RemoteFile(t, remote, "main", "dot_bashrc"))
	require.Equal(t, "theme = \"light\"\nfont = 16\n", testharness.RemoteFile(t, remote, "main", "dot_config/app/config.toml"))
	require.Equal(t, "theme = \"light\"\nfont = 16\n", b.ReadHome(".config/app/config.toml"))
	side, res := discarded(t, b, "dot_bashrc")
	require.Equal(t, "local", res.Discarded)
	require.Contains(t, side, "alias ll='ls -l'   ")
	mustSync(t, a)
	require.Equal(t, "theme = \"light\"\nfont = 16\n", a.ReadHome(".config/app/config.toml"))
}

// --continue on a parked conflict replays it (the markers appear in the
// source files, never in HOME) and stops; again with the markers left it
// is refused; once the files are fixed it publishes.
func TestContinue(t *testing.T) {
	t.Parallel()
	remote, a, b := parkedTwoFiles(t)
	home := homeFiles(t, b)
	r := syncCode(t, b, 5, "--continue")
	require.Contains(t, r.Stdout, "chezmoi-sync --continue")
	require.True(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
	require.Equal(t, home, homeFiles(t, b))
	syncCode(t, b, 5, "--continue") // markers left: refused
	require.Equal(t, home, homeFiles(t, b))

	src := b.SourceDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_bashrc"), []byte("# bashrc\nexport EDITOR=vi\nalias ll='ls -lah'\n"), 0o644))
	// The end marker of .gitconfig deleted: jj no longer reads it as a
	// conflict, the file still holds marker lines: refused, not published.
	text := b.ReadSource("dot_gitconfig")
	end := strings.Index(text, ">>>>>>>")
	require.Positive(t, end, text)
	broken := text[:end] + text[end+strings.Index(text[end:], "\n")+1:]
	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_gitconfig"), []byte(broken), 0o644))
	before := testharness.RemoteFile(t, remote, "main", "dot_gitconfig")
	r = syncCode(t, b, 5, "--continue")
	require.Contains(t, r.Stderr, "conflict markers remain in dot_gitconfig")
	require.Equal(t, before, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"))

	require.NoError(t, os.WriteFile(filepath.Join(src, "dot_gitconfig"), []byte("[core]\n\tpager = both\n"), 0o644))
	mustSync(t, b, "--continue")
	require.Equal(t, syncstate.Success, record(t, b).Status)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lah")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_config/app/config.toml"), "font = 14")
	require.Contains(t, b.ReadHome(".gitconfig"), "pager = both")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	syncCode(t, b, 2, "--continue") // nothing left to continue
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "ls -lah")
}

// --abort: this host's side on a named kept/ bookmark, the source and HOME
// back on main@origin, sync/beta gone (also on the remote); a home edit
// made while parked is kept, and the next sync publishes it.
func TestAbort(t *testing.T) {
	t.Parallel()
	remote, a, b := parkedTwoFiles(t)
	b.WriteHome(".profile", "export A=edited-while-parked\n")
	r := mustSync(t, b, "--abort")
	rec := record(t, b)
	require.NotNil(t, rec.Kept, r.String())
	require.True(t, strings.HasPrefix(rec.Kept.Bookmark, "kept/beta/"), rec.Kept.Bookmark)
	require.Contains(t, r.Stdout, rec.Kept.Bookmark)
	require.Contains(t, jjOut(b, "file", "show", "-r", rec.Kept.Bookmark, "dot_bashrc"), "ls -lh")
	require.Contains(t, jjOut(b, "file", "show", "-r", rec.Kept.Bookmark, "dot_gitconfig"), "pager = beta")
	require.Contains(t, b.ReadHome(".bashrc"), "ls -la")
	require.Contains(t, b.ReadHome(".gitconfig"), "pager = alpha")
	require.Contains(t, b.ReadHome(".profile"), "edited-while-parked")
	hist := b.Exec("", "chezmoi-show-conflicts", "--history")
	require.Contains(t, hist.Stdout, "--abort: this host's side of the conflict is in")
	require.Contains(t, hist.Stdout, rec.Kept.Bookmark)
	require.Equal(t, "font = 12", strings.Split(b.ReadHome(".config/app/config.toml"), "\n")[1], "the parked edit is given up in HOME")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	require.Empty(t, jjOut(b, "bookmark", "list", "exact:sync/beta"))
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lh")

	mustSync(t, b)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_profile"), "edited-while-parked")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".profile"), "edited-while-parked")
	syncCode(t, b, 2, "--abort") // nothing left to abort
}

// --abort of a half-resolved conflict (after --continue put the markers
// in the files): this host's side of the still-conflicted files is kept.
func TestAbortHalfResolved(t *testing.T) {
	t.Parallel()
	remote, _, b := parkedTwoFiles(t)
	syncCode(t, b, 5, "--keep-local", "~/.gitconfig")
	mustSync(t, b, "--abort")
	rec := record(t, b)
	require.Contains(t, jjOut(b, "file", "show", "-r", rec.Kept.Bookmark, "dot_bashrc"), "ls -lh")
	require.Contains(t, jjOut(b, "file", "show", "-r", rec.Kept.Bookmark, "dot_gitconfig"), "pager = beta")
	require.Empty(t, jjOut(b, "log", "--no-graph", "-r", "conflicts()", "-T", "commit_id"))
	require.Contains(t, b.ReadHome(".bashrc"), "ls -la")
	require.NotContains(t, testharness.RemoteRefs(t, remote), "sync/beta")
	require.False(t, hasConflictMarkers(b.ReadSource("dot_bashrc")))
}

// (attack 3, F6, F7) A hand resolution that left one marker line: git
// style's "=======" (ui.conflict-marker-style = "git"), or jj's default
// style's closing ">>>>>>>". --continue and its dry run refuse (exit 5),
// nothing is published, the advice names the markers of the style the
// file has, and --abort still gives the attempt up. A "=======" line both
// sides hold (the file's own) does not count.
func TestLeftoverMarkerLines(t *testing.T) {
	for _, c := range []struct {
		style, advice, wrong string
	}{
		{"git", "=======", "%%%%%%%"},
		{"diff", "%%%%%%%", "|||||||"},
	} {
		t.Run(c.style, func(t *testing.T) {
			t.Parallel()
			testharness.RequireSync(t)
			remote := testharness.NewRemote(t, dotfiles(map[string]string{"dot_notes": "# notes\n=======\nline2\n"}))
			a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
			cfg, err := os.OpenFile(b.Getenv("JJ_CONFIG"), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = cfg.WriteString("conflict-marker-style = \"" + c.style + "\"\n") // the file ends in its [ui] table
			require.NoError(t, err)
			require.NoError(t, cfg.Close())
			mustSync(t, b)
			editLine(t, a, ".notes", 2, "line2-alpha")
			mustSync(t, a)
			editLine(t, b, ".notes", 2, "line2-beta")
			syncCode(t, b, 5)
			syncCode(t, b, 5, "--continue") // the markers are in the source file
			src := filepath.Join(b.SourceDir(), "dot_notes")
			var kept []string
			inBase := false
			for _, l := range strings.Split(b.ReadSource("dot_notes"), "\n") {
				switch {
				case c.style == "git" && strings.HasPrefix(l, "|||||||"):
					inBase = true
					continue
				case inBase && strings.HasPrefix(l, "======="): // the separator, forgotten
					inBase = false
				case inBase, c.style == "git" && strings.HasPrefix(l, "<<<<<<<"), strings.HasPrefix(l, ">>>>>>>"):
					continue
				}
				kept = append(kept, l)
			}
			t.Logf("hand-resolved:\n%s", strings.Join(kept, "\n"))
			require.NoError(t, os.WriteFile(src, []byte(strings.Join(kept, "\n")), 0o644))
			before := testharness.RemoteFile(t, remote, "main", "dot_notes")
			for _, args := range [][]string{{"--continue", "--dry-run"}, {"--continue"}, {}} {
				r := syncCode(t, b, 5, args...)
				require.Contains(t, r.Stderr, "conflict markers remain in dot_notes", "%v", args)
				require.Contains(t, r.Stdout+r.Stderr, "next: fix the files")
				require.Contains(t, r.Stdout+r.Stderr, c.advice, "the advice names the wrong markers")
				require.NotContains(t, r.Stdout+r.Stderr, c.wrong, "the advice names the wrong markers")
			}
			require.Equal(t, before, testharness.RemoteFile(t, remote, "main", "dot_notes"))
			mustSync(t, b, "--abort")
			require.Equal(t, before, testharness.RemoteFile(t, remote, "main", "dot_notes"))
			require.Equal(t, "# notes\n=======\nline2-alpha\n", b.ReadHome(".notes"))
			// The file's own ======= line is not a marker: a plain edit syncs.
			b.WriteHome(".notes", "# notes\n=======\nline2-both\n")
			mustSync(t, b)
			require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_notes"), "line2-both")
		})
	}
}

// (attack 3, F1) A mode change on one host (chmod +x: chezmoi renames
// dot_bashrc to executable_dot_bashrc) and an edit on another. jj sees a
// modify/delete conflict; chezmoi-show-conflicts says so too (git
// merge-tree without rename detection); --keep-local and --take-remote take
// the whole file, its source name included (never both source files: chezmoi
// refuses to read that); after the hand recipe's rebase (both files in the
// source) every escape still works.
func TestModeChangeAgainstEdit(t *testing.T) {
	for _, c := range []struct {
		name      string
		hand      bool // the hand recipe's rebase first
		args      []string
		wantName  string // the source of .bashrc on main afterwards
		wantText  string
		wantExec  bool
		published bool
	}{
		{"keep-local", false, []string{"--keep-local", "~/.bashrc"}, "dot_bashrc", "edited-on-beta", false, true},
		{"take-remote", false, []string{"--take-remote", "~/.bashrc", "--keep-local"}, "executable_dot_bashrc", "# bashrc", true, false},
		{"hand-then-keep-local", true, []string{"--keep-local"}, "dot_bashrc", "edited-on-beta", false, true},
		{"hand-then-abort", true, []string{"--abort"}, "executable_dot_bashrc", "# bashrc", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			remote, a, b := hostsWith(t, nil)
			require.NoError(t, os.Chmod(filepath.Join(a.Home, ".bashrc"), 0o755))
			mustSync(t, a)
			require.Contains(t, testharness.RemoteRefs(t, remote), "main")
			_, ok := gitShow(a, remote, "main", "executable_dot_bashrc")
			require.True(t, ok, "the mode change was not published as a rename")
			b.WriteHome(".bashrc", b.ReadHome(".bashrc")+"edited-on-beta\n")
			syncCode(t, b, 5)
			show := b.Exec("", "chezmoi-show-conflicts")
			require.Equal(t, 1, show.Code, "chezmoi-show-conflicts and the sync disagree:\n%s", show)
			require.Contains(t, show.Stdout, "dot_bashrc")
			require.Contains(t, show.Stdout, "a side is taken whole") // (F12) not "0 lines"
			require.NotContains(t, show.Stdout, "0 lines")
			dry := b.Exec("", "chezmoi-sync", append([]string{"--dry-run"}, c.args...)...)
			if c.args[0] != "--abort" {
				require.Contains(t, dry.Stdout+dry.Stderr, "resolve ~/.bashrc: ", dry.String())
			}
			if c.hand {
				b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
			}
			mustSync(t, b, c.args...)
			files := b.Run(remote, "git", "ls-tree", "--name-only", "main")
			require.Contains(t, files, c.wantName)
			require.Equal(t, 1, strings.Count(files, "dot_bashrc"), "two sources of ~/.bashrc published:\n%s", files)
			src, _ := gitShow(b, remote, "main", c.wantName)
			require.Equal(t, c.published, strings.Contains(src, "edited-on-beta"), src)
			require.Contains(t, b.ReadHome(".bashrc"), c.wantText)
			st, err := os.Stat(filepath.Join(b.Home, ".bashrc"))
			require.NoError(t, err)
			require.Equal(t, c.wantExec, st.Mode()&0o100 != 0, "mode of ~/.bashrc: %v", st.Mode())
			mustSync(t, b) // and the host syncs on
			if !c.published {
				h := b.Exec("", "chezmoi-show-conflicts", "--history")
				require.Contains(t, h.Stdout, "kept/beta/", "the side not taken is not named:\n%s", h)
			}
		})
	}
}

// (attack 3, F10) The --history commands name the path as a jj fileset
// literal: a file named "x (1).txt" (jj's fileset syntax would fail to
// parse it) is shown and brought back by the printed commands.
func TestHistoryCommandsQuotePaths(t *testing.T) {
	t.Parallel()
	remote, a, b := hostsWith(t, map[string]string{"x (1).txt": "v1\n"})
	parkOn(t, a, b, "x (1).txt", "v-alpha\n", "v-beta\n")
	mustSync(t, b, "--take-remote")
	doc := historyOf(t, b)
	require.Len(t, doc.History, 1)
	shown := b.Exec("", "sh", "-c", doc.History[0].Show)
	require.Equal(t, 0, shown.Code, shown.String())
	require.Equal(t, "v-beta\n", shown.Stdout)
	back := b.Exec("", "sh", "-c", doc.History[0].Restore)
	require.Equal(t, 0, back.Code, back.String())
	require.Equal(t, "v-beta\n", testharness.RemoteFile(t, remote, "main", "x (1).txt"))
}

// (attack 3, F3) The dry run of a partial resolution predicts the real
// run: exit 5, the file left conflicted named, nothing pushed; with a side
// for every file it predicts success.
func TestDryRunOfPartialResolution(t *testing.T) {
	t.Parallel()
	_, _, b := parkedTwoFiles(t)
	dry := syncCode(t, b, 5, "--dry-run", "--keep-local", "~/.bashrc")
	require.Contains(t, dry.String(), "still conflicted: ~/.gitconfig")
	require.NotContains(t, dry.String(), "would push")
	dry = syncCode(t, b, 0, "--dry-run", "--keep-local", "~/.bashrc", "--take-remote")
	require.Contains(t, dry.String(), "would push")
	// (attack 3, F11) the dry run's JSON record has the schema version.
	js := syncCode(t, b, 5, "--dry-run", "--json", "--keep-local", "~/.bashrc")
	var rec syncstate.Record
	require.NoError(t, json.Unmarshal([]byte(js.Stdout), &rec), js.String())
	require.Equal(t, 1, rec.Version)
	r := syncCode(t, b, 5, "--keep-local", "~/.bashrc")
	require.Contains(t, r.String(), "still conflicted: ~/.gitconfig")
	// (attack 3, F12) the record names the commit holding what is left.
	conf := record(t, b).Conflicts
	require.Len(t, conf, 1)
	require.NotEmpty(t, conf[0].CommitID)
	require.NotEmpty(t, conf[0].ChangeID)
}

// (attack 3, F13) With autoCommit off, edits stay in the working copy and
// are not pushed: a --keep-local of a conflict with such an edit resolves
// it there, and publishes nothing (the dry run says the same); once
// autoCommit is on again, the next sync publishes it.
func TestResolveWithAutoCommitOff(t *testing.T) {
	t.Parallel()
	remote, a, b := hostsWith(t, nil)
	editLine(t, a, ".bashrc", 1, "export FROM=alpha")
	mustSync(t, a)
	b.Setenv("CHEZMOI_SYNC_AUTO_COMMIT", "false")
	editLine(t, b, ".bashrc", 1, "export FROM=beta")
	syncCode(t, b, 5)
	dry := mustSync(t, b, "--keep-local", "--dry-run")
	require.NotContains(t, dry.String(), "would push")
	mustSync(t, b, "--keep-local")
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "FROM=beta", "autoCommit is off: the resolution was published")
	require.Contains(t, b.ReadHome(".bashrc"), "FROM=beta")
	mustSync(t, b)
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "FROM=beta")
	b.Setenv("CHEZMOI_SYNC_AUTO_COMMIT", "true")
	mustSync(t, b)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "FROM=beta")
}

// (attack 3, F8) The hand recipe's rebase, then the remote moves on (the
// same line again): --keep-local replays onto the new head and publishes
// this host's side; the dry run says it would replay.
func TestKeepLocalAfterRemoteMovedPastHandReplay(t *testing.T) {
	t.Parallel()
	remote, a, b := parkedTwoFiles(t)
	b.Run(b.SourceDir(), "jj", "rebase", "-b", "@", "-d", "main@origin")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -la --color'")
	mustSync(t, a)
	dry := mustSync(t, b, "--keep-local", "--dry-run")
	require.Contains(t, dry.String(), "would replay")
	mustSync(t, b, "--keep-local")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lh")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = beta")
	require.Contains(t, b.ReadHome(".bashrc"), "ls -lh")
	mustSync(t, a)
	require.Contains(t, a.ReadHome(".bashrc"), "ls -lh")
}

// (attack 3, F14) A user's jj config that makes every remote bookmark
// immutable (sync/<host>@origin holds the parked commits) does not stop the
// sync from rewriting its own commits: a plain sync parks again, and
// --keep-local resolves.
func TestImmutableRemoteBookmarksConfig(t *testing.T) {
	t.Parallel()
	remote, _, b := parkedTwoFiles(t)
	cfg, err := os.OpenFile(b.Getenv("JJ_CONFIG"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = cfg.WriteString("\n[revset-aliases]\n\"immutable_heads()\" = \"builtin_immutable_heads() | remote_bookmarks()\"\n")
	require.NoError(t, err)
	require.NoError(t, cfg.Close())
	b.WriteHome(".profile", "export A=while-parked\n")
	syncCode(t, b, 5)
	mustSync(t, b, "--keep-local")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "ls -lh")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_profile"), "while-parked")
}

// (attack 3, F15) Bringing back the side a resolution did not take (the
// command --history prints) brings back that side's conflicting hunks,
// never a revert of the other side's edits elsewhere in the file.
func TestBringBackTheSideNotTaken(t *testing.T) {
	for _, c := range []struct {
		flag, want string
	}{
		{"--take-remote", "l1\nl2-beta\nl3\nl4\nl5-beta\nl6\nl7\nl8-alpha\nl9\n"},
		{"--keep-local", "l1\nl2-alpha\nl3\nl4\nl5-beta\nl6\nl7\nl8-alpha\nl9\n"},
	} {
		t.Run(c.flag, func(t *testing.T) {
			t.Parallel()
			remote, a, b := hostsWith(t, map[string]string{"dot_notes": "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n"})
			parkOn(t, a, b, ".notes", "l1\nl2-alpha\nl3\nl4\nl5\nl6\nl7\nl8-alpha\nl9\n", "l1\nl2-beta\nl3\nl4\nl5-beta\nl6\nl7\nl8\nl9\n")
			mustSync(t, b, c.flag)
			doc := historyOf(t, b)
			require.Len(t, doc.History, 1)
			back := b.Exec("", "sh", "-c", doc.History[0].Restore)
			require.Equal(t, 0, back.Code, back.String())
			require.Equal(t, c.want, testharness.RemoteFile(t, remote, "main", "dot_notes"))
		})
	}
}

// hostsWith: a remote with the default dotfiles plus extra, hosts alpha and
// beta, beta synced once.
func hostsWith(t *testing.T, extra map[string]string) (remote string, a, b *testharness.Host) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, dotfiles(extra))
	a, b = newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)
	return remote, a, b
}

// parkOn: alpha publishes its version of a home file, beta's conflicting
// one parks (exit 5).
func parkOn(t *testing.T, a, b *testharness.Host, rel, alpha, beta string) {
	t.Helper()
	a.WriteHome(rel, alpha)
	mustSync(t, a)
	b.WriteHome(rel, beta)
	syncCode(t, b, 5)
}

// historyOf is h's chezmoi-show-conflicts --history --json document.
func historyOf(t *testing.T, h *testharness.Host) showconflicts.HistoryDoc {
	t.Helper()
	hist := h.Exec("", "chezmoi-show-conflicts", "--history", "--json")
	require.Equal(t, 0, hist.Code, hist.String())
	var doc showconflicts.HistoryDoc
	require.NoError(t, json.Unmarshal([]byte(hist.Stdout), &doc), hist.String())
	return doc
}

// (attack 3, F12) --abort after the remote moved on: HOME gets the remote
// branch as the abort's own fetch finds it, not the head fetched before.
func TestAbortTakesWhatCameInSince(t *testing.T) {
	t.Parallel()
	_, a, b := parkedTwoFiles(t)
	a.WriteHome(".profile", "export A=after-the-park\n")
	mustSync(t, a)
	dry := mustSync(t, b, "--abort", "--dry-run")
	require.NotContains(t, dry.String(), "would park")
	r := mustSync(t, b, "--abort")
	require.Equal(t, "export A=after-the-park\n", b.ReadHome(".profile"), r.String())
	require.Contains(t, b.ReadHome(".bashrc"), "ls -la")
	st := b.Exec("", "chezmoi-status")
	require.Contains(t, st.Stdout, "Incoming: 0 commits", st.String())
}
