package chezmoisync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// 7. Bad input: a clear one-line error and a documented exit code, never a
// panic, and never a lost edit.
func TestBadInput(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())

	oneLine := func(t *testing.T, r testharness.Result) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		require.Len(t, lines, 1, "want a one-line error:\n%s", r)
		require.True(t, strings.HasPrefix(lines[0], "chezmoi-sync: "), r.String())
		require.NotContains(t, r.Stderr, "panic")
	}

	t.Run("no source directory and no repo URL", func(t *testing.T) {
		t.Parallel()
		h := testharness.NewHost(t, "nosrc").WithBinaries()
		r := sync(h)
		require.Equal(t, 2, r.Code, r.String())
		oneLine(t, r)
		require.Contains(t, r.Stderr, "does not exist")
		require.Contains(t, r.Stderr, "--repo-url")
		require.NoDirExists(t, h.SourceDir())
		// Recorded, so chezmoi-status shows an unattended timer's broken
		// setup (attack 1 LOW 10 decided this way).
		require.Equal(t, syncstate.Failed, record(t, h).Status)
	})

	t.Run("source directory is not a repository", func(t *testing.T) {
		t.Parallel()
		h := testharness.NewHost(t, "norepo").WithBinaries()
		require.NoError(t, os.MkdirAll(h.SourceDir(), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), "dot_x"), []byte("x\n"), 0o644))
		r := sync(h)
		require.Equal(t, 2, r.Code, r.String())
		oneLine(t, r)
		require.Contains(t, r.Stderr, "not a git repository")
		require.NoDirExists(t, filepath.Join(h.SourceDir(), ".jj"))
	})

	t.Run("unknown flag", func(t *testing.T) {
		t.Parallel()
		h := testharness.NewHost(t, "flag").WithBinaries()
		r := sync(h, "--frobnicate")
		require.Equal(t, 2, r.Code, r.String())
		oneLine(t, r)
		require.Contains(t, r.Stderr, "frobnicate")
	})

	t.Run("bad option values", func(t *testing.T) {
		t.Parallel()
		h := testharness.NewHost(t, "badopt").WithBinaries()
		for _, args := range [][]string{{"--branch", "ma in"}, {"--remote", ""}, {"--push-retries", "-1"}} {
			r := sync(h, args...)
			require.Equal(t, 2, r.Code, "%v: %s", args, r)
			oneLine(t, r)
		}
	})

	t.Run("corrupt state file", func(t *testing.T) {
		t.Parallel()
		h := newHost(t, remote, "corrupt")
		require.NoError(t, os.MkdirAll(h.StateDir(), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(h.StateDir(), syncstate.RecordFile), []byte("{not json"), 0o600))
		editLine(t, h, ".bashrc", 0, "# corrupt state")
		r := sync(h)
		// A broken record must not stop dotfiles from syncing: warn, naming
		// the file, and replace it.
		require.Equal(t, 0, r.Code, r.String())
		require.Contains(t, r.Stderr, syncstate.RecordFile)
		require.Equal(t, syncstate.Success, record(t, h).Status)
		require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "# corrupt state")
	})

	t.Run("remote without the branch", func(t *testing.T) {
		t.Parallel()
		h := newHost(t, remote, "nobranch")
		editLine(t, h, ".gitconfig", 1, "\tpager = nobranch")
		r := sync(h, "--branch", "trunk")
		require.Equal(t, 2, r.Code, r.String())
		oneLine(t, r)
		require.Contains(t, r.Stderr, "has no branch trunk")
		// Found before the capture: nothing is captured or committed, the
		// edit stays at home. The run colocated jj (a change): recorded.
		require.NotContains(t, h.ReadSource("dot_gitconfig"), "pager = nobranch")
		require.Contains(t, h.ReadHome(".gitconfig"), "pager = nobranch")
		require.Equal(t, syncstate.Failed, record(t, h).Status)
		mustSync(t, h) // with the right branch it goes through
		require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = nobranch")
	})

	t.Run("unknown remote", func(t *testing.T) {
		t.Parallel()
		h := newHost(t, remote, "noremote")
		r := sync(h, "--remote", "upstream")
		require.Equal(t, 2, r.Code, r.String())
		oneLine(t, r)
		require.Contains(t, r.Stderr, "no git remote named upstream")
	})
}

// Edits to files that come from templates cannot be captured by re-add:
// they are named, and the later apply never overwrites them.
func TestTemplateEditsAreReportedAndKept(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	files := testharness.DefaultDotfiles()
	files["dot_profile.tmpl"] = "# profile for {{ .chezmoi.username }}\nexport A=1\n"
	remote := testharness.NewRemote(t, files)
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)

	b.WriteHome(".profile", b.ReadHome(".profile")+"export LOCAL=1\n")
	editLine(t, a, ".bashrc", 0, "# from alpha")
	mustSync(t, a)
	r := mustSync(t, b)
	require.Contains(t, r.Stdout, "it comes from a template")
	rec := record(t, b)
	require.Equal(t, syncstate.EditsWaiting, rec.Status, "an edit waiting for the user is not plain success")
	require.Len(t, rec.Templates, 1)
	require.True(t, strings.HasSuffix(rec.Templates[0], ".profile"), rec.Templates)
	require.Equal(t, []syncstate.Waiting{{Path: rec.Templates[0], Kind: "template", Next: rec.Waiting[0].Next}}, rec.Waiting)
	require.NotContains(t, rec.Captured, rec.Templates[0], "a template edit counted as captured")
	require.Contains(t, b.ReadHome(".profile"), "export LOCAL=1", "a template target edited at home was overwritten")
	require.Contains(t, b.ReadHome(".bashrc"), "# from alpha")
	// Every later run reports it again (no stat index lets a run skip it).
	for i := 0; i < 2; i++ {
		r = mustSync(t, b)
		require.Equal(t, syncstate.EditsWaiting, record(t, b).Status, r.String())
		require.Contains(t, r.Stdout, "waiting: "+rec.Templates[0])
	}
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_profile.tmpl"), "LOCAL")
}
