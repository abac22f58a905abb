package chezmoistatus_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/conflictfixture"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { testharness.Main(m) }

func status(h *testharness.Host, args ...string) testharness.Result {
	return h.Exec("", "chezmoi-status", args...)
}

// report is the part of the --json document the tests look into.
type report struct {
	Synced        bool `json:"synced"`
	JJInitialized bool `json:"jj_initialized"`
	SourceExists  bool `json:"source_dir_exists"`
	SyncRunning   bool `json:"sync_running"`
	SyncHolder    *struct {
		PID     int    `json:"pid"`
		Command string `json:"command"`
	} `json:"sync_holder"`
	LastSync    *struct{ Status string } `json:"last_sync"`
	LastSuccess *time.Time               `json:"last_success"`
	Fetched     bool                     `json:"fetched"`
	PendingPush []struct {
		Description string `json:"description"`
	} `json:"pending_push"`
	Incoming []struct {
		Description string `json:"description"`
	} `json:"incoming"`
	Parked []struct {
		Name, Remote, Host string
		ThisHost           bool `json:"this_host"`
		Pushed             bool
		Ahead              int
	} `json:"parked"`
	Conflicts     int      `json:"conflicts"`
	ConflictFiles []string `json:"conflict_files"`
	Drift         *struct {
		ChangedLocally []string `json:"changed_locally"`
		Capturable     []string `json:"capturable"`
		WouldApply     []string `json:"would_apply"`
	} `json:"drift"`
	Templates []string `json:"uncaptured_templates"`
	History   []struct{ Status string }
	Check     struct {
		Code     int
		Status   string
		Problems []string
	}
	Warnings []string
}

func statusJSON(t *testing.T, h *testharness.Host, args ...string) (report, string) {
	t.Helper()
	r := status(h, append([]string{"--json"}, args...)...)
	require.Equal(t, 0, r.Code, r.String())
	var rep report
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep), r.Stdout)
	return rep, r.Stdout
}

func requireCode(t *testing.T, want int, r testharness.Result) {
	t.Helper()
	require.Equal(t, want, r.Code, r.String())
}

