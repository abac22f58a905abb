package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// Lock is a held lock. The file is never deleted: deleting a flock file lets
// a third process lock a new inode while a second still waits on the old one.
type Lock struct {
	fl   *flock.Flock
	path string
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

// Acquire takes the lock file name in dir. With wait 0 it fails at once when
// busy; otherwise it retries until wait elapses or ctx is cancelled. The
// holder record is written into the lock file.
func Acquire(ctx context.Context, dir, name string, wait time.Duration, me Holder) (*Lock, error) {
	if err := Ensure(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	// Busy (used by status commands) probes with a shared lock held for
	// microseconds; a run starting in that instant must not report "locked",
	// so even --wait 0 retries for a short grace period.
	if wait < busyProbeGrace {
		wait = busyProbeGrace
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Path: path, Holder: ReadHolder(path)}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryInterval(wait)):
		}
	}
	l := &Lock{fl: fl, path: path}
	if err := l.writeHolder(me); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

func (l *Lock) writeHolder(h Holder) error {
	data, _ := json.Marshal(h)
	// flock is advisory: a second descriptor on the same file may write the
	// record while the first holds the lock.
	f, err := os.OpenFile(l.path, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	defer f.Close()
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	return nil
}

// Release unlocks. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	_ = os.Truncate(l.path, 0) // the holder left; the file itself stays
	err := l.fl.Unlock()
	l.fl = nil
	return err
}

// Busy reports, without blocking and without taking it, whether the lock in
// dir is held, and by whom. Status commands use it to say "a sync is running".
func Busy(dir, name string) (bool, Holder, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return false, Holder{}, exitcode.UsageError(fmt.Errorf("state directory %s is not a directory", dir))
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, Holder{}, nil
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryRLock()
	if err != nil {
		return false, Holder{}, fmt.Errorf("lock %s: %w", path, err)
	}
	if ok {
		_ = fl.Unlock()
		return false, Holder{}, nil
	}
	return true, ReadHolder(path), nil
}

// ReadHolder reads the holder record from a lock file; an empty or garbled
// record yields a zero Holder ("an unknown process").
func ReadHolder(path string) Holder {
	var h Holder
	data, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	_ = json.Unmarshal([]byte(strings.TrimSpace(string(data))), &h)
	return h
}
