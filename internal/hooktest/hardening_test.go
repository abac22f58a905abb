package hooktest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/nixdots/nixdots/internal/testharness"
)

// The default report never starts the user's pager, even on a terminal
// (it waited for a key and blocked the fetch), and it is bounded by
// nixdots.hook.timeout like any foreground action.
func TestReportNeverBlocksTheFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install() // report
	pagerLog := filepath.Join(f.h.Root, "pager.log")
	pager := filepath.Join(f.h.Root, "pager.sh")
	require.NoError(t, os.WriteFile(pager, []byte("#!/bin/sh\necho started >> "+pagerLog+"\ncat >/dev/null\nsleep 300\n"), 0o755))
	f.h.Run(f.repo, "git", "config", "core.pager", pager)
	f.h.Setenv("GIT_PAGER", pager)
	f.h.Setenv("PAGER", pager)
	f.h.Setenv("LESS", "-R")
	f.push()
	f.push()
	// A pager would hold the fetch for 300 s; a minute allows for a
	// loaded machine under -race (10 s was close for a fetch and its report).
	out, took := onTerminal(t, f.h, f.repo, 2*time.Minute, "git", "fetch")
	require.Less(t, took, time.Minute, "the fetch waited:\n%s", out)
	require.NoFileExists(t, pagerLog, "the report started a pager:\n%s", out)
	require.Contains(t, out, "origin/main: 2 new commit(s)")
	require.Contains(t, out, "remote change 2 (beta,")

	// A report that hangs (here: its output filter) is stopped.
	slow := filepath.Join(f.h.Root, "slowbin")
	require.NoError(t, os.MkdirAll(slow, 0o755))
	real, err := exec.LookPath("tr")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(slow, "tr"), []byte(fmt.Sprintf(
		"#!/bin/sh\ncase \"$1\" in *011*) sleep 300 ;; esac\nexec %s \"$@\"\n", real)), 0o755))
	f.h.Setenv("PATH", slow+":"+f.h.Getenv("PATH"))
	f.h.Run(f.repo, "git", "config", "nixdots.hook.timeout", "1")
	f.push()
	start := time.Now()
	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Less(t, time.Since(start), time.Minute)
	require.Contains(t, r.Stderr, "action 'report' failed (timeout after 1s)")
}

// onTerminal runs name on a pseudo-terminal (stdin, stdout and stderr) and
// returns what it printed and how long it took; it kills it after limit.
func onTerminal(t *testing.T, h *testharness.Host, dir string, limit time.Duration, name string, args ...string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, append(append([]string{}, h.Env...), "TERM=xterm")
	ptmx, err := pty.Start(cmd)
	require.NoError(t, err)
	defer ptmx.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&out, ptmx); close(copied) }()
	start := time.Now()
	_ = cmd.Wait()
	took := time.Since(start)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return out.String(), took
}

// The hook makes its log private: the state directory it creates is 0700
// and hook.log 0600 whatever the umask; a hook.log that is a link (or
// in a directory others may write) is not written through, and says so.
func TestHookLogIsPrivate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	state := f.h.StateDir()
	require.NoError(t, os.RemoveAll(filepath.Dir(state))) // ~/.local/state too
	f.install("--action", f.recorder(""), "--async", "true")
	f.push()
	cmd := exec.Command("sh", "-c", "umask 022 && exec git fetch -q")
	cmd.Dir, cmd.Env = f.repo, f.h.Env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	log := filepath.Join(state, "hook.log")
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(log)
		return strings.Contains(string(data), "action finished")
	}, 2*time.Minute, 50*time.Millisecond)
	for path, want := range map[string]os.FileMode{filepath.Dir(state): 0o700, state: 0o700, log: 0o600} {
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, want, st.Mode().Perm(), path)
	}

	// hook.log replaced by a link to another file: not appended through.
	victim := filepath.Join(f.h.Root, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious\n"), 0o600))
	require.NoError(t, os.Remove(log))
	require.NoError(t, os.Symlink(victim, log))
	f.install("--action", f.recorder(""), "--async", "false")
	f.push()
	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "nixdots-hook: not writing the hook log "+log+": it is a symbolic link")
	data, _ := os.ReadFile(victim)
	require.Equal(t, "precious\n", string(data))
	require.Equal(t, 2, f.runs(), "the action still runs:\n%s", f.recorded())

	// A log in a directory anyone may write: refused too.
	open := filepath.Join(f.h.Root, "open")
	require.NoError(t, os.Mkdir(open, 0o777))
	require.NoError(t, os.Chmod(open, 0o777))
	f.h.Run(f.repo, "git", "config", "nixdots.hook.log", filepath.Join(open, "hook.log"))
	f.push()
	r = f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "not writing the hook log "+filepath.Join(open, "hook.log")+": its directory "+open+": group or others may write it (mode 777)")
	require.NoFileExists(t, filepath.Join(open, "hook.log"))
}

