package hooktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// hooksDir is the repository's hooks/ directory (the files under test).
func hooksDir() string { return filepath.Join(testharness.ModuleRoot(), "hooks") }

// fixture: a bare remote, a second host that pushes to it, and the repository
// under test on host "alpha" with the hooks installed and a recording action.
type fixture struct {
	t       *testing.T
	remote  string
	h       *testharness.Host
	repo    string
	pusher  *testharness.Host
	pushDir string
	record  string // file the recording action appends to
	n       int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testharness.Require(t, "git")
	f := &fixture{t: t, remote: testharness.NewRemote(t, testharness.DefaultDotfiles())}
	f.h = testharness.NewHost(t, "alpha")
	f.repo = filepath.Join(f.h.Root, "repo")
	f.h.Run("", "git", "clone", "-q", f.remote, f.repo)
	f.pusher = testharness.NewHost(t, "beta")
	f.pushDir = filepath.Join(f.pusher.Root, "repo")
	f.pusher.Run("", "git", "clone", "-q", f.remote, f.pushDir)
	f.record = filepath.Join(f.h.Root, "actions.log")
	return f
}

// recorder writes a script that appends one "run <hook>" line and the refs it
// received on stdin to f.record, and returns its path.
func (f *fixture) recorder(extra string) string {
	f.t.Helper()
	p := filepath.Join(f.h.Root, "record.sh")
	body := fmt.Sprintf("#!/bin/sh\n%s\n{ echo \"run $NIXDOTS_HOOK active=$NIXDOTS_HOOK_ACTIVE\"; cat; } >> %q\n", extra, f.record)
	require.NoError(f.t, os.WriteFile(p, []byte(body), 0o755))
	return p
}

func (f *fixture) install(args ...string) string {
	f.t.Helper()
	return f.h.Run(f.repo, filepath.Join(hooksDir(), "install"), args...)
}

// push makes a new commit on the remote's main from the other host.
func (f *fixture) push() string {
	f.t.Helper()
	f.n++
	p := filepath.Join(f.pushDir, fmt.Sprintf("file%d", f.n))
	require.NoError(f.t, os.WriteFile(p, []byte("x\n"), 0o644))
	f.pusher.Run(f.pushDir, "git", "add", "-A")
	f.pusher.Run(f.pushDir, "git", "commit", "-q", "-m", fmt.Sprintf("remote change %d", f.n))
	f.pusher.Run(f.pushDir, "git", "push", "-q", "origin", "main")
	return f.pusher.Run(f.pushDir, "git", "rev-parse", "HEAD")
}

func (f *fixture) runs() int {
	data, _ := os.ReadFile(f.record)
	return strings.Count(string(data), "run ")
}

func (f *fixture) recorded() string {
	data, _ := os.ReadFile(f.record)
	return string(data)
}

func (f *fixture) hookPath(name string) string {
	return filepath.Join(f.repo, ".git", "hooks", name)
}

// A fetch that brings a commit runs the action exactly once, with the moved
// ref on stdin; a fetch that brings nothing does not run it.
func TestGitFetchTriggersActionOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install("--action", f.recorder(""), "--async", "false")
	head := f.push()

	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, 1, f.runs(), f.recorded())
	require.Contains(t, f.recorded(), head+" refs/remotes/origin/main")
	require.Contains(t, f.recorded(), "run reference-transaction active=1")

	r = f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, 1, f.runs(), "an empty fetch must not run the action:\n%s", f.recorded())

	// Local commits, checkouts and pushes move refs too, never the action.
	require.NoError(t, os.WriteFile(filepath.Join(f.repo, "local"), []byte("l\n"), 0o644))
	f.h.Run(f.repo, "git", "merge", "-q", "--ff-only", "origin/main")
	f.h.Run(f.repo, "git", "add", "-A")
	f.h.Run(f.repo, "git", "commit", "-q", "-m", "local")
	f.h.Run(f.repo, "git", "push", "-q", "origin", "main")
	f.h.Run(f.repo, "git", "checkout", "-q", "-b", "topic")
	require.Equal(t, 1, f.runs(), "push/commit/checkout must not run the action:\n%s", f.recorded())
}

