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
