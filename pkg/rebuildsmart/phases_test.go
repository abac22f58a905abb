package rebuildsmart_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/state"
)

// Each --skip-* flag skips its phase, says so, and the rebuild still runs.
func TestSkipFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.fakeChezmoiSync("success", 0)
	e.upstreamCommit("hosts/beta.conf", "v2\n")
	originBefore := e.git("rev-parse", "origin/main")
	res, rep := e.rsJSON("--skip-upstream", "--skip-dotfiles")
	if res.Code != 0 {
		t.Fatal(res)
	}
	if e.git("rev-parse", "origin/main") != originBefore {
		t.Fatal("--skip-upstream fetched")
	}
	if e.chezmoiSyncCalls() != "" {
		t.Fatal("--skip-dotfiles ran chezmoi-sync")
	}
	for name, why := range map[string]string{"Upstream sync": "--skip-upstream", "Dotfiles sync": "--skip-dotfiles"} {
		if p := phase(rep, name); p["status"] != "skipped" || p["detail"] != why {
			t.Errorf("%s: %v", name, p)
		}
	}
	if len(e.generations()) != 1 {
		t.Fatal("no build")
	}
	// syncDotfiles=false from the config file, the same as --skip-dotfiles.
	cfg := filepath.Join(e.h.Root, "config.json")
	write(t, cfg, `{"rebuildSmart": {"syncDotfiles": false, "autoPush": false}}`)
	res, rep = e.rsJSON("--config", cfg)
	if res.Code != 0 || phase(rep, "Dotfiles sync")["detail"] != "syncDotfiles is off" || e.chezmoiSyncCalls() != "" {
		t.Fatalf("config syncDotfiles=false:\n%s", res)
	}
	// The env beats the config file.
	e.h.Setenv("REBUILD_SMART_SYNC_DOTFILES", "true")
	res, _ = e.rsJSON("--config", cfg, "--skip-upstream")
	if res.Code != 0 || !strings.Contains(e.chezmoiSyncCalls(), "--json") {
		t.Fatalf("REBUILD_SMART_SYNC_DOTFILES=true did not win over the config:\n%s", res)
	}
}

// Offline (flag, or the remote unreachable): network phases skipped and
// said so, the build and the commit happen, the push waits for the next
// online run, which does it.
func TestOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.fakeChezmoiSync("success", 0)
	write(t, filepath.Join(e.repo, "hosts", "extra.nix"), "{ }\n")
	res, rep := e.rsJSON("--offline")
	if res.Code != 0 {
		t.Fatal(res)
	}
	for _, name := range []string{"Upstream sync", "Dotfiles sync", "Secrets input"} {
		if p := phase(rep, name); p["status"] != "skipped" {
			t.Errorf("%s ran offline: %v", name, p)
		}
	}
	if !strings.Contains(phase(rep, "Commit & push")["detail"].(string), "offline: push next time") {
		t.Fatalf("commit phase: %v", phase(rep, "Commit & push"))
	}
	local := e.git("rev-parse", "HEAD")
	if remote := e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main"); remote == local {
		t.Fatal("pushed while offline")
	}
	// Remote unreachable: detected without --offline.
	moved := e.remote + ".away"
	must(t, os.Rename(e.remote, moved))
	res, rep = e.rsJSON("--force-switch")
	if res.Code != 0 || rep["online"] != false || !strings.Contains(rep["offline_reason"].(string), "not reachable") {
		t.Fatalf("unreachable remote not detected:\n%s", res)
	}
	must(t, os.Rename(moved, e.remote))
	// Back online: the pending commit is pushed.
	res = e.rs("--skip-dotfiles")
	if res.Code != 0 {
		t.Fatal(res)
	}
	if remote := e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main"); remote != local {
		t.Fatalf("pending commit not pushed on the next online run:\n%s", res)
	}
}

// A plain-git upstream conflict: the rebase is aborted, the local commit
// and the uncommitted edit are kept, the build goes on with a warning.
func TestUpstreamConflictGit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.upstreamCommit("hosts/alpha.conf", "upstream\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "local\n")
	e.h.Run(e.repo, "git", "commit", "--quiet", "-am", "local change")
	write(t, filepath.Join(e.repo, "hosts", "beta.conf"), "uncommitted\n")
	head := e.git("rev-parse", "HEAD")
	res, rep := e.rsJSON("--skip-dotfiles", "--no-auto-push", "--no-auto-commit")
	if res.Code != 0 {
		t.Fatal(res)
	}
	if p := phase(rep, "Upstream sync"); p["status"] != "warn" || !strings.Contains(p["detail"].(string), "conflicted; kept the local state") {
		t.Fatalf("upstream phase %v", p)
	}
	if e.git("rev-parse", "HEAD") != head || read(t, filepath.Join(e.repo, "hosts", "alpha.conf")) != "local\n" ||
		read(t, filepath.Join(e.repo, "hosts", "beta.conf")) != "uncommitted\n" {
		t.Fatalf("local state not kept: %s", e.git("status"))
	}
	if _, err := os.Stat(filepath.Join(e.repo, ".git", "rebase-merge")); err == nil {
		t.Fatal("rebase left in progress")
	}
	if cfg := strings.TrimSpace(read(t, filepath.Join(e.current(), "config"))); cfg != "local" {
		t.Fatalf("built %q, want the local state", cfg)
	}
}