// Never synced: plain git clone, no .jj, no state directory. Status says so
// plainly, changes nothing, and --check calls it stale.
func TestNeverSynced(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	r := status(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[warn] Last sync: never")
	require.Contains(t, r.Stdout, "jj: not initialised in the source directory yet")
	require.Contains(t, r.Stdout, "[ok] Home directory: matches the source directory")

	r = status(h, "--check")
	requireCode(t, 7, r)
	require.Contains(t, r.Stdout, "check: stale (exit 7): stale: never synced")

	rep, doc := statusJSON(t, h)
	require.False(t, rep.Synced)
	require.False(t, rep.JJInitialized)
	require.True(t, rep.SourceExists)
	require.Equal(t, 7, rep.Check.Code)
	conflictfixture.Golden(t, "never-synced.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)

	_, err := os.Stat(h.StateDir())
	require.ErrorIs(t, err, os.ErrNotExist, "status must not create the state directory")
	_, err = os.Stat(filepath.Join(h.SourceDir(), ".jj"))
	require.ErrorIs(t, err, os.ErrNotExist, "status must not initialise jj")
}

// No source directory at all (chezmoi init never ran).
func TestNoSourceDirectory(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	h := testharness.NewHost(t, "gamma").WithBinaries()
	r := status(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[failed] Source directory: missing")
	require.Contains(t, r.Stderr, "does not exist")
	requireCode(t, 7, status(h, "--check"))
}

func TestSuccess(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.EditHome(t, h, ".bashrc", "EDITOR=vi", "EDITOR=emacs")
	conflictfixture.Capture(h)
	conflictfixture.Publish(h)
	conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.Success, Start: time.Now().Add(-2 * time.Minute), Pushed: true})
	ops := conflictfixture.OpCount(t, h)

	r := status(h)
	requireCode(t, 0, r)
	// The record is 2 minutes old when saved; jj and the status run may
	// take more than 10 s on a loaded machine ("2m0" then failed on 2m10s).
	require.Regexp(t, `\[ok\] Last sync: success, 2m\d\ds ago`, r.Stdout)
	require.Contains(t, r.Stdout, "[ok] Pending push: 0 local commits not on main@origin")
	require.Contains(t, r.Stdout, "[ok] Incoming: 0 commits")
	require.Contains(t, r.Stdout, "[ok] Conflicts: none")
	require.Contains(t, r.Stdout, "Recent syncs:")
	require.Contains(t, r.Stdout, "chore(beta): sync dotfiles")

	// --limit 0 means none: neither past runs nor commits, in either form.
	r = status(h, "--limit", "0")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Recent syncs:")
	require.NotContains(t, r.Stdout, "Recent commits:")
	r = status(h, "--limit", "0", "--json")
	requireCode(t, 0, r)
	var none struct {
		History []json.RawMessage `json:"history"`
		Log     []json.RawMessage `json:"log"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &none))
	require.NotNil(t, none.History, "an empty list, never null")
	require.Empty(t, none.History)
	require.Empty(t, none.Log)

	requireCode(t, 0, status(h, "--check"))
	requireCode(t, 0, status(h, "--check", "--max-age", "1h"))
	r = status(h, "--check", "--max-age", "30s")
	requireCode(t, 7, r)
	require.Contains(t, r.Stdout, "more than --max-age 30s")

	rep, doc := statusJSON(t, h)
	require.True(t, rep.Synced)
	require.Equal(t, "success", rep.LastSync.Status)
	require.NotNil(t, rep.LastSuccess)
	require.Empty(t, rep.PendingPush)
	require.Equal(t, "healthy", rep.Check.Status)
	conflictfixture.Golden(t, "success.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)

	require.Equal(t, ops, conflictfixture.OpCount(t, h), "status must not add a jj operation (no snapshot)")
}

// fetch-failed: the local commit is kept, not pushed; the previous success
// carries forward; --check reports the failure before staleness.
func TestFetchFailed(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.Success, Start: time.Now().Add(-3 * time.Hour)})
	conflictfixture.EditHome(t, h, ".gitconfig", "pager = less", "pager = delta")
	conflictfixture.Capture(h)
	conflictfixture.Save(t, h, syncstate.Record{
		Status: syncstate.FetchFailed, Start: time.Now().Add(-time.Minute), PendingPush: 1,
		Error:    "jj git fetch: exit 1: Error: Could not find repository at '/nowhere'",
		NextStep: "the commit is kept; the next chezmoi-sync pushes it once the remote is reachable",
	})

	r := status(h)
	requireCode(t, 0, r)
	require.Regexp(t, `\[failed\] Last sync: fetch-failed, 1m\d\ds ago`, r.Stdout) // saved 1 minute old (see TestSuccess)
	require.Contains(t, r.Stdout, "error: jj git fetch: exit 1: Error: Could not find repository")
	require.Contains(t, r.Stdout, "next: the commit is kept")
	require.Contains(t, r.Stdout, "last success: 3h0")
	require.Contains(t, r.Stdout, "[warn] Pending push: 1 local commit not on main@origin")

	r = status(h, "--check", "--max-age", "1h")
	requireCode(t, 6, r)
	require.Contains(t, r.Stdout, "check: sync-failed (exit 6): sync-failed: the last sync ended fetch-failed")
	require.Contains(t, r.Stdout, "stale: last success 3h0m", "every problem is listed, the first decides the code")

	rep, doc := statusJSON(t, h)
	require.Len(t, rep.PendingPush, 1)
	require.Contains(t, rep.PendingPush[0].Description, "chore(beta): sync dotfiles")
	require.Equal(t, []string{"fetch-failed", "success"}, []string{rep.History[0].Status, rep.History[1].Status})
	conflictfixture.Golden(t, "fetch-failed.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)
}

// push-failed: captured, fetched and rebased, main moved locally, the push
// did not reach the remote.
func TestPushFailed(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.EditHome(t, h, ".bashrc", "alias ll='ls -l'", "alias ll='ls -la'")
	conflictfixture.Capture(h)
	h.Run(h.SourceDir(), "jj", "git", "fetch")
	h.Run(h.SourceDir(), "jj", "bookmark", "set", "main", "-r", "@-")
	conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.PushFailed, Start: time.Now(), PendingPush: 1,
		Error: "jj git push: exit 1: fatal: Could not read from remote repository."})

	r := status(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[failed] Last sync: push-failed")
	require.Contains(t, r.Stdout, "[warn] Pending push: 1 local commit")
	require.Contains(t, r.Stdout, "last success: never")
	r = status(h, "--check")
	requireCode(t, 6, r)
	require.Contains(t, r.Stdout, "the last sync ended push-failed (jj git push: exit 1")
	conflictfixture.Golden(t, "push-failed.json", conflictfixture.Normalize(t, statusOut(t, h), w.Paths()), *update)
}

func statusOut(t *testing.T, h *testharness.Host) string {
	_, doc := statusJSON(t, h)
	return doc
}

// conflicts-preserved: beta's edit parked on sync/beta (pushed), main and
// the home directory untouched. Beta's status shows the conflict; alpha
// sees beta's parked bookmark but is itself healthy.
func TestConflictsPreserved(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	w.ConflictingEdits()
	conflictfixture.Save(t, w.Alpha, syncstate.Record{Status: syncstate.Success, Start: time.Now()})
	change := conflictfixture.Park(t, w.Beta)
	conflictfixture.Save(t, w.Beta, syncstate.Record{
		Status: syncstate.ConflictsPreserved, Start: time.Now(), Parked: "sync/beta", PendingPush: 1,
		Conflicts: []syncstate.Conflict{{ChangeID: change, Paths: []string{"dot_bashrc"}}},
		NextStep:  "run chezmoi-show-conflicts",
	})
	h := w.Beta
	ops := conflictfixture.OpCount(t, h)

	r := status(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[failed] Last sync: conflicts-preserved")
	require.Contains(t, r.Stdout, "[warn] Parked: sync/beta (this host, pushed, 1 commit ahead)")
	require.Contains(t, r.Stdout, "[failed] Conflicts: 1 (dot_bashrc): chezmoi-show-conflicts shows both sides; chezmoi-sync --keep-local or --take-remote resolves them")
	require.Contains(t, r.Stdout, "[warn] Incoming: 1 commit on main@origin")

	r = status(h, "--check", "--max-age", "1s")
	requireCode(t, 5, r)
	require.Contains(t, r.Stdout, "check: conflicts (exit 5)")

	rep, doc := statusJSON(t, h)
	require.Equal(t, 1, rep.Conflicts)
	require.Equal(t, []string{"dot_bashrc"}, rep.ConflictFiles)
	require.Len(t, rep.Parked, 1)
	require.True(t, rep.Parked[0].ThisHost)
	require.True(t, rep.Parked[0].Pushed)
	conflictfixture.Golden(t, "conflicts-preserved.json", conflictfixture.Normalize(t, doc, w.Paths()), *update)
	require.Equal(t, ops, conflictfixture.OpCount(t, h), "status must not add a jj operation")

	// Alpha, after fetching, sees beta's parked bookmark; its own check is fine.
	r = status(w.Alpha, "--fetch", "--check")
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "[warn] Parked: sync/beta@origin (host beta, 1 commit ahead)")
	require.Contains(t, r.Stdout, "[ok] Conflicts: none")
}

// A sync running right now: status answers at once, names the holder, and
// waits only when asked.
func TestSyncRunning(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	conflictfixture.Save(t, h, syncstate.Record{Status: syncstate.Success, Start: time.Now()})
	lock, err := state.Acquire(context.Background(), h.StateDir(), state.SyncLock, 0,
		state.Holder{PID: os.Getpid(), Host: "beta", Command: "chezmoi-sync", Since: time.Now()})
	require.NoError(t, err)
	release := sync.OnceFunc(func() { _ = lock.Release() })
	defer release()

	// Answers at once: the lock is held until the test ends, so a status
	// that waited for it would never return, and one that waited a while
	// and gave up would say so (the lines below). The bound is for a
	// loaded machine (real jj under -race), not a measure of speed.
	start := time.Now()
	r := status(h)
	requireCode(t, 0, r)
	require.Less(t, time.Since(start), time.Minute)
	require.Contains(t, r.Stdout, fmt.Sprintf("[warn] Sync running: pid %d on beta (chezmoi-sync)", os.Getpid()))

	rep, _ := statusJSON(t, h)
	require.True(t, rep.SyncRunning)
	require.Equal(t, os.Getpid(), rep.SyncHolder.PID)
	require.Equal(t, 0, rep.Check.Code, "a running sync is not a failure")

	r = status(h, "--fetch")
	requireCode(t, 0, r)
	require.Contains(t, r.Stderr, "--fetch skipped: a sync is running")

	r = status(h, "--wait", "300ms")
	requireCode(t, 3, r)
	require.Contains(t, r.Stderr, fmt.Sprintf("pid %d", os.Getpid()))

	go func() {
		time.Sleep(700 * time.Millisecond)
		release()
	}()
	r = status(h, "--wait", "30s")
	requireCode(t, 0, r)
	require.NotContains(t, r.Stdout, "Sync running")
}

// Incoming commits are counted as of the last fetch; --fetch refreshes.
func TestFetchRefreshesIncoming(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	conflictfixture.InitJJ(w.Beta)
	conflictfixture.InitJJ(w.Alpha)
	conflictfixture.EditHome(t, w.Alpha, ".bashrc", "EDITOR=vi", "EDITOR=nvim")
	conflictfixture.Capture(w.Alpha)
	conflictfixture.Publish(w.Alpha)

	rep, _ := statusJSON(t, w.Beta)
	require.Empty(t, rep.Incoming, "no network by default")
	rep, _ = statusJSON(t, w.Beta, "--fetch")
	require.True(t, rep.Fetched)
	require.Len(t, rep.Incoming, 1)
	rep, _ = statusJSON(t, w.Beta)
	require.Len(t, rep.Incoming, 1, "the fetch is remembered")
	_, err := os.Stat(filepath.Join(w.Beta.StateDir(), state.SyncLock))
	require.NoError(t, err, "--fetch took the sync lock")
}

// Home-directory drift and templates re-add cannot capture.
func TestDriftAndTemplates(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	conflictfixture.InitJJ(h)
	require.NoError(t, os.WriteFile(filepath.Join(h.SourceDir(), "dot_profile.tmpl"), []byte("# profile for {{ .chezmoi.username }}\n"), 0o644))
	h.Run("", "chezmoi", "apply", "--force")
	h.WriteHome(".profile", "# edited by hand\n")
	conflictfixture.EditHome(t, h, ".gitconfig", "pager = less", "pager = delta")

	rep, _ := statusJSON(t, h)
	require.ElementsMatch(t, []string{".gitconfig", ".profile"}, rep.Drift.ChangedLocally)
	require.Equal(t, []string{".profile"}, rep.Templates)
	require.Equal(t, []string{".gitconfig"}, rep.Drift.Capturable)
	r := status(h)
	require.Contains(t, r.Stdout, "[warn] Home directory: 2 files changed locally (the next sync captures 1; 1 wait for you, below)")
	require.NotContains(t, r.Stdout, "(the next sync captures them)", "it says the sync captures an edit it cannot")
	require.Contains(t, r.Stdout, "[warn] Waiting: .profile (template): it comes from a template")
	require.Contains(t, r.Stdout, "[warn] Templates: changed targets re-add cannot capture (edit the .tmpl in the source directory): .profile")
	// --check: an edit waiting for the user is not healthy (exit 12),
	// before the sync and after it (the sync's state word is edits-waiting).
	r = status(h, "--check")
	requireCode(t, 12, r)
	require.Contains(t, r.Stdout, "edits-waiting: 1 home edit(s) the sync cannot capture wait for you: .profile")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	r := status(h, "--no-such-flag")
	requireCode(t, 2, r)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, "one line: %q", r.Stderr)
	requireCode(t, 2, status(h, "--limit", "-1"))
	requireCode(t, 2, status(h, "--max-age", "soon"))

	require.NoError(t, os.MkdirAll(h.StateDir(), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(h.StateDir(), syncstate.RecordFile), []byte("{garbled"), 0o600))
	r = status(h)
	requireCode(t, 0, r)
	require.Contains(t, r.Stderr, "last-sync.json is unreadable")
	r = status(h, "--check")
	requireCode(t, 6, r)
	require.Contains(t, r.Stdout, "sync-failed: the sync record is unreadable")
}

// Flags, environment and the config file pick the source directory, as
// they do for chezmoi-sync.
func TestLocationFromConfig(t *testing.T) {
	t.Parallel()
	w := conflictfixture.New(t)
	h := w.Beta
	other := filepath.Join(h.Root, "elsewhere")
	require.NoError(t, os.Rename(h.SourceDir(), other))
	cfg := filepath.Join(h.Root, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`{"chezmoiSync": {"sourceDir": %q, "hostname": "fromconfig"}}`, other)), 0o600))

	r := status(h, "--config", cfg)
	requireCode(t, 0, r)
	require.Contains(t, r.Stdout, "source "+other)
	require.Contains(t, r.Stdout, "host beta", "the environment (CHEZMOI_SYNC_HOSTNAME) beats the config file")
	r = status(h, "--config", cfg, "--hostname", "flaghost")
	require.Contains(t, r.Stdout, "host flaghost")
	h.Setenv("CHEZMOI_SYNC_SOURCE_DIR", "/nonexistent/dir")
	r = status(h, "--config", cfg)
	require.Contains(t, r.Stdout, "source /nonexistent/dir")
}
