package chezmoisync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// chezmoi's own git.autoPush would push with git behind the sync (a bare
// git error in a colocated repository): refused with the fix, before
// anything is captured. git.autoCommit (a real-world config has it) keeps
// working: chezmoi's own commit after the sync's re-add would sweep every
// untracked file of the source directory into the history, so it is made
// in a throw-away repository; the stray secret never reaches the remote.
func TestChezmoiGitAutomation(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	a.WriteHome(".config/chezmoi/chezmoi.toml", "[git]\n  autoPush = true\n")
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --auto'")
	head := jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id")
	r := syncCode(t, a, 11)
	rec := record(t, a)
	require.Equal(t, syncstate.Refused, rec.Status)
	require.Contains(t, rec.Error, "git.autoPush is on")
	require.Contains(t, rec.NextStep, "autoPush = false")
	require.NotContains(t, r.Stdout+r.Stderr, "fatal:", "a bare git error")
	require.Equal(t, head, jjOut(a, "log", "--no-graph", "-r", "@-", "-T", "commit_id"))
	require.NotContains(t, a.ReadSource("dot_bashrc"), "--auto", "captured although refused")

	for _, cfg := range []string{"[git]\n  autoCommit = true\n", "[git]\n  autoAdd = true\n"} {
		a.WriteHome(".config/chezmoi/chezmoi.toml", cfg)
		require.NoError(t, os.WriteFile(filepath.Join(a.SourceDir(), ".secret_token"), []byte("TOKEN=not-for-git\n"), 0o600))
		editLine(t, a, ".bashrc", 2, "alias ll='ls -l --"+strings.Fields(cfg)[1]+"'")
		r = mustSync(t, a)
		require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), strings.Fields(cfg)[1], r.String())
		require.NotContains(t, a.Run(remote, "git", "log", "--all", "--name-only", "--format=%s"), "secret_token", "chezmoi's autoCommit swept the untracked secret into the history")
		require.NotContains(t, a.Run(remote, "git", "log", "--all", "--format=%s"), "Update .bashrc", "chezmoi's own commit reached the remote")
	}
}

// The one-line summaries say what happened, and for a dry run what would:
// never "success: 1 captured" for a dry run, "would push" with nothing to
// push, or "failed: nothing to do".
func TestSummariesSayWhatHappened(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	last := func(r testharness.Result) string {
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if strings.HasPrefix(lines[i], "chezmoi-sync") {
				return lines[i]
			}
		}
		return ""
	}
	r := mustSync(t, a, "--dry-run")
	require.Regexp(t, `^chezmoi-sync \(dry run\): nothing to do \(nothing was changed\) \(`, last(r))

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --summary'")
	r = mustSync(t, a, "--dry-run")
	require.Regexp(t, `^chezmoi-sync \(dry run\): would capture 1, would commit, would push 1 commit \(nothing was changed\)`, last(r))
	require.NotContains(t, last(r), "success")

	r = mustSync(t, a, "--dry-run", "--no-auto-push")
	require.NotContains(t, last(r), "push", "a dry run with autoPush off said it would push")
	require.Contains(t, r.Stdout, "autoPush is off: 1 commit wait")

	r = mustSync(t, a)
	require.Regexp(t, `^chezmoi-sync: success: 1 captured, committed [0-9a-f]{12}, pushed \(`, last(r))
	r = mustSync(t, a)
	require.Regexp(t, `^chezmoi-sync: success: nothing to do \(`, last(r))

	big := filepath.Join(a.Home, ".big")
	require.NoError(t, os.WriteFile(big, make([]byte, 300_000), 0o644))
	a.Run("", "chezmoi", "add", big)
	r = syncCode(t, a, 1, "--max-new-file-size", "100000")
	require.Regexp(t, `^chezmoi-sync: failed: .*refused to snapshot`, last(r))
	require.NotContains(t, last(r), "nothing to do")
}

// The run marker names the step a run had reached, what it had done and
// the jj operation before it (the basis for continue and undo): here a run
// stopped by SIGTERM inside the fetch, after it captured and committed.
func TestRunMarkerRecordsStepReached(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	op := jjOut(a, "op", "log", "--no-graph", "-n", "1", "-T", "id")
	started := filepath.Join(a.Root, "fetch-started")
	hook := fmt.Sprintf("#!/bin/sh\n# test-only: hold the first ref update with content (the push; the fetch comes first and finds nothing)\nin=$(cat)\n[ -z \"$in\" ] && exit 0\n[ -e %[1]q ] && exit 0\n: > %[1]q\nsleep 30\n", started)
	hookPath := filepath.Join(a.SourceDir(), ".git", "hooks", "reference-transaction")
	require.NoError(t, os.WriteFile(hookPath, []byte(hook), 0o755))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --marker'")

	// A sync reaching its push under -race on a loaded machine can take
	// more than 30 s; the hook holds it there for 30 s more.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, "", "chezmoi-sync")
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(started); return err == nil }, 3*time.Minute, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Error(t, cmd.Wait())

	var m struct {
		Step     string   `json:"step"`
		Done     []string `json:"done"`
		OpBefore string   `json:"op_before"`
		Program  []string `json:"program"`
	}
	data, err := os.ReadFile(filepath.Join(a.StateDir(), "sync-run.json"))
	require.NoError(t, err, "an interrupted run must leave its marker")
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, "push", m.Step)
	require.Subset(t, m.Done, []string{"capture", "commit"})
	require.Equal(t, op, m.OpBefore)
	require.Contains(t, m.Program, "push")
	mustSync(t, a)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--marker")
	_, err = os.Stat(filepath.Join(a.StateDir(), "sync-run.json"))
	require.True(t, os.IsNotExist(err))
}

// A run takes over an interrupted run's marker and must then write its
// own: it knew the marker for its own by the pid alone, so when the killed
// run had had the same pid (a service with PrivatePIDs=, a container: the
// sync is pid 1 every time) it went on with the dead run's record of where
// the repository stood (op_before, parent_before), and a kill after that
// was repaired against the wrong state. Here the sync runs as pid 1 in a
// pid namespace, after a marker of an earlier pid 1.
func TestTakenOverMarkerIsReplacedWhateverThePid(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed")
	}
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)
	if r := a.Exec("", "unshare", "--pid", "--fork", "true"); r.Code != 0 {
		t.Skipf("no pid namespaces here: %s", r)
	}
	op := strings.TrimSpace(jjOut(a, "op", "log", "--no-graph", "-n", "1", "-T", "id"))
	const deadOp = "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000d"
	dead, err := json.Marshal(map[string]any{"pid": 1, "start": time.Now().Add(-time.Hour), "source_dir": a.SourceDir(),
		"op_before": deadOp, "step": "capture", "done": []string{"inspect"}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(a.StateDir(), "sync-run.json"), dead, 0o600))
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --pid1'")

	r := a.Exec("", "unshare", "--pid", "--fork", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout+r.Stderr, "was interrupted")
	rec := record(t, a)
	require.Equal(t, op, rec.OpBefore, "the run kept the interrupted run's marker as its own")
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--pid1")
}