// A jj colocated repository: the happy path rebases @ onto the incoming
// commit; a conflicting one keeps the local state without conflicts.
func TestJJ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{jj: true})
	jj := func(args ...string) string {
		return e.h.Run(e.repo, "jj", append([]string{"--no-pager"}, args...)...)
	}
	e.upstreamCommit("hosts/beta.conf", "v2\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "jj local\n")
	// A dry run does not even snapshot the working copy.
	before := treeHash(t, e.repo)
	if res := e.rs("--skip-dotfiles", "--dry-run"); res.Code != 0 || !strings.Contains(res.Stdout, "would run: (cd "+e.repo+" && jj") {
		t.Fatalf("jj dry run:\n%s", res)
	}
	if treeHash(t, e.repo) != before {
		t.Fatal("--dry-run changed the jj repository")
	}
	res := e.rs("--skip-dotfiles", "--no-auto-push")
	if res.Code != 0 || !strings.Contains(res.Stdout, "rebased onto main@origin") {
		t.Fatalf("jj happy path:\n%s", res)
	}
	if read(t, filepath.Join(e.repo, "hosts", "beta.conf")) != "v2\n" || read(t, filepath.Join(e.repo, "hosts", "alpha.conf")) != "jj local\n" {
		t.Fatal("jj rebase lost or missed a change")
	}
	if cfg := strings.TrimSpace(read(t, filepath.Join(e.current(), "config"))); cfg != "jj local" {
		t.Fatalf("built %q", cfg)
	}
	// Conflict: upstream edits the same line.
	e.upstreamCommit("hosts/alpha.conf", "upstream\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "jj local 2\n")
	res = e.rs("--skip-dotfiles", "--no-auto-push")
	if res.Code != 0 || !strings.Contains(res.Stdout, "conflicted; kept the local state") {
		t.Fatalf("jj conflict:\n%s", res)
	}
	if got := read(t, filepath.Join(e.repo, "hosts", "alpha.conf")); got != "jj local 2\n" {
		t.Fatalf("local state lost: %q", got)
	}
	if c := jj("log", "--no-graph", "-r", "conflicts()", "-T", "change_id"); c != "" {
		t.Fatalf("conflicted commits left: %s", c)
	}
}

// chezmoi-sync failing is a warning: the rebuild goes on, the record's
// status and next step are shown.
func TestDotfilesFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.fakeChezmoiSync("fetch-failed", 6)
	res, rep := e.rsJSON()
	if res.Code != 0 {
		t.Fatal(res)
	}
	p := phase(rep, "Dotfiles sync")
	if p["status"] != "warn" || !strings.Contains(p["detail"].(string), "fetch-failed") || !strings.Contains(p["detail"].(string), "check the network") {
		t.Fatalf("dotfiles phase %v", p)
	}
	if d := rep["dotfiles"].(map[string]any); d["status"] != "fetch-failed" {
		t.Fatalf("record %v", d)
	}
	if len(e.generations()) != 1 {
		t.Fatal("the rebuild did not go on")
	}
	// chezmoi-sync exits 0 on an unreachable remote (without --exit-code):
	// the record's status word still makes it a warning.
	e.fakeChezmoiSync("push-failed", 0)
	res, rep = e.rsJSON()
	if res.Code != 0 || phase(rep, "Dotfiles sync")["status"] != "warn" {
		t.Fatalf("status word ignored:\n%s", res)
	}
}

// --dry-run prints the real plan and changes nothing: the repository
// (.git included), the state directory and the fake system hash the same.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"oldlib": oldDate}})
	e.fakeChezmoiSync("success", 0)
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	e.input("oldlib", nowDate)
	e.upstreamCommit("hosts/beta.conf", "v2\n")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	write(t, filepath.Join(e.repo, "hosts", "new.nix"), "{ }\n")
	hashes := func() [3]string {
		return [3]string{treeHash(t, e.repo), treeHash(t, e.h.StateDir()), treeHash(t, e.root)}
	}
	before := hashes()
	res := e.rs("--dry-run", "--stale", "7d")
	if res.Code != 0 {
		t.Fatal(res)
	}
	after := hashes()
	for i, what := range []string{"repository", "state directory", "system root"} {
		if before[i] != after[i] {
			t.Errorf("--dry-run changed the %s", what)
		}
	}
	for _, want := range []string{
		"git fetch --quiet origin",
		"stale: oldlib",
		"would update oldlib",
		"whether anything changes depends on the planned flake.lock update",
		"would commit flake.lock, hosts/alpha.conf, hosts/new.nix",
		"dry run finished",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(res.Stdout, "nothing to switch") {
		t.Error("a dry run with a pending update said nothing to switch")
	}
	if !strings.Contains(e.chezmoiSyncCalls(), "--dry-run") {
		t.Errorf("chezmoi-sync not asked for a dry run: %q", e.chezmoiSyncCalls())
	}
	if t.Failed() {
		t.Log(res)
	}
}

