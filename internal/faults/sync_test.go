package faults

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// world: a remote, host alpha (synced once: jj initialised) with wrappers
// for jj and chezmoi on PATH, and beta, another host.
type world struct {
	remote      string
	alpha, beta *testharness.Host
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testharness.RequireSync(t)
	w := &world{remote: testharness.NewRemote(t, testharness.DefaultDotfiles())}
	w.alpha = testharness.NewHost(t, "alpha").WithBinaries()
	w.alpha.CloneDotfiles(w.remote)
	installWrappers(t, w.alpha, "jj", "chezmoi", "git")
	if r := w.alpha.Exec("", "chezmoi-sync"); r.Code != 0 {
		t.Fatalf("first sync: %s", r)
	}
	w.beta = testharness.NewHost(t, "beta").WithBinaries()
	w.beta.CloneDotfiles(w.remote)
	return w
}

const (
	localEdit    = "export LOCAL_EDIT=kept\n" // alpha's edit that must never be lost
	incomingEdit = "[alias]\n\tst = status\n" // beta's edit that must arrive
)

// incoming makes beta publish an edit of .gitconfig, so alpha's next sync
// has something to fetch, rebase onto and apply.
func (w *world) incoming(t *testing.T) {
	t.Helper()
	w.beta.WriteHome(".gitconfig", w.beta.ReadHome(".gitconfig")+incomingEdit)
	if r := w.beta.Exec("", "chezmoi-sync"); r.Code != 0 {
		t.Fatalf("beta: %s", r)
	}
}

// recovered runs a normal sync after the fault and checks the promises:
// it is not blocked by a stale lock, it succeeds, the state is readable,
// alpha's edit is in the remote, beta's (when made) in alpha's home, the
// repository is healthy for jj and HOME matches the source state.
func (w *world) recovered(t *testing.T, withIncoming bool) {
	t.Helper()
	h := w.alpha
	if busy, holder, err := state.Busy(h.StateDir(), state.SyncLock); err != nil || busy {
		t.Fatalf("the lock is still held after the kill: %v %+v", err, holder)
	}
	start := time.Now()
	r := h.Exec("", "chezmoi-sync")
	if r.Code == exitcode.Locked {
		t.Fatalf("a stale lock blocks the next run:\n%s", r)
	}
	if r.Code != 0 {
		t.Fatalf("the run after the fault failed (exit %d):\n%s\n%s", r.Code, r, diag(h))
	}
	t.Logf("recovery run: %s, %s", time.Since(start).Round(time.Millisecond), lastLine(r.Stdout))
	rec, err := syncstate.Load(h.StateDir())
	if err != nil || rec.Status != syncstate.Success {
		t.Fatalf("state after recovery: %+v %v", rec, err)
	}
	if got := testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"); !strings.Contains(got, localEdit) {
		t.Fatalf("alpha's edit is not in the remote:\n%s\n%s", got, diag(h))
	}
	if withIncoming && !strings.Contains(h.ReadHome(".gitconfig"), incomingEdit) {
		t.Fatalf("beta's edit did not reach alpha's home:\n%s", h.ReadHome(".gitconfig"))
	}
	// Nothing alpha published took beta's edit back (a revert snapshotted
	// from stale files would be committed and pushed like an edit).
	if withIncoming && !strings.Contains(testharness.RemoteFile(t, w.remote, "main", "dot_gitconfig"), incomingEdit) {
		t.Fatalf("beta's edit is no longer in the remote's main after alpha's recovery:\n%s", diag(h))
	}
	src := h.SourceDir()
	for _, c := range [][]string{{"status"}, {"op", "log", "-n", "3"}, {"log", "-r", "::@", "-n", "5"}} {
		if res := h.Exec(src, "jj", c...); res.Code != 0 {
			t.Fatalf("jj %v fails after the fault: %s", c, res)
		}
	}
	if out := h.Run(src, "jj", "log", "--no-graph", "-r", "conflicts()", "-T", `commit_id ++ "\n"`); out != "" {
		t.Fatalf("conflicted commits after recovery: %s", out)
	}
	if out := h.Run(src, "jj", "bookmark", "list", "--all-remotes"); strings.Contains(out, "conflict") || strings.Contains(out, "??") {
		t.Fatalf("conflicted bookmarks after recovery:\n%s", out)
	}
	if res := h.Exec("", "chezmoi", "verify"); res.Code != 0 {
		t.Fatalf("HOME does not match the source state after recovery:\n%s", h.Exec("", "chezmoi", "status").Stdout)
	}
	if tmps, _ := filepath.Glob(filepath.Join(h.StateDir(), ".*.tmp-*")); len(tmps) > 0 {
		t.Logf("note: temporary files left in the state directory by the killed run: %v", tmps)
	}
}

