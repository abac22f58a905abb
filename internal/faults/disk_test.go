package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixdots/nixdots/internal/soak"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

var panicMarks = []string{"panic:", "goroutine ", "runtime error"}

func noPanic(t *testing.T, out string) {
	t.Helper()
	for _, m := range panicMarks {
		if strings.Contains(out, m) {
			t.Fatalf("output holds %q:\n%s", m, out)
		}
	}
}

// mount runs mount(8); the tests that need it skip when it is not allowed
// (not root, or a container without the capability).
func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		if testharness.InCI() { // CI runs as root: mounting must work there
			t.Fatalf("mount %v failed under CI=true: %v %s", args, err, out)
		}
		t.Skipf("mount %v not possible here: %v %s", args, err, out)
	}
}

func umount(t *testing.T, dir string) {
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

// readOnly makes dir read-only: a read-only bind mount as root (root
// ignores permission bits), chmod otherwise. It returns the undo.
func readOnly(t *testing.T, dir string) func() {
	t.Helper()
	if os.Geteuid() != 0 {
		must(t, os.Chmod(dir, 0o555))
		return func() { must(t, os.Chmod(dir, 0o700)) }
	}
	mount(t, "--bind", dir, dir)
	umount(t, dir)
	mount(t, "-o", "remount,ro,bind", dir)
	return func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Fatalf("umount %s: %v %s", dir, err, out)
		}
	}
}

// TestReadOnlyStateDir: the state directory cannot be written. The sync
// fails with a one-line error naming it, loses nothing (the edit stays in
// HOME, source and remote untouched), and works again once it is writable.
func TestReadOnlyStateDir(t *testing.T) {
	w := newWorld(t)
	h := w.alpha
	h.WriteHome(".bashrc", h.ReadHome(".bashrc")+localEdit)
	undo := readOnly(t, h.StateDir())
	skip := soak.SkipUnder("home/.local/state/nixdots")
	before, err := soak.HashTree(h.Root, skip)
	must(t, err)
	remoteBefore, err := soak.HashTree(w.remote, nil)
	must(t, err)
	r := h.Exec("", "chezmoi-sync")
	noPanic(t, r.Stdout+r.Stderr)
	t.Logf("read-only state directory: exit %d: %s", r.Code, strings.TrimSpace(r.Stderr))
	if r.Code == 0 {
		t.Fatalf("a sync that cannot record its state reported success:\n%s", r)
	}
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) > 3 || !strings.Contains(r.Stderr, h.StateDir()) && !strings.Contains(r.Stderr, "read-only") {
		t.Fatalf("the error does not name the state directory or say read-only:\n%s", r.Stderr)
	}
	if !strings.Contains(h.ReadHome(".bashrc"), localEdit) {
		t.Fatal("the edit in HOME is gone")
	}
	after, _ := soak.HashTree(h.Root, skip)
	remoteAfter, _ := soak.HashTree(w.remote, nil)
	if d := soak.Diff(before, after); len(d) > 0 {
		// The run may have done its work before failing at the state
		// write; then the edit must be on the remote.
		if !strings.Contains(testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"), localEdit) {
			t.Fatalf("the run changed %v but the edit is not on the remote", d)
		}
		t.Logf("the run synced before failing to record: changed %d paths, remote changed %d", len(d), len(soak.Diff(remoteBefore, remoteAfter)))
	}
	undo()
	w.recovered(t, false)
}

// TestFullDisk: the state directory is on a full file system (a 256 KiB
// tmpfs, filled). The sync must not lose the edit, must not leave the
// previous record unreadable, must say what failed in one line; with space
// again the next run succeeds. "at-lock": the disk is full from the start
// (the lock's holder record cannot be written). "at-state-write": the lock
// file already has room (a previous holder record), so the sync does its
// work and the disk is found full when the record is written.
func TestFullDisk(t *testing.T) {
	for _, where := range []string{"at-lock", "at-state-write"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			fullDisk(t, where == "at-state-write")
		})
	}
}

func fullDisk(t *testing.T, roomForLock bool) {
	w := newWorld(t)
	h := w.alpha
	dir := filepath.Join(h.Root, "small-state")
	must(t, os.MkdirAll(dir, 0o700))
	mount(t, "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir)
	umount(t, dir)
	// Start from the host's real state (a previous successful record).
	for _, name := range []string{syncstate.RecordFile, syncstate.StatusFile, syncstate.HistoryFile} {
		data, err := os.ReadFile(filepath.Join(h.StateDir(), name))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	prev, err := syncstate.Load(dir)
	must(t, err)
	if roomForLock {
		// tmpfs rewrites an existing page in place without a new one.
		must(t, os.WriteFile(filepath.Join(dir, "sync.lock"), []byte(strings.Repeat(" ", 4000)), 0o600))
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	must(t, err)
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()

	h.WriteHome(".bashrc", h.ReadHome(".bashrc")+localEdit)
	r := h.Exec("", "chezmoi-sync", "--state-dir", dir)
	noPanic(t, r.Stdout+r.Stderr)
	t.Logf("full disk: exit %d: %s", r.Code, strings.TrimSpace(r.Stderr))
	if r.Code == 0 {
		t.Fatalf("a sync that could not write its state reported success:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "no space left") {
		t.Fatalf("the error does not say the disk is full:\n%s", r.Stderr)
	}
	if got, err := syncstate.Load(dir); err != nil || !got.Start.Equal(prev.Start) {
		t.Fatalf("the previous record is damaged: %+v %v", got, err)
	}
	inRemote := strings.Contains(testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"), localEdit)
	inSource := strings.Contains(h.ReadSource("dot_bashrc"), localEdit)
	if !inRemote && !inSource && !strings.Contains(h.ReadHome(".bashrc"), localEdit) {
		t.Fatal("the edit is gone")
	}
	t.Logf("edit after the failed run: in the remote %v, in the source %v", inRemote, inSource)
	if roomForLock && !inRemote {
		t.Fatalf("the state write is the last step: the edit should have been pushed before it:\n%s", r)
	}
	must(t, os.Remove(filler))
	if r := h.Exec("", "chezmoi-sync", "--state-dir", dir); r.Code != 0 {
		t.Fatalf("with space again: %s", r)
	}
	if got, err := syncstate.Load(dir); err != nil || got.Status != syncstate.Success {
		t.Fatalf("record after recovery: %+v %v", got, err)
	}
	if !strings.Contains(testharness.RemoteFile(t, w.remote, "main", "dot_bashrc"), localEdit) {
		t.Fatal("the edit did not reach the remote after recovery")
	}
}