// A dry run with nothing pending evaluates (only evaluates: nothing is built
// or written) and prints the exact activation; the repository, the state
// and the system stay as they were.
func TestDryRunPlansActivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.built("")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	before := [3]string{treeHash(t, e.repo), treeHash(t, e.h.StateDir()), treeHash(t, e.root)}
	res := e.rs("--skip-dotfiles", "--dry-run")
	if res.Code != 0 || !strings.Contains(res.Stdout, "would run: nix-env --profile "+e.sys().ProfilePath()+" --set /nix/store/") ||
		!strings.Contains(res.Stdout, "-nixos-system-alpha/bin/switch-to-configuration switch") {
		t.Fatalf("plan:\n%s", res)
	}
	if after := [3]string{treeHash(t, e.repo), treeHash(t, e.h.StateDir()), treeHash(t, e.root)}; after != before {
		t.Fatal("--dry-run changed the repository, the state or the system")
	}
}

// The case: an input moved upstream. The dry run with --update must
// not say "nothing to switch" (it cannot know the lock the update makes);
// the real --update run then switches.
func TestDryRunUpdateTellsTheTruth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{inputs: map[string]string{"oldlib": oldDate}})
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	e.input("oldlib", nowDate)
	res := e.rs("--skip-dotfiles", "--update", "--dry-run")
	if res.Code != 0 || strings.Contains(res.Stdout, "nothing to switch") || !strings.Contains(res.Stdout, "depends on the planned flake.lock update") {
		t.Fatalf("dry run after an input moved:\n%s", res)
	}
	res, rep := e.rsJSON("--skip-dotfiles", "--update")
	if res.Code != 0 || rep["outcome"] != "success" || rep["generation"] != float64(2) {
		t.Fatalf("the real --update run did not switch:\n%s", res)
	}
}

// Another run holding the rebuild lock: exit 3 naming the holder.
func TestLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	lock, err := state.Acquire(context.Background(), e.h.StateDir(), state.RebuildLock, 0,
		state.Holder{PID: 4242, Host: "alpha", Command: "rebuild-rollback", Since: time.Now()})
	must(t, err)
	defer lock.Release()
	res := e.rs("--skip-dotfiles")
	if res.Code != 3 || !strings.Contains(res.Stderr, "rebuild-rollback") {
		t.Fatalf("want exit 3 naming the holder:\n%s", res)
	}
	if len(e.calls()) != 0 {
		t.Fatal("ran while locked")
	}
}

// The real chezmoi-sync as phase 3: a home-directory edit is captured,
// committed and pushed to the dotfiles remote while the system rebuilds.
func TestRealChezmoiSync(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	e := newEnv(t, opts{})
	dots := testharness.NewRemote(t, testharness.DefaultDotfiles())
	e.h.CloneDotfiles(dots)
	const target = "dot_bashrc"
	e.h.WriteHome(".bashrc", "edited on alpha during a rebuild\n")
	res, rep := e.rsJSON()
	if res.Code != 0 {
		t.Fatal(res)
	}
	if p := phase(rep, "Dotfiles sync"); p["status"] != "ok" {
		t.Fatalf("dotfiles phase %v\n%s", p, res.Stderr)
	}
	if d, _ := rep["dotfiles"].(map[string]any); d == nil || d["status"] != "success" || d["pushed"] != true {
		t.Fatalf("chezmoi-sync record %v", rep["dotfiles"])
	}
	if got := testharness.RemoteFile(t, dots, "main", target); got != "edited on alpha during a rebuild\n" {
		t.Fatalf("dotfiles remote has %q for %s", got, target)
	}
	if len(e.generations()) != 1 {
		t.Fatal("no build")
	}
	// The build's record holds the dotfiles commit chezmoi-sync left
	// (what rebuild-rollback --with-dotfiles will go back to); an offline
	// rebuild, whose dotfiles phase does not run, takes it from
	// chezmoi-sync's last record.
	d := rep["dotfiles"].(map[string]any)
	h := e.history()
	if after, _ := d["commit_after"].(string); after == "" || h[0].DotfilesCommit != after || h[0].DotfilesSource != d["source_dir"] {
		t.Fatalf("history dotfiles commit %q source %q, chezmoi-sync's record %v", h[0].DotfilesCommit, h[0].DotfilesSource, d)
	}
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v2\n")
	if res := e.rs("--offline"); res.Code != 0 {
		t.Fatal(res)
	}
	if h = e.history(); len(h) != 2 || h[1].DotfilesCommit != h[0].DotfilesCommit {
		t.Fatalf("offline build: dotfiles commit %+v", h)
	}
}