// jj has no hooks; its fetch goes through git and fires reference-transaction.
func TestJJFetchInColocatedRepoTriggersAction(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "git", "jj")
	f := newFixture(t)
	f.h.Run(f.repo, "jj", "git", "init", "--colocate")
	f.h.Run(f.repo, "jj", "bookmark", "track", "main@origin")
	f.install("--action", f.recorder(""), "--async", "false")
	head := f.push()

	f.h.Run(f.repo, "jj", "git", "fetch")
	require.Equal(t, 1, f.runs(), f.recorded())
	require.Contains(t, f.recorded(), head+" refs/remotes/origin/main")

	f.h.Run(f.repo, "jj", "git", "fetch")
	require.Equal(t, 1, f.runs(), "an empty jj fetch must not run the action:\n%s", f.recorded())

	// A jj push moves refs/remotes/origin/main too: not an incoming change.
	require.NoError(t, os.WriteFile(filepath.Join(f.repo, "mine"), []byte("m\n"), 0o644))
	f.h.Run(f.repo, "jj", "commit", "-m", "mine")
	f.h.Run(f.repo, "jj", "rebase", "-b", "@", "-d", "main@origin")
	f.h.Run(f.repo, "jj", "bookmark", "set", "main", "-r", "@-")
	f.h.Run(f.repo, "jj", "git", "push", "-b", "main")
	require.Equal(t, 1, f.runs(), "a jj push must not run the action:\n%s", f.recorded())
	require.Contains(t, testharness.RemoteFile(t, f.remote, "main", "mine"), "m")
}

// The default action runs in the background: the fetch returns at once, the
// action still runs exactly once, and the hook log says it finished.
func TestAsyncActionDoesNotBlockFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The action waits for the test's word (at most 5 minutes), not for a
	// time: a fetch slower than a fixed sleep on a loaded machine is no
	// proof of waiting. A fetch that returns while the action has not
	// recorded its run did not wait for it.
	release := filepath.Join(f.h.Root, "release-action")
	f.install("--action", f.recorder(fmt.Sprintf("i=0; while [ ! -e %q ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done", release)))
	f.push()

	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "in the background")
	require.Equal(t, 0, f.runs(), "the fetch waited for the action")
	require.NoError(t, os.WriteFile(release, nil, 0o644))

	log := filepath.Join(f.h.StateDir(), "hook.log")
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(log)
		return strings.Contains(string(data), "action finished")
	}, 2*time.Minute, 50*time.Millisecond)
	require.Equal(t, 1, f.runs(), f.recorded())
}

// An action that fails never fails the git operation; it is reported.
func TestFailingActionIsReportedNotFatal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install("--action", "echo broken >&2; exit 7", "--async", "false")
	f.push()
	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "failed (7)")
	require.Contains(t, r.Stderr, "the git operation itself succeeded")
	require.Equal(t, f.repo, strings.TrimSpace(f.h.Run(f.repo, "git", "rev-parse", "--show-toplevel")))
	// And the fetch did happen.
	require.Equal(t, f.pusher.Run(f.pushDir, "git", "rev-parse", "HEAD"), f.h.Run(f.repo, "git", "rev-parse", "origin/main"))

	// A foreground action that hangs is stopped after nixdots.hook.timeout.
	// It hangs for 300 s: a fetch back within a minute (a loaded machine
	// under -race) was not held by it.
	f.install("--action", "sleep 300")
	f.h.Run(f.repo, "git", "config", "nixdots.hook.timeout", "1")
	f.push()
	start := time.Now()
	r = f.h.Exec(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, r.Code, r.String())
	require.Less(t, time.Since(start), time.Minute)
	require.Contains(t, r.Stderr, "timeout after 1s")
}

// The report action prints what came in on the fetch's stderr.
func TestReportAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install() // report is the default
	f.push()
	f.push()
	r := f.h.Exec(f.repo, "git", "fetch")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "nixdots-hook: origin/main: 2 new commit(s)")
	require.Contains(t, r.Stderr, "remote change 2 (beta,")
	require.Contains(t, r.Stderr, "remote change 1 (beta,")
}