func diag(h *testharness.Host) string {
	r := h.Exec(h.SourceDir(), "jj", "--ignore-working-copy", "log", "-r", "all()", "-n", "12")
	return "jj log:\n" + r.Stdout + r.Stderr
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestKillNine: SIGKILL at each point of a sync, then a normal run. Every
// point is reached the same way on every run, so a broken recovery fails
// every time, not now and then: before or after a tool's call (the
// wrapper holds there), after the git that jj starts for a fetch or a push
// (jj has not yet recorded what git did), or inside a call, at a system
// call strace holds: inside `jj rebase` after git HEAD moved but before jj
// recorded the operation (the next jj command would import the moved HEAD
// and snapshot a revert of the incoming commits), after it recorded the
// operation but before it rewrote the files (the working copy is stale),
// and inside `chezmoi apply` before it renames the incoming file into
// place. Each kill is checked to have left the state it names.
func TestKillNine(t *testing.T) {
	opHeadsLock := func(w *world) string {
		return filepath.Join(w.alpha.SourceDir(), ".jj", "repo", "op_heads", "heads", "lock")
	}
	points := []struct {
		name     string
		fault    func(w *world) fault
		incoming bool
		check    func(t *testing.T, w *world, before killState) // the kill left the state the point names
	}{
		{"after-re-add", func(*world) fault { return fault{Tool: "chezmoi", Match: " re-add ", When: "after"} }, false, nil},
		{"after-commit", func(*world) fault { return fault{Tool: "jj", Match: " commit ", When: "after"} }, false, nil},
		{"before-fetch", func(*world) fault { return fault{Tool: "jj", Match: " git fetch ", When: "before"} }, true, nil},
		// jj git fetch runs git fetch: git has updated the remote-tracking
		// ref, jj has not imported it.
		{"during-fetch", func(*world) fault { return fault{Tool: "git", Match: " fetch ", When: "after"} }, true,
			func(t *testing.T, w *world, b killState) {
				if got := w.gitRef(t, "refs/remotes/origin/main"); got == b.originMain {
					t.Fatalf("the kill was meant to land after git fetched (origin/main still %s)", got)
				}
			}},
		// Was docs/proof.md bug 2: the next run published a revert of
		// the incoming commits. Held: jj's lock of its operation heads,
		// taken after git HEAD moved, before the operation is recorded.
		{"during-rebase-head-moved", func(w *world) fault {
			return fault{Tool: "jj", Match: " rebase ", When: "hold", Syscalls: "openat", Path: opHeadsLock(w)}
		}, true, func(t *testing.T, w *world, b killState) {
			if w.gitRef(t, "HEAD") == b.head {
				t.Fatal("the kill was meant to land after jj moved git HEAD")
			}
			if w.headOpIsRebase(t) {
				t.Fatal("the kill was meant to land before jj recorded the rebase")
			}
		}},
		// Held: the removal of that lock, after the operation is recorded,
		// before the files of the working copy are rewritten.
		{"during-rebase-op-recorded", func(w *world) fault {
			return fault{Tool: "jj", Match: " rebase ", When: "hold", Syscalls: "unlink", Path: opHeadsLock(w)}
		}, true, func(t *testing.T, w *world, _ killState) {
			if !w.headOpIsRebase(t) {
				t.Fatal("the kill was meant to land after jj recorded the rebase")
			}
			if strings.Contains(w.alpha.ReadSource("dot_gitconfig"), incomingEdit) {
				t.Fatal("the kill was meant to land before jj rewrote the working copy's files")
			}
		}},
		{"after-rebase", func(*world) fault { return fault{Tool: "jj", Match: " rebase ", When: "after"} }, true, nil},
		// jj git push runs git push: the remote has the commit, jj has
		// not recorded it.
		{"during-push", func(*world) fault { return fault{Tool: "git", Match: " push ", When: "after"} }, false,
			func(t *testing.T, w *world, _ killState) {
				if !strings.Contains(testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"), localEdit) {
					t.Fatal("the kill was meant to land after git pushed")
				}
			}},
		{"after-push", func(*world) fault { return fault{Tool: "jj", Match: " git push ", When: "after"} }, true, nil},
		{"during-apply", func(w *world) fault {
			return fault{Tool: "chezmoi", Match: " apply ", When: "hold", Syscalls: "rename,renameat,renameat2", Path: filepath.Join(w.alpha.Home, ".gitconfig")}
		}, true, func(t *testing.T, w *world, _ killState) {
			if strings.Contains(w.alpha.ReadHome(".gitconfig"), incomingEdit) {
				t.Fatal("the kill was meant to land before apply wrote the incoming file")
			}
		}},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if p.incoming {
				w.incoming(t)
			}
			w.alpha.WriteHome(".bashrc", w.alpha.ReadHome(".bashrc")+localEdit)
			before := w.state(t)
			a := startFaulty(t, w.alpha, p.fault(w), "chezmoi-sync")
			pid := a.waitReached(t)
			a.kill9(t, pid)
			if p.check != nil {
				p.check(t, w, before)
			}
			w.recovered(t, p.incoming)
		})
	}
}

// killState is what the kill checks compare with: alpha's repository
// before the run.
type killState struct{ head, originMain string }

func (w *world) state(t *testing.T) killState {
	return killState{head: w.gitRef(t, "HEAD"), originMain: w.gitRef(t, "refs/remotes/origin/main")}
}

