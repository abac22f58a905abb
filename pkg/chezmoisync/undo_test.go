package chezmoisync_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

const origBashrc = "# bashrc\nexport EDITOR=vi\nalias ll='ls -l'\n"

// twoHosts: alpha and beta synced once each.
func twoHosts(t *testing.T) (remote string, a, b *testharness.Host) {
	t.Helper()
	testharness.RequireSync(t)
	remote = testharness.NewRemote(t, dotfiles(map[string]string{"dot_profile": "export A=1\n"}))
	a, b = newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, a)
	mustSync(t, b)
	return remote, a, b
}

func commitCount(t *testing.T, h *testharness.Host, remote string) int {
	t.Helper()
	return len(strings.Split(h.Run(remote, "git", "rev-list", "main"), "\n"))
}

// A sync brought in alpha's edit that broke beta's shell: --undo puts
// beta's HOME and source back, keeps a home edit made since, and holds the
// revert (publishing it would take alpha's commit back on every host). The
// undo of the undo brings the edit back and leaves nothing to publish; the
// edit made since is still there, and the next sync publishes it.
func TestUndoIncomingEdit(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	editLine(t, a, ".bashrc", 2, "alias ll='broken'")
	mustSync(t, a)
	mustSync(t, b)
	require.Contains(t, b.ReadHome(".bashrc"), "broken")
	b.WriteHome(".profile", "export A=edited-after-the-sync\n") // not captured yet
	remoteMain := remoteRef(t, b, remote, "refs/heads/main")

	r := mustSync(t, b, "--undo")
	require.Equal(t, origBashrc, b.ReadHome(".bashrc"), r.String())
	require.Equal(t, origBashrc, b.ReadSource("dot_bashrc"))
	require.Equal(t, "export A=edited-after-the-sync\n", b.ReadHome(".profile"), "an undo overwrote a home edit made after the sync")
	rec := record(t, b)
	require.Equal(t, "undo", rec.Action)
	require.NotNil(t, rec.Undo)
	require.True(t, rec.Undo.Held)
	require.Len(t, rec.Undo.Remote, 1)
	require.Contains(t, r.Stdout, "held")
	require.Equal(t, remoteMain, remoteRef(t, b, remote, "refs/heads/main"), "an undo changed the remote")
	require.NotEmpty(t, rec.Backups, "the files the undo overwrote are copied first")

	r = mustSync(t, b, "--undo")
	require.Contains(t, b.ReadHome(".bashrc"), "broken", r.String())
	rec = record(t, b)
	require.False(t, rec.Held)
	require.NotEmpty(t, rec.Undo.Dropped)
	require.Equal(t, "export A=edited-after-the-sync\n", b.ReadHome(".profile"))
	require.Empty(t, jjOut(b, "log", "--no-graph", "-r", "main@origin..@-", "-T", "commit_id"), "nothing left to publish")
	mustSync(t, b)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_profile"), "edited-after-the-sync")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "broken")
}

// Undo of a sync that captured and published an edit: without --publish
// the remote keeps it and the revert is held; --publish later pushes the
// revert as a new commit (a fast-forward, never a force-push). Undoing
// right after an undo brings it back with nothing left to push.
func TestUndoPublishedCapture(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	b.WriteHome(".gitconfig", "[core]\n\tpager = regretted\n")
	mustSync(t, b)
	published := remoteRef(t, b, remote, "refs/heads/main")
	n := commitCount(t, b, remote)

	b.WriteHome(".profile", "export A=since\n")
	r := mustSync(t, b, "--undo")
	require.Equal(t, "[core]\n\tpager = less\n", b.ReadHome(".gitconfig"), r.String())
	require.Contains(t, r.Stdout, "held")
	require.Equal(t, published, remoteRef(t, b, remote, "refs/heads/main"))
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "regretted")
	require.Equal(t, "export A=since\n", b.ReadHome(".profile"))

	// The next sync captures the edit made since but pushes nothing, and
	// the regretted edit does not come back from the remote.
	r = mustSync(t, b)
	require.Equal(t, "[core]\n\tpager = less\n", b.ReadHome(".gitconfig"), r.String())
	require.True(t, record(t, b).Held)
	require.Contains(t, r.Stdout, "held by an unpublished undo")
	require.Equal(t, published, remoteRef(t, b, remote, "refs/heads/main"))

	mustSync(t, b, "--publish")
	require.Equal(t, "[core]\n\tpager = less\n", testharness.RemoteFile(t, remote, "main", "dot_gitconfig"))
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_profile"), "since")
	require.Equal(t, n+2, commitCount(t, b, remote), "the revert and the capture are new commits")
	b.Run(remote, "git", "merge-base", "--is-ancestor", published, "main") // no force-push
	require.False(t, record(t, b).Held)
	require.Empty(t, jjOut(b, "bookmark", "list", "exact:undo/beta"))
	mustSync(t, a)
	require.Equal(t, "[core]\n\tpager = less\n", a.ReadHome(".gitconfig"))
}

