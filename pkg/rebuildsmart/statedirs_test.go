package rebuildsmart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/state"
)

// --metrics-file at a FIFO, a link or a directory: the rebuild goes on
// (metrics never change the outcome), the warning names the path, and what
// is there stays as it is; a regular file is replaced.
func TestMetricsFileOnlyReplacesRegularFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	dir := filepath.Join(e.h.Root, "textfile")
	must(t, os.MkdirAll(filepath.Join(dir, "sub.prom"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.prom"), 0o644))
	victim := filepath.Join(e.h.Root, "victim")
	must(t, os.WriteFile(victim, []byte("keep\n"), 0o600))
	must(t, os.Symlink(victim, filepath.Join(dir, "link.prom")))
	for name, want := range map[string]string{"fifo.prom": "a named pipe", "link.prom": "a symbolic link", "sub.prom": "a directory"} {
		path := filepath.Join(dir, name)
		res := e.rs("--skip-dotfiles", "--metrics-file", path)
		if res.Code != 0 || !strings.Contains(res.Stderr, "metrics file not written: refusing the metrics file "+path+": it is "+want) {
			t.Fatalf("%s: want a warning naming it and exit 0:\n%s", name, res)
		}
	}
	if st, err := os.Lstat(filepath.Join(dir, "fifo.prom")); err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Fatalf("the FIFO was replaced: %v %v", st, err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Fatalf("written through the link: %q", data)
	}
	res := e.rs("--skip-dotfiles", "--metrics-file", filepath.Join(dir, "ok.prom"))
	if st, err := os.Lstat(filepath.Join(dir, "ok.prom")); res.Code != 0 || err != nil || !st.Mode().IsRegular() {
		t.Fatalf("a regular metrics file is written: %v %v\n%s", st, err, res)
	}
}

// --read-state-dir (and NIXDOTS_READ_STATE_DIRS): the other side's rebuild
// lock is respected, read-only; nothing is created there.
func TestReadStateDirLockIsRespected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	other := filepath.Join(e.h.Root, "other-state")
	must(t, os.Mkdir(other, 0o755))
	l, err := state.Acquire(context.Background(), other, state.RebuildLock, 0,
		state.Holder{PID: 4242, Host: "alpha", Command: "rebuild-smart --unattended", Since: time.Now()})
	must(t, err)
	res := e.rs("--skip-dotfiles", "--read-state-dir", other)
	if res.Code != 3 || !strings.Contains(res.Stderr, "the unattended (timer) rebuild is running") ||
		!strings.Contains(res.Stderr, filepath.Join(other, state.RebuildLock)) {
		t.Fatalf("want exit 3 naming the other side's lock:\n%s", res)
	}
	e.h.Setenv("NIXDOTS_READ_STATE_DIRS", other)
	if res := e.rs("--skip-dotfiles"); res.Code != 3 {
		t.Fatalf("NIXDOTS_READ_STATE_DIRS: want exit 3:\n%s", res)
	}
	if len(e.calls()) != 0 {
		t.Fatal("ran while the other side's lock was held")
	}
	must(t, l.Release())
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		t.Fatalf("the other side's lock released:\n%s", res)
	}
	if _, err := os.Stat(filepath.Join(other, "rebuild-history.jsonl")); err == nil {
		t.Fatal("wrote the history into the other side's directory")
	}
}

// What rebuild-smart will write (the history, the evaluation cache) is
// checked right after the lock is taken: a link or a FIFO there is refused
// with exit 10 and one line before anything is built or switched; the
// planted entry stays as it is.
func TestUnsafeStateRefusedBeforeTheSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	st := e.h.StateDir()
	must(t, os.MkdirAll(st, 0o700))
	victim := filepath.Join(e.h.Root, "victim")
	must(t, os.WriteFile(victim, []byte("keep\n"), 0o600))
	for _, name := range []string{"rebuild-history.jsonl", "rebuild-eval-cache.json"} {
		path := filepath.Join(st, name)
		must(t, os.Symlink(victim, path))
		res := e.rs("--skip-dotfiles")
		if res.Code != 10 || !strings.Contains(res.Stderr, "rebuild-smart: refusing the state file "+path+": it is a symbolic link") {
			t.Fatalf("%s: want exit 10 naming it:\n%s", name, res)
		}
		if calls := e.calls(); len(calls) != 0 {
			t.Fatalf("%s: built or switched before the refusal: %+v", name, calls)
		}
		if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
			t.Fatalf("written through the link: %q", data)
		}
		must(t, os.Remove(path))
	}
	if res := e.rs("--skip-dotfiles"); res.Code != 0 || len(e.calls()) == 0 {
		t.Fatalf("nothing planted: the rebuild runs:\n%s", res)
	}
}

// The other side's lock that cannot be read (a FIFO, a link or a directory
// planted at rebuild.lock in a user's directory root reads) does not stop
// this side's rebuild: a warning says it counts as not held.
func TestUnreadableOtherSideLockIsAWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	other := filepath.Join(e.h.Root, "other-state")
	must(t, os.Mkdir(other, 0o700))
	lock := filepath.Join(other, state.RebuildLock)
	for kind, plant := range map[string]func(){
		"fifo": func() { must(t, syscall.Mkfifo(lock, 0o600)) },
		"link": func() { must(t, os.Symlink(filepath.Join(e.h.Root, "nowhere"), lock)) },
		"dir":  func() { must(t, os.Mkdir(lock, 0o700)) },
	} {
		plant()
		res := e.rs("--skip-dotfiles", "--force-switch", "--read-state-dir", other)
		if res.Code != 0 || !strings.Contains(res.Stderr, "the other side's lock "+lock+" was not read, so it counts as not held") {
			t.Fatalf("%s: want exit 0 and a warning:\n%s", kind, res)
		}
		must(t, os.RemoveAll(lock))
	}
}