// jj: the updated flake.lock alone is committed (jj commit <file>) and
// pushed; the uncommitted edit stays in the working-copy commit, unpushed.
func TestJJCommitPush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{jj: true, inputs: map[string]string{"oldlib": oldDate}})
	e.input("oldlib", nowDate)
	write(t, filepath.Join(e.repo, "hosts", "beta.conf"), "work in progress\n")
	res := e.rs("--skip-dotfiles", "--update-input", "oldlib")
	if res.Code != 0 {
		t.Fatal(res)
	}
	// The commit holds what was built: the update and the edit in @.
	remoteFiles := e.h.Run("", "git", "--git-dir", e.remote, "show", "--name-only", "--format=%s", "main")
	if !strings.HasPrefix(remoteFiles, "chore(alpha): rebuild 1 - ") || !strings.HasSuffix(remoteFiles, "\nflake.lock\nhosts/beta.conf") {
		t.Fatalf("remote main: %q", remoteFiles)
	}
	if got := testharness.RemoteFile(t, e.remote, "main", "hosts/beta.conf"); got != "work in progress\n" {
		t.Fatalf("the built edit is not in the pushed commit: %q", got)
	}
	if read(t, filepath.Join(e.repo, "hosts", "beta.conf")) != "work in progress\n" {
		t.Fatal("work in progress lost")
	}
	if wc := e.h.Run(e.repo, "jj", "--no-pager", "diff", "--name-only", "-r", "@"); wc != "" {
		t.Fatalf("working-copy commit still holds %q", wc)
	}
}

// Config keys fill flags; env beats config; flags beat both.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	cfg := filepath.Join(e.h.Root, "config.json")
	write(t, cfg, `{"rebuildSmart": {"flake": "`+e.repo+`", "host": "beta", "offlineMode": true, "autoCommit": false, "staleAfter": "7d"}}`)
	e.h.Setenv("NIXDOTS_CONFIG", cfg)
	e.h.Setenv("REBUILD_SMART_HOST", "")
	res, rep := e.h.Exec(e.h.Home, "rebuild-smart", "--json"), map[string]any{}
	must(t, json.Unmarshal([]byte(res.Stdout), &rep))
	if res.Code != 0 || rep["host"] != "beta" || rep["online"] != false || rep["flake"] != e.repo {
		t.Fatalf("config not applied: host %v online %v flake %v\n%s", rep["host"], rep["online"], rep["flake"], res)
	}
	e.h.Setenv("REBUILD_SMART_HOST", "alpha")
	res = e.h.Exec(e.h.Home, "rebuild-smart", "--json")
	must(t, json.Unmarshal([]byte(res.Stdout), &rep))
	if rep["host"] != "alpha" {
		t.Fatalf("env did not beat config: %v", rep["host"])
	}
	res = e.h.Exec(e.h.Home, "rebuild-smart", "--json", "--host", "beta")
	must(t, json.Unmarshal([]byte(res.Stdout), &rep))
	if rep["host"] != "beta" {
		t.Fatalf("flag did not beat env: %v", rep["host"])
	}
	write(t, cfg, `{"rebuildSmart": {"staleAfter": "someday"}}`)
	if res := e.h.Exec(e.h.Home, "rebuild-smart"); res.Code != 2 {
		t.Fatalf("bad config value: %s", res)
	}
}

// TestDryRunPublishesNothing: a local commit not yet on the remote and an
// edit to commit; the dry run plans the push and must not make it (the
// remote would otherwise take the commit: nothing upstream is ahead).
func TestDryRunPublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	e.fakeChezmoiSync("success", 0)
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	write(t, filepath.Join(e.repo, "hosts", "beta.conf"), "local\n")
	e.h.Run(e.repo, "git", "add", ".")
	e.h.Run(e.repo, "git", "commit", "--quiet", "-m", "local: not pushed yet")
	write(t, filepath.Join(e.repo, "hosts", "alpha.conf"), "v3\n")
	remoteMain := func() string { return e.h.Run("", "git", "--git-dir", e.remote, "rev-parse", "main") }
	before := remoteMain()
	if res := e.rs("--dry-run", "--skip-dotfiles"); res.Code != 0 {
		t.Fatal(res)
	}
	if after := remoteMain(); after != before {
		t.Fatalf("--dry-run pushed: the remote's main moved from %s to %s", before, after)
	}
}
