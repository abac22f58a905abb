package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

// Lock names. chezmoi-sync has its own lock because rebuild-smart runs it as
// a child while holding the rebuild lock; rebuild-smart and rebuild-rollback
// share one, so they never run at once.
const (
	SyncLock    = "sync.lock"
	RebuildLock = "rebuild.lock"
)

// lockPerm lets the group of root's shared state directory (the dotfiles
// users: see sharedLayout) see who holds a lock, and respect it; anywhere
// else a lock file is 0600.
const lockPerm = 0o640

// holderSize is the length every holder record is padded to, so that
// writing one over another, or blanking it, never needs a truncate.
const holderSize = 512

// busyProbeGrace bounds how long a fail-fast Acquire retries.
const busyProbeGrace = 200 * time.Millisecond

func retryInterval(wait time.Duration) time.Duration {
	if wait <= busyProbeGrace {
		return 2 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// Holder describes who holds a lock; it is written into the lock file after
// the lock is taken and read by anyone who finds the lock busy.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("pid %d on %s (%s) since %s", h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
}

// Lock is a held lock. The file is never deleted (deleting a flock file lets
// a third process lock a new inode while a second still waits on the old
// one) and never truncated: the holder record is written over in place.
type Lock struct {
	fl   *flock.Flock
	h    *Handle
	f    *os.File // the checked descriptor the holder record goes through
	path string
	size int // length of the record last written
	// Warnings are the other side's locks that could not be read (an
	// unsafe or unreadable directory or lock file): each counted as not
	// held. The caller shows them.
	Warnings []string
}

// LockedError is returned when the lock is busy.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another run holds %s: %s", e.Path, e.Holder)
}

// ExitCode implements exitcode.Coder.
func (e *LockedError) ExitCode() int { return exitcode.Locked }

// Acquire takes the lock file name in the state directory dir (checked and
// opened as by OpenDir; the lock file as by Handle.OpenFile). With wait 0 it
// fails at once when busy; otherwise it retries until wait elapses or ctx is
// cancelled. The holder record is written into the lock file.
//
// others are state directories of the other side (root's for a user, the
// users' for root) whose lock of the same name this run respects without
// ever writing it: the lock is taken here first, then each of theirs is
// probed (Busy); when one is held, this one is let go again. Two runs doing
// the same can never both go ahead (each holds its own before it looks at the
// other's); at worst both step aside once.
func Acquire(ctx context.Context, dir, name string, wait time.Duration, me Holder, others ...string) (*Lock, error) {
	h, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	l, err := acquire(ctx, h, name, wait, me, others)
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	return l, nil
}

func acquire(ctx context.Context, h *Handle, name string, wait time.Duration, me Holder, others []string) (*Lock, error) {
	// Busy (used by status commands) probes with a shared lock held for
	// microseconds; a run starting in that instant must not report "locked",
	// so even --wait 0 retries for a short grace period.
	if wait < busyProbeGrace {
		wait = busyProbeGrace
	}
	deadline := time.Now().Add(wait)
	warned := map[string]bool{}
	for {
		l, blocker, err := tryOnce(h, name, others)
		if err != nil {
			return nil, err
		}
		if blocker == nil {
			for _, w := range l.Warnings {
				warned[w] = true
			}
			l.Warnings = sortedKeys(warned)
			if err := l.writeHolder(me); err != nil {
				_ = l.fl.Unlock()
				_ = l.f.Close()
				return nil, err
			}
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, blocker
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryInterval(wait)):
		}
	}
}

// tryOnce opens the lock file, with every check OpenFile makes (so a lock
// file replaced by a link, a FIFO or another user's file while --wait
// waits is refused, exit 10, as on the first attempt), and tries to lock
// it once; it returns who holds it (here or in one of others) when it
// cannot be had.
func tryOnce(h *Handle, name string, others []string) (*Lock, *LockedError, error) {
	f, err := h.OpenFile(name, os.O_RDWR|os.O_CREATE, lockPerm)
	if err != nil {
		return nil, nil, err
	}
	l := &Lock{h: h, f: f, path: h.Join(name), fl: flockOf(f, h.Join(name), os.O_RDWR)}
	blocker, err := l.try(name, others)
	if err != nil || blocker != nil {
		_ = f.Close()
		return nil, blocker, err
	}
	return l, nil, nil
}

// flockOf is a flock of the very file f is open on. gofrs/flock opens a
// path; /proc/self/fd/N reopens f's own inode whatever is at the name by
// now. Without /proc the name is opened without following a link, and
// the callers check that it is still f's file.
func flockOf(f *os.File, path string, flag int) *flock.Flock {
	if fd := fmt.Sprintf("/proc/self/fd/%d", f.Fd()); procSelfFD() {
		return flock.New(fd, flock.SetFlag(flag))
	}
	return flock.New(path, flock.SetFlag(flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY))
}