// The hook never recurses: not inside its own action (NIXDOTS_HOOK_ACTIVE),
// and not when one of the suite's binaries is the one fetching.
func TestNoActionInsideSuiteRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.install("--action", f.recorder(""), "--async", "false")

	f.push()
	f.h.Setenv("NIXDOTS_HOOK_ACTIVE", "1")
	f.h.Run(f.repo, "git", "fetch", "-q")
	require.Equal(t, 0, f.runs(), f.recorded())
	f.h.Setenv("NIXDOTS_HOOK_ACTIVE", "")

	// A process called chezmoi-sync (as the real one is) fetches: the hook
	// recognises its ancestor and stays out of the way.
	bin := filepath.Join(f.h.Root, "suitebin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for _, name := range []string{"chezmoi-sync", "rebuild-smart"} {
		script := "#!/bin/sh\ncd \"$1\" && git fetch -q\n"
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
		f.push()
		r := f.h.Exec(f.repo, filepath.Join(bin, name), f.repo)
		require.Equal(t, 0, r.Code, r.String())
		require.Equal(t, 0, f.runs(), "%s fetched and the action ran:\n%s", name, f.recorded())
	}

	// The same fetch from anything else runs it (so the checks above can fail).
	f.push()
	other := filepath.Join(bin, "someone-else")
	require.NoError(t, os.WriteFile(other, []byte("#!/bin/sh\ncd \"$1\" && git fetch -q\n"), 0o755))
	f.h.Run(f.repo, other, f.repo)
	require.Equal(t, 1, f.runs(), f.recorded())
}

// post-merge runs the action for plain-git pulls when it is the only hook;
// with both hooks installed a pull still runs it exactly once.
func TestPullRunsActionOnce(t *testing.T) {
	t.Parallel()
	for _, hooks := range []string{"post-merge", "reference-transaction post-merge"} {
		t.Run(strings.ReplaceAll(hooks, " ", "+"), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.install("--hooks", hooks, "--action", f.recorder(""), "--async", "false")
			f.push()
			f.h.Run(f.repo, "git", "pull", "-q", "--no-rebase")
			require.Equal(t, 1, f.runs(), f.recorded())
			f.h.Run(f.repo, "git", "pull", "-q", "--no-rebase")
			require.Equal(t, 1, f.runs(), "a pull that brings nothing:\n%s", f.recorded())
			// A local merge is not a pull.
			f.h.Run(f.repo, "git", "checkout", "-q", "-b", "side")
			require.NoError(t, os.WriteFile(filepath.Join(f.repo, "side"), []byte("s\n"), 0o644))
			f.h.Run(f.repo, "git", "add", "-A")
			f.h.Run(f.repo, "git", "commit", "-q", "-m", "side")
			f.h.Run(f.repo, "git", "checkout", "-q", "main")
			f.h.Run(f.repo, "git", "merge", "-q", "--no-edit", "side")
			require.Equal(t, 1, f.runs(), "a local merge ran the action:\n%s", f.recorded())
		})
	}
}

const origRefTx = `#!/bin/sh
# someone else's hook
{ echo "orig $1"; cat; } >> "$ORIG_LOG"
[ "$1" != prepared ] || [ ! -e "$VETO" ]
`

const origPostMerge = "#!/bin/bash\necho post-merge-original \"$@\" >> \"$ORIG_LOG\"\n"