// --undo --publish in one run.
func TestUndoAndPublish(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	b.WriteHome(".gitconfig", "[core]\n\tpager = regretted\n")
	mustSync(t, b)
	r := mustSync(t, b, "--undo", "--publish")
	require.Equal(t, "[core]\n\tpager = less\n", testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), r.String())
	rec := record(t, b)
	require.True(t, rec.Pushed)
	require.True(t, rec.Undo.Published)
	require.False(t, rec.Held)
	mustSync(t, a)
	require.Equal(t, "[core]\n\tpager = less\n", a.ReadHome(".gitconfig"))
}

// --undo 2 takes back two syncs: one that brought an edit in and one that
// captured one; the list shows them, newest first.
func TestUndoTwoSyncs(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	editLine(t, a, ".bashrc", 2, "alias ll='from alpha'")
	mustSync(t, a)
	mustSync(t, b) // brought in
	b.WriteHome(".gitconfig", "[core]\n\tpager = beta\n")
	mustSync(t, b) // captured and published
	mustSync(t, b) // a no-op: not listed

	list := mustSync(t, b, "--undo", "--list", "--json")
	var doc chezmoisync.UndoList
	require.NoError(t, json.Unmarshal([]byte(list.Stdout), &doc))
	require.GreaterOrEqual(t, len(doc.Undoable), 2, list.Stdout)
	require.Len(t, doc.Undoable[0].Published, 1)
	require.Contains(t, doc.Undoable[0].Captured[0], ".gitconfig")
	require.Equal(t, 1, doc.Undoable[1].Incoming)
	require.Contains(t, doc.Undoable[1].Applied[0], ".bashrc")
	human := mustSync(t, b, "--undo", "--list")
	require.Contains(t, human.Stdout, "pushed 1 commit")
	require.Contains(t, human.Stdout, "in: 1 commit, .bashrc")

	b.WriteHome(".profile", "export A=since\n")
	mustSync(t, b, "--undo", "2")
	require.Equal(t, "export A=since\n", b.ReadHome(".profile"))
	require.Equal(t, origBashrc, b.ReadHome(".bashrc"))
	require.Equal(t, "[core]\n\tpager = less\n", b.ReadHome(".gitconfig"))
	require.Len(t, record(t, b).Undo.Undone, 2)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_gitconfig"), "pager = beta")
	syncCode(t, b, 2, "--undo", "99")
}