// origin/HEAD appearing (git fetch creates it as a symbolic ref) brings no
// commit: it never runs the action, and a fetch runs it once.
func TestRemoteHEADIsNotIncoming(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fresh := filepath.Join(f.h.Root, "fresh")
	f.h.Run("", "git", "init", "-q", fresh)
	f.h.Run(fresh, "git", "remote", "add", "origin", f.remote)
	f.repo = fresh
	f.install("--action", f.recorder(""), "--async", "false")
	f.h.Run(fresh, "git", "fetch", "-q")
	require.Equal(t, 1, f.runs(), "the first fetch: %s", f.recorded())
	require.NotContains(t, f.recorded(), "refs/remotes/origin/HEAD")
	// origin/HEAD gone and made again by a fetch with nothing new.
	if r := f.h.Exec(fresh, "git", "remote", "set-head", "origin", "-d"); r.Code == 0 {
		f.h.Run(fresh, "git", "fetch", "-q")
		require.Equal(t, 1, f.runs(), "origin/HEAD alone ran the action: %s", f.recorded())
	}
	f.push()
	f.h.Run(fresh, "git", "fetch", "-q")
	require.Equal(t, 2, f.runs(), f.recorded())
}

// The bare-dotfiles pattern: GIT_DIR=~/.dotfiles GIT_WORK_TREE=~, no .git
// in the work tree. Plain git in the action still acts on that repository.
func TestActionInSeparateGitDir(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gitDir := filepath.Join(f.h.Root, "dotfiles.git")
	work := filepath.Join(f.h.Root, "worktree")
	require.NoError(t, os.MkdirAll(work, 0o755))
	f.h.Run("", "git", "init", "-q", "--bare", gitDir)
	f.h.Run("", "git", "--git-dir", gitDir, "config", "core.bare", "false")
	f.h.Run("", "git", "--git-dir", gitDir, "remote", "add", "origin", f.remote)
	f.h.Setenv("GIT_DIR", gitDir)
	f.h.Setenv("GIT_WORK_TREE", work)
	f.h.Run(work, "git", "fetch", "-q")
	f.repo = work
	out := filepath.Join(f.h.Root, "action")
	f.h.Run(work, filepath.Join(hooksDir(), "install"), "--action",
		fmt.Sprintf(`pwd > %q.pwd; git log -1 --format=%%s origin/main > %q.log 2>&1`, out, out), "--async", "false")
	f.push()
	r := f.h.Exec(work, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.NotContains(t, r.Stderr, "failed", r.String())
	msg, err := os.ReadFile(out + ".log")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("remote change %d", f.n), strings.TrimSpace(string(msg)))
	pwd, err := os.ReadFile(out + ".pwd")
	require.NoError(t, err)
	require.Equal(t, work, strings.TrimSpace(string(pwd)))
}

// Uninstalling one hook keeps the settings the other one still uses; the
// last one takes them along.
func TestUninstallOneHookKeepsSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install("--action", f.recorder(""), "--async", "false")
	out := f.install("--hooks", "post-merge", "--uninstall")
	require.Contains(t, out, "settings kept")
	require.Equal(t, f.recorder(""), f.h.Run(f.repo, "git", "config", "--get", "nixdots.hook.action"))
	f.push()
	f.h.Run(f.repo, "git", "fetch", "-q")
	require.Equal(t, 1, f.runs(), "the remaining hook still runs the configured action:\n%s", f.recorded())
	f.install("--hooks", "reference-transaction", "--uninstall")
	r := f.h.Exec(f.repo, "git", "config", "--get", "nixdots.hook.action")
	require.Equal(t, 1, r.Code, "the last uninstall keeps the settings: %s", r)
}