// The installer chains an existing hook (both run, the original first, with
// the same arguments and stdin, its veto honoured), is idempotent, and
// uninstall restores the original byte for byte, mode included.
func TestInstallerChainsAndUninstallRestores(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	origLog := filepath.Join(f.h.Root, "orig.log")
	veto := filepath.Join(f.h.Root, "veto")
	f.h.Setenv("ORIG_LOG", origLog)
	f.h.Setenv("VETO", veto)
	require.NoError(t, os.MkdirAll(filepath.Dir(f.hookPath("x")), 0o755))
	require.NoError(t, os.WriteFile(f.hookPath("reference-transaction"), []byte(origRefTx), 0o750))
	require.NoError(t, os.WriteFile(f.hookPath("post-merge"), []byte(origPostMerge), 0o700))

	out := f.install("--action", f.recorder(""), "--async", "false")
	require.Contains(t, out, "reference-transaction: installed; the existing hook runs first")
	installed, err := os.ReadFile(f.hookPath("reference-transaction"))
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(hooksDir(), "nixdots-hook"))
	require.NoError(t, err)
	require.Equal(t, string(src), string(installed))

	out = f.install()
	require.Contains(t, out, "reference-transaction: up to date")
	require.Contains(t, out, "post-merge: up to date")

	head := f.push()
	f.h.Run(f.repo, "git", "fetch", "-q")
	require.Equal(t, 1, f.runs(), f.recorded())
	orig, _ := os.ReadFile(origLog)
	require.Contains(t, string(orig), "orig prepared\n")
	require.Contains(t, string(orig), "orig committed\n")
	require.Contains(t, string(orig), head+" refs/remotes/origin/main\n", "the chained hook must get stdin")

	// The chained hook's veto in "prepared" still aborts the transaction.
	require.NoError(t, os.WriteFile(veto, nil, 0o644))
	f.push()
	r := f.h.Exec(f.repo, "git", "fetch", "-q")
	require.NotEqual(t, 0, r.Code, "the original hook vetoed; the fetch must fail:\n%s", r)
	require.Equal(t, 1, f.runs(), f.recorded())
	require.NoError(t, os.Remove(veto))

	out = f.h.Run(f.repo, filepath.Join(hooksDir(), "install"), "--uninstall")
	require.Contains(t, out, "reference-transaction: removed; previous hook restored")
	for name, want := range map[string]struct {
		body string
		mode os.FileMode
	}{"reference-transaction": {origRefTx, 0o750}, "post-merge": {origPostMerge, 0o700}} {
		got, err := os.ReadFile(f.hookPath(name))
		require.NoError(t, err)
		require.Equal(t, want.body, string(got), name)
		st, err := os.Stat(f.hookPath(name))
		require.NoError(t, err)
		require.Equal(t, want.mode, st.Mode().Perm(), name)
		_, err = os.Stat(f.hookPath(name + ".nixdots-chained"))
		require.True(t, os.IsNotExist(err), name)
	}
	r = f.h.Exec(f.repo, "git", "config", "--get", "nixdots.hook.action")
	require.Equal(t, 1, r.Code, "uninstall must remove the settings: %s", r)

	// Uninstalling again, or where nothing was installed, changes nothing.
	out = f.h.Run(f.repo, filepath.Join(hooksDir(), "install"), "--uninstall")
	require.Contains(t, out, "reference-transaction: not a nixdots hook; left alone")
	got, _ := os.ReadFile(f.hookPath("reference-transaction"))
	require.Equal(t, origRefTx, string(got))
}

func TestInstallerBadInput(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "git")
	h := testharness.NewHost(t, "alpha")
	inst := filepath.Join(hooksDir(), "install")
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"not a repo":   {[]string{"--repo", h.Root}, 2, "is not a git repository"},
		"missing dir":  {[]string{"--repo", filepath.Join(h.Root, "nope")}, 2, "no such directory"},
		"unknown flag": {[]string{"--bogus"}, 2, "unknown argument '--bogus'"},
		"unknown hook": {[]string{"--hooks", "pre-commit"}, 2, "unknown hook 'pre-commit'"},
		"bad async":    {[]string{"--async", "maybe"}, 2, "--async takes true or false"},
		"no value":     {[]string{"--action"}, 2, "--action needs a value"},
	} {
		r := h.Exec(h.Root, inst, tc.args...)
		require.Equal(t, tc.code, r.Code, "%s: %s", name, r)
		require.Contains(t, r.Stderr, tc.want, name)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, "%s: one line: %q", name, r.Stderr)
	}
	r := h.Exec(h.Root, inst, "--help")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "--uninstall")
}