func (w *world) gitRef(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(w.alpha.Run(w.alpha.SourceDir(), "git", "rev-parse", "--verify", "-q", ref))
}

// headOpIsRebase reports whether jj's recorded operation head is a rebase,
// read from jj's files (any jj command could import git's refs first and
// change what the recovery finds): the head is a file named by the
// operation's id, the operation a protobuf whose description ("rebase
// commit ...") is plain text.
func (w *world) headOpIsRebase(t *testing.T) bool {
	t.Helper()
	repo := filepath.Join(w.alpha.SourceDir(), ".jj", "repo")
	entries, err := os.ReadDir(filepath.Join(repo, "op_heads", "heads"))
	must(t, err)
	for _, e := range entries {
		if e.Name() == "lock" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repo, "op_store", "operations", e.Name()))
		must(t, err)
		if strings.Contains(string(data), "rebase commit") {
			return true
		}
	}
	return false
}

// TestKillDuringStateWrite stops chezmoi-sync inside the write of its
// record: the temporary file is written and the rename that publishes it
// is held back (strace delays that one system call), then SIGKILL. The
// previous record must still be readable, and the next run must succeed.
// strace is required (under CI a missing strace fails the test).
func TestKillDuringStateWrite(t *testing.T) {
	w := newWorld(t)
	h := w.alpha
	prev, err := syncstate.Load(h.StateDir())
	must(t, err)
	h.WriteHome(".bashrc", h.ReadHome(".bashrc")+localEdit)
	// strace holds the rename that publishes the record, for a precise kill
	// (installed by scripts/install-tools.sh; required under CI).
	testharness.Require(t, "strace")
	strace, err := testharness.Look("strace")
	must(t, err)
	// -P limits the delay to renames in the state directory: state files
	// are renamed relative to the directory's handle (renameat), which
	// strace matches by the directory, not by the file's path. The run
	// marker's renames are held too, 10 s each, before the record's.
	a := startFaulty(t, h, fault{}, strace, "-f", "-qq", "-o", "/dev/null",
		"-e", "trace=rename,renameat,renameat2", "-e", "inject=rename,renameat,renameat2:delay_enter=10000000",
		"-P", h.StateDir(), "chezmoi-sync")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tmps, _ := filepath.Glob(filepath.Join(h.StateDir(), "."+syncstate.RecordFile+".tmp-*"))
		if len(tmps) > 0 {
			if st, err := os.Stat(tmps[0]); err == nil && st.Size() > 0 {
				break
			}
		}
		select {
		case err := <-a.done:
			t.Fatalf("the run ended (%v) before its state write was held:\n%s", err, a.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state write seen:\n%s", a.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the rename is now being delayed
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	<-a.done
	got, err := syncstate.Load(h.StateDir())
	if err != nil {
		t.Fatalf("the record is unreadable after a kill inside its write: %v", err)
	}
	if !got.Start.Equal(prev.Start) {
		t.Fatalf("the record changed although its rename never happened: %+v", got)
	}
	// The sync's work (commit and push) was done before the state write.
	if r := testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"); !strings.Contains(r, localEdit) {
		t.Fatalf("the edit was not pushed before the state write:\n%s", r)
	}
	w.recovered(t, false)
}

// TestRemoteDisappearsMidRun: the remote vanishes after the fetch (moved
// away while the sync runs). The push fails: state push-failed, exit 0
// (4 with --exit-code), the commit kept locally; with the remote back the
// next run pushes it.
func TestRemoteDisappearsMidRun(t *testing.T) {
	for _, exitCodeFlag := range []bool{false, true} {
		name := "default"
		if exitCodeFlag {
			name = "exit-code"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.incoming(t)
			h := w.alpha
			h.WriteHome(".bashrc", h.ReadHome(".bashrc")+localEdit)
			var args []string
			want := 0
			if exitCodeFlag {
				args, want = []string{"--exit-code"}, exitcode.Offline
			}
			a := startFaulty(t, h, fault{Tool: "jj", Match: " git fetch ", When: "after"}, "chezmoi-sync", args...)
			a.waitReached(t)
			gone := w.remote + ".gone"
			must(t, os.Rename(w.remote, gone))
			code := a.proceed(t)
			if code != want {
				t.Fatalf("exit %d, want %d:\n%s", code, want, a.out)
			}
			rec, err := syncstate.Load(h.StateDir())
			if err != nil || rec.Status != syncstate.PushFailed || rec.PendingPush == 0 {
				t.Fatalf("state: %+v %v\n%s", rec, err, a.out)
			}
			if !strings.Contains(h.ReadSource("dot_bashrc"), localEdit) {
				t.Fatal("the edit is not in the source directory any more")
			}
			pending := h.Run(h.SourceDir(), "jj", "--ignore-working-copy", "log", "--no-graph", "-r", "main@origin..@ ~ empty()", "-T", `description.first_line() ++ "\n"`)
			if !strings.Contains(pending, "sync dotfiles") {
				t.Fatalf("no local commit waiting to be pushed: %q", pending)
			}
			must(t, os.Rename(gone, w.remote))
			w.recovered(t, true)
		})
	}
}