// --undo-to COMMIT (what rebuild-rollback --with-dotfiles drives): the
// files of that commit, a home edit made since kept.
func TestUndoToCommit(t *testing.T) {
	t.Parallel()
	_, _, b := twoHosts(t)
	first := jjOut(b, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	b.WriteHome(".gitconfig", "[core]\n\tpager = one\n")
	mustSync(t, b)
	editLine(t, b, ".bashrc", 1, "export EDITOR=two")
	mustSync(t, b)
	b.WriteHome(".profile", "export A=since\n")
	r := mustSync(t, b, "--undo-to", first)
	require.Equal(t, "[core]\n\tpager = less\n", b.ReadHome(".gitconfig"), r.String())
	require.Equal(t, origBashrc, b.ReadHome(".bashrc"))
	require.Equal(t, "export A=since\n", b.ReadHome(".profile"))
	require.Equal(t, first, record(t, b).Undo.To)
	syncCode(t, b, 2, "--undo-to", "no-such-commit")
}

// A file that came in with the sync taken back is removed from HOME
// (unless edited since), and comes back with the undo of the undo.
func TestUndoRemovesFilesThatCameIn(t *testing.T) {
	t.Parallel()
	_, a, b := twoHosts(t)
	a.WriteHome(".newrc", "new\n")
	a.Run("", "chezmoi", "add", a.Home+"/.newrc")
	mustSync(t, a)
	mustSync(t, b)
	require.Equal(t, "new\n", b.ReadHome(".newrc"))
	mustSync(t, b, "--undo")
	require.Empty(t, b.ReadHome(".newrc"))
	require.Contains(t, record(t, b).Removed[0], ".newrc")
	mustSync(t, b, "--undo")
	require.Equal(t, "new\n", b.ReadHome(".newrc"))
}

// Refusals: nothing to undo (exit 2); a parked conflict waiting (exit 5);
// the repository moved outside chezmoi-sync (exit 11). Nothing changes.
func TestUndoRefusals(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	fresh := newHost(t, remote, "gamma")
	syncCode(t, fresh, 2, "--undo")

	editLine(t, a, ".bashrc", 2, "alias ll='ls -la'")
	mustSync(t, a)
	editLine(t, b, ".bashrc", 2, "alias ll='ls -lh'")
	syncCode(t, b, 5)
	before := everything(t, b, remote)
	syncCode(t, b, 5, "--undo")
	require.Equal(t, before, everything(t, b, remote))
	mustSync(t, b, "--keep-local")

	b.Run(b.SourceDir(), "jj", "new", "-m", "by hand")
	b.Run(b.SourceDir(), "jj", "new")
	before = everything(t, b, remote)
	r := syncCode(t, b, 11, "--undo")
	require.Contains(t, r.Stderr, "changed outside chezmoi-sync")
	require.Equal(t, before, everything(t, b, remote))
	require.Equal(t, syncstate.Refused, record(t, b).Status)
}

// (attack 3, F12) --undo-to the root commit (by its id) would remove every
// managed file: bad input, nothing changed.
func TestUndoToRootIsRefused(t *testing.T) {
	t.Parallel()
	remote, _, b := twoHosts(t)
	mustSync(t, b)
	before := everything(t, b, remote)
	r := syncCode(t, b, 2, "--undo-to", strings.Repeat("0", 40))
	require.Contains(t, r.Stderr, "root commit")
	require.Equal(t, before, everything(t, b, remote))
	// A revset is taken literally (never evaluated): refused, and the
	// message says what is accepted.
	r = syncCode(t, b, 2, "--undo-to", "main-")
	require.Contains(t, r.Stderr, "revsets such as main- are not taken")
	require.Equal(t, before, everything(t, b, remote))
	// (attack 4, F3) An empty value (a script's empty variable) is bad
	// input, not "no flag": a plain sync would capture and publish the
	// home edit below.
	b.WriteHome(".profile", "export GITHUB_TOKEN=not-for-the-remote\n")
	before = everything(t, b, remote)
	for _, args := range [][]string{{"--undo-to", ""}, {"--undo-to="}, {"--undo-to", " ", "--dry-run"}} {
		r = syncCode(t, b, 2, args...)
		require.Contains(t, r.Stderr, "an empty value names no commit", "%v", args)
		require.Equal(t, before, everything(t, b, remote), "%v", args)
	}
	require.NotContains(t, testharness.RemoteFile(t, remote, "main", "dot_profile"), "GITHUB_TOKEN")
}

// (attack 3, F9, F12) A held undo whose revert conflicts with a newer
// remote commit, resolved with --keep-local (no --publish): the fold keeps
// the undo's subject and its hold in the resolution's message, so the hold
// survives without the undo/<host> bookmark and nothing is published.
func TestHeldUndoSurvivesAResolution(t *testing.T) {
	t.Parallel()
	remote, a, b := twoHosts(t)
	editLine(t, a, ".bashrc", 2, "alias ll='from alpha'")
	mustSync(t, a)
	mustSync(t, b)
	mustSync(t, b, "--undo") // held: alpha's edit is on the remote
	editLine(t, a, ".bashrc", 2, "alias ll='from alpha, again'")
	mustSync(t, a)
	syncCode(t, b, 5) // the revert conflicts with alpha's new edit
	before := testharness.RemoteFile(t, remote, "main", "dot_bashrc")
	mustSync(t, b, "--keep-local")
	require.Equal(t, before, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "a held undo was published by --keep-local")
	msg := jjOut(b, "log", "--no-graph", "-r", "@-", "-T", "description")
	require.Contains(t, msg, "undo the sync of")
	if strings.Contains(jjOut(b, "bookmark", "list"), "undo/beta") {
		b.Run(b.SourceDir(), "jj", "bookmark", "delete", "undo/beta")
	}
	mustSync(t, b)
	require.Equal(t, before, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "the hold was lost with the bookmark")
	require.True(t, record(t, b).Held)
	mustSync(t, b, "--publish")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "alias ll='ls -l'")
}