// The real chezmoi-sync fetches (through jj) in a source directory with the
// hooks installed: the hook stays out of its way; the same fetch by hand runs
// the action.
func TestRealChezmoiSyncDoesNotTriggerHook(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := testharness.NewHost(t, "alpha").WithBinaries()
	a.CloneDotfiles(remote)
	f := &fixture{t: t, remote: remote, h: a, repo: a.SourceDir(), record: filepath.Join(a.Root, "actions.log")}
	f.pusher = testharness.NewHost(t, "beta")
	f.pushDir = filepath.Join(f.pusher.Root, "repo")
	f.pusher.Run("", "git", "clone", "-q", remote, f.pushDir)

	// First sync: makes the source directory a colocated jj repository.
	r := a.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	f.install("--action", f.recorder(""), "--async", "false")

	f.push()
	r = a.Exec("", "chezmoi-sync")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "x\n", a.ReadSource("file1"), "the sync did fetch and apply the change")
	require.Equal(t, 0, f.runs(), "chezmoi-sync's own fetch ran the hook action:\n%s", f.recorded())

	f.push()
	a.Run(a.SourceDir(), "jj", "git", "fetch")
	require.Equal(t, 1, f.runs(), f.recorded())
}

// An action runs like a command typed in the fetched repository's top
// directory: git's repository-local environment (GIT_DIR, GIT_WORK_TREE,
// GIT_INDEX_FILE, ... as `git rev-parse --local-env-vars` lists them) is
// cleared, so `git -C <another repository>` acts on that repository, and
// plain git finds the fetched one from the working directory. jj runs its
// git fetch with GIT_DIR set (issue 19); plain git exports it to hooks too.
func TestActionRunsInTheRightRepository(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"git", "jj"} {
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			testharness.Require(t, "git", tool)
			f := newFixture(t)
			if tool == "jj" {
				f.h.Run(f.repo, "jj", "git", "init", "--colocate")
				f.h.Run(f.repo, "jj", "bookmark", "track", "main@origin")
			}
			other := filepath.Join(f.h.Root, "other")
			f.h.Run("", "git", "init", "-q", other)
			f.h.Run(other, "git", "commit", "-q", "--allow-empty", "-m", "other's own")
			out := filepath.Join(f.h.Root, "action")
			action := fmt.Sprintf(`git -C %q commit -q --allow-empty -m from-the-hook && pwd > %q.pwd && env > %q.env && git log -1 --format=%%s > %q.head`, other, out, out, out)
			f.install("--action", action, "--async", "false")
			f.push()
			sub := filepath.Join(f.repo, "sub dir")
			require.NoError(t, os.MkdirAll(sub, 0o755))
			beforeHead := f.h.Run(f.repo, "git", "rev-parse", "HEAD")

			var r testharness.Result
			if tool == "jj" {
				r = f.h.Exec(sub, "jj", "git", "fetch")
			} else {
				r = f.h.Exec(sub, "git", "fetch", "-q")
			}
			require.Equal(t, 0, r.Code, r.String())
			require.NotContains(t, f.h.Run(f.repo, "git", "log", "--all", "--format=%s"), "from-the-hook", "the action acted on the fetched repository:\n%s", r)
			require.Equal(t, "from-the-hook", f.h.Run(other, "git", "log", "-1", "--format=%s"), "the action acted on the other repository")
			require.Equal(t, beforeHead, f.h.Run(f.repo, "git", "rev-parse", "HEAD"))
			require.NotContains(t, r.Stderr, "ailed", r.String())
			pwd, err := os.ReadFile(out + ".pwd")
			require.NoError(t, err)
			require.Equal(t, f.repo, strings.TrimSpace(string(pwd)), "the action runs in the repository's top directory")
			env, err := os.ReadFile(out + ".env")
			require.NoError(t, err)
			for _, v := range strings.Fields(f.h.Run("", "git", "rev-parse", "--local-env-vars")) {
				require.NotContains(t, "\n"+string(env), "\n"+v+"=", "%s reached the action", v)
			}
			require.Contains(t, string(env), "NIXDOTS_HOOK_REPO="+f.repo+"\n")
			// Plain git in the action finds the fetched repository from its
			// working directory.
			msg, err := os.ReadFile(out + ".head")
			require.NoError(t, err)
			require.Equal(t, f.h.Run(f.repo, "git", "log", "-1", "--format=%s"), strings.TrimSpace(string(msg)))
		})
	}
}