// A core.hooksPath from the global config makes the hooks directory every
// repository's: the installer refuses it (one line, exit 2, nothing
// written) unless --force, and then says so.
func TestInstallerNamesASharedHooksPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shared := filepath.Join(f.h.Root, "shared-hooks")
	require.NoError(t, os.MkdirAll(shared, 0o755))
	f.h.Run(f.repo, "git", "config", "--global", "core.hooksPath", shared)
	inst := filepath.Join(hooksDir(), "install")
	r := f.h.Exec(f.repo, inst)
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "core.hooksPath")
	require.Contains(t, r.Stderr, "--force")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, r.Stderr)
	entries, _ := os.ReadDir(shared)
	require.Empty(t, entries, "installed into the shared directory")
	out := f.h.Run(f.repo, inst, "--force")
	require.Contains(t, out, "shared through core.hooksPath")
	require.FileExists(t, filepath.Join(shared, "reference-transaction"))
	// A repository's own core.hooksPath is its own business.
	f.h.Run(f.repo, "git", "config", "--local", "core.hooksPath", ".git/hooks")
	out = f.h.Run(f.repo, inst)
	require.NotContains(t, out, "shared")
}

// `git fetch --all` with two remotes that both bring something runs the
// chezmoi-sync action for each: the second waits for the first's lock
// instead of failing with exit 3, and both finish.
func TestFetchAllRunsSyncsThatWait(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := testharness.NewHost(t, "alpha").WithBinaries()
	a.CloneDotfiles(remote)
	r := a.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	mirror := filepath.Join(a.Root, "mirror.git")
	a.Run("", "git", "clone", "-q", "--bare", remote, mirror)
	a.Run(a.SourceDir(), "git", "remote", "add", "mirror", mirror)
	a.Run(a.SourceDir(), "git", "fetch", "-q", "mirror")
	f := &fixture{t: t, remote: remote, h: a, repo: a.SourceDir()}
	f.install("--action", "chezmoi-sync")
	// Another host publishes to both remotes.
	b := testharness.NewHost(t, "beta")
	f.pusher, f.pushDir = b, filepath.Join(b.Root, "repo")
	b.Run("", "git", "clone", "-q", remote, f.pushDir)
	b.Run(f.pushDir, "git", "remote", "add", "mirror", mirror)
	f.push()
	b.Run(f.pushDir, "git", "push", "-q", "mirror", "main")

	cmd := exec.Command("git", "fetch", "--all", "-q")
	cmd.Dir, cmd.Env = a.SourceDir(), a.Env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, 2, strings.Count(string(out), "in the background"), "one action per remote:\n%s", out)
	log := filepath.Join(a.StateDir(), "hook.log")
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(log)
		return strings.Count(string(data), "action finished: chezmoi-sync")+strings.Count(string(data), "action failed") >= 2
	}, 90*time.Second, 100*time.Millisecond)
	data, _ := os.ReadFile(log)
	require.NotContains(t, string(data), "action failed", "a sync failed:\n%s", data)
	require.Equal(t, "x\n", a.ReadSource("file1"), "the change came in")
}

// Commit subjects come from the remote: the report replaces the control
// characters a terminal would act on.
func TestReportEscapesSubjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install()
	require.NoError(t, os.WriteFile(filepath.Join(f.pushDir, "evil"), []byte("x\n"), 0o644))
	f.pusher.Run(f.pushDir, "git", "add", "-A")
	f.pusher.Run(f.pushDir, "git", "commit", "-q", "-m", "title\x1b]0;pwned\x07 clear\x1b[2J")
	f.pusher.Run(f.pushDir, "git", "push", "-q", "origin", "main")
	r := f.h.Exec(f.repo, "git", "fetch")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "title?]0;pwned? clear?[2J")
	require.NotContains(t, r.Stderr, "\x1b")
}