func procSelfFD() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
}

// try takes the lock once; it returns who holds it (here or in one of
// others) when it cannot be had. The other side's lock that cannot be read
// (an unsafe directory or lock file, which only its owner can fix) counts
// as not held, with a warning: it must not stop this side's runs.
func (l *Lock) try(name string, others []string) (*LockedError, error) {
	ok, err := l.fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.path, err)
	}
	if !ok {
		return &LockedError{Path: l.path, Holder: readHolder(l.f)}, nil
	}
	want, err := l.f.Stat()
	got, gerr := l.fl.Stat()
	if err != nil || gerr != nil || !os.SameFile(want, got) {
		_ = l.fl.Unlock()
		return nil, fmt.Errorf("lock %s changed while it was being taken; run again", l.path)
	}
	for _, o := range others {
		if o == "" || l.h.SameDir(o) {
			continue
		}
		busy, holder, err := Busy(o, name)
		if err != nil {
			l.Warnings = append(l.Warnings, fmt.Sprintf("the other side's lock %s was not read, so it counts as not held: %v",
				filepath.Join(o, name), err))
			continue
		}
		if busy {
			_ = l.fl.Unlock()
			return &LockedError{Path: filepath.Join(o, name), Holder: holder}, nil
		}
	}
	return nil, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check refuses, right after the lock is taken and before the run does any
// work, the state files it will write (names, in the lock's directory) that
// no write would accept: a link, a FIFO, a directory, another user's file,
// one group or others may write, one with several hard links (an
// *UnsafeError, exit 10), or one far larger than any state file (a
// *CorruptError). A missing file is fine. So a run never syncs or switches
// first and fails to record it afterwards.
func (l *Lock) Check(names ...string) error {
	for _, n := range names {
		if err := validName(n); err != nil {
			return err
		}
		if err := l.h.checkExisting(n); err != nil {
			return err
		}
	}
	return nil
}

// holderRecord is h as one JSON line padded with spaces to holderSize (or
// to min, to cover a longer record written before).
func holderRecord(h Holder, min int) []byte {
	data, _ := json.Marshal(h)
	return padRecord(data, min)
}

func padRecord(data []byte, min int) []byte {
	n := max(holderSize, min, len(data)+1)
	out := bytes.Repeat([]byte{' '}, n)
	copy(out, data)
	out[n-1] = '\n'
	return out
}

func (l *Lock) writeHolder(h Holder) error {
	rec := holderRecord(h, 0)
	// flock is advisory: our second descriptor writes the record while
	// the first holds the lock.
	if _, err := l.f.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	l.size = len(rec)
	return nil
}

// Release unlocks. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	// The holder left: blank the record (in place; the file stays).
	_, _ = l.f.WriteAt(padRecord(nil, l.size), 0)
	err := l.fl.Unlock()
	l.fl = nil
	_ = l.f.Close()
	_ = l.h.Close()
	return err
}

// Busy reports, without blocking and without taking it, whether the lock in
// dir is held, and by whom. Status commands use it to say "a sync is
// running"; Acquire uses it on the other side's directories. It only reads
// (OpenDirReadOnly): a missing directory or lock file is "not busy".
func Busy(dir, name string) (bool, Holder, error) {
	h, err := OpenDirReadOnly(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Holder{}, nil
	}
	if err != nil {
		return false, Holder{}, err
	}
	defer h.Close()
	f, err := h.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Holder{}, nil
	}
	if err != nil {
		return false, Holder{}, err
	}
	defer f.Close()
	path := h.Join(name)
	fl := flockOf(f, path, os.O_RDONLY)
	ok, err := fl.TryRLock()
	if err != nil {
		return false, Holder{}, fmt.Errorf("lock %s: %w", path, err)
	}
	if ok {
		want, err := f.Stat()
		got, gerr := fl.Stat()
		_ = fl.Unlock()
		if err != nil || gerr != nil || !os.SameFile(want, got) {
			return false, Holder{}, fmt.Errorf("lock %s changed while it was being read; run again", path)
		}
		return false, Holder{}, nil
	}
	return true, readHolder(f), nil
}

// ReadHolder reads the holder record from a lock file (read-only, never
// through a link); an empty, blanked or garbled record, or an unreadable
// file, yields a zero Holder ("an unknown process").
func ReadHolder(path string) Holder {
	h, err := OpenDirReadOnly(filepath.Dir(path))
	if err != nil {
		return Holder{}
	}
	defer h.Close()
	f, err := h.OpenFile(filepath.Base(path), os.O_RDONLY, 0)
	if err != nil {
		return Holder{}
	}
	defer f.Close()
	return readHolder(f)
}

func readHolder(f *os.File) Holder {
	var h Holder
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte{'\n'})
	_ = json.Unmarshal(bytes.TrimSpace(line), &h)
	return h
}
