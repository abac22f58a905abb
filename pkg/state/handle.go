package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// Handle is an open state directory that passed the checks ssh's StrictModes
// makes of ~/.ssh. Every file in it is opened relative to the handle
// (openat) without following a link, and checked after opening (fstat):
// a link, a pipe or a file of another user planted at a state file's name is
// refused, never written through, and a path renamed under a running command
// cannot redirect its writes.
//
// A handle opened with OpenDir may write: the directory belongs to the user
// running, and what it holds is tightened (see OpenFile). One opened with
// OpenDirReadOnly only reads, changes nothing (not even modes) and may belong
// to root or, for root, to anyone: that is how one side reads the other's
// state (a user's rebuild-rollback reads root's rebuild history).
type Handle struct {
	path     string
	fd       int
	owner    uint32      // uid owning the directory
	readOnly bool        // opened with OpenDirReadOnly
	share    os.FileMode // read bits a file here may give group and others
}

// Path is the directory's path as given (made absolute).
func (h *Handle) Path() string { return h.path }

// Join names a file of the directory, for messages.
func (h *Handle) Join(name string) string { return filepath.Join(h.path, name) }

// Close releases the directory handle.
func (h *Handle) Close() error {
	if h == nil || h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// dirMode is the mode of directories the suite creates.
const dirMode = 0o700

// OpenDir opens the state directory dir to read and write it, creating it
// (and missing parents) 0700 first. It refuses, with an *UnsafeError: a
// link at dir; a directory owned by another user (so root uses only
// root-owned state); one writable by group or others; one inside a
// directory that another user (root aside) owns, or that group or others may
// write without the sticky bit. A path that is not a directory is bad input
// (exit 2).
func OpenDir(dir string) (*Handle, error) { return openDir(dir, false) }

// OpenDirReadOnly opens dir to read it: nothing is created or changed. A
// missing directory matches errors.Is(err, fs.ErrNotExist). The directory
// may belong to the user running, to root, or (when root runs) to anyone;
// links, and directories group or others may write, are refused as by
// OpenDir, since their content may not be the owner's.
func OpenDirReadOnly(dir string) (*Handle, error) { return openDir(dir, true) }

func openDir(dir string, readOnly bool) (*Handle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) && !readOnly {
		fd, err = create(abs)
	}
	if err != nil {
		return nil, openDirError(abs, err)
	}
	h, err := check(abs, fd, readOnly)
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return h, nil
}

// openDirError explains why abs could not be opened as a directory: a link
// (O_NOFOLLOW reports it as "not a directory") is unsafe, anything else that
// is not a directory is bad input.
func openDirError(abs string, err error) error {
	var ue *UnsafeError
	if errors.As(err, &ue) {
		return err
	}
	if st, lerr := os.Lstat(abs); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
		return unsafeLink(abs, "state directory", readLink(unix.AT_FDCWD, abs))
	}
	if errors.Is(err, unix.ENOTDIR) {
		return exitcode.UsageError(fmt.Errorf("state directory %s is not a directory", abs))
	}
	return &os.PathError{Op: "state directory", Path: abs, Err: err}
}

// create makes abs and its missing parents, each 0700 and each relative to
// the handle of its parent, after checking that the nearest existing
// ancestor is one the user running may create in: a run as root never
// creates anything inside a user's directory.
func create(abs string) (int, error) {
	var missing []string
	base := abs
	for {
		if _, err := os.Lstat(base); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(base) == base {
			return -1, err
		}
		missing = append([]string{filepath.Base(base)}, missing...)
		base = filepath.Dir(base)
	}
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	me := euid()
	trusted := func(uid uint32) bool { return uid == 0 || uid == me }
	if err := checkAncestor(abs, base, &st, trusted); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	if err := checkParents(abs, realPath(fd, base), fd, &st, trusted); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	for _, name := range missing {
		mkErr := unix.Mkdirat(fd, name, dirMode)
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		_ = unix.Close(fd)
		if err != nil {
			return -1, err
		}
		if mkErr == nil {
			// The umask may have taken bits away; 0700 is what we promise.
			_ = unix.Fchmod(next, dirMode)
		}
		fd = next
	}
	return fd, nil
}

// check runs the StrictModes checks on the opened directory and its parents.
func check(abs string, fd int, readOnly bool) (*Handle, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "state directory", Path: abs, Err: err}
	}
	me := euid()
	switch {
	case !readOnly && st.Uid != me:
		return nil, unsafeOwner(abs, "state directory", st.Uid, me, readOnly)
	case readOnly && st.Uid != me && st.Uid != 0 && me != 0:
		return nil, unsafeOwner(abs, "state directory", st.Uid, me, readOnly)
	case st.Mode&0o022 != 0:
		return nil, unsafeWritable(abs, "state directory", st.Mode)
	}
	owner := st.Uid
	trusted := func(uid uint32) bool { return uid == 0 || uid == me || (readOnly && uid == owner) }
	if err := checkParents(abs, realPath(fd, abs), fd, &st, trusted); err != nil {
		return nil, err
	}
	h := &Handle{path: abs, fd: fd, owner: st.Uid, readOnly: readOnly}
	if sharedLayout(&st) {
		h.share = 0o040
	}
	return h, nil
}

// sharedLayout: the files meant to be shared (the rebuild history, the lock
// files) are group-readable only in the module's deliberate layout, root's
// /var/lib/nixdots: owned by root, setgid and enterable by its group
// (2750 root:nixdots), so the dotfiles users see root's lock and history.
// Anywhere else, a directory others happen to be able to enter (a
// `mkdir -p` under umask 022 made ~/.local/state/nixdots 0755) shares
// nothing: another user who could read a lock could also hold it with a
// shared flock and keep every run at exit 3. Nothing is ever readable by
// others.
func sharedLayout(st *unix.Stat_t) bool {
	return st.Uid == 0 && st.Mode&unix.S_ISGID != 0 && st.Mode&0o010 != 0
}

// checkParents walks from the directory fd up to / through "..", which is
// never a link, so it checks the directories the state really lives in,
// whatever links the path went through: each must be trusted (root's, or
// the user's running) and not writable by group or others unless sticky
// (/tmp). real names them in messages.
func checkParents(abs, real string, fd int, st *unix.Stat_t, trusted func(uint32) bool) error {
	prev := *st
	cur := fd
	defer func() {
		if cur != fd {
			_ = unix.Close(cur)
		}
	}()
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		up, err := unix.Openat(cur, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "state directory parent", Path: abs, Err: err}
		}
		if cur != fd {
			_ = unix.Close(cur)
		}
		cur = up
		var pst unix.Stat_t
		if err := unix.Fstat(up, &pst); err != nil {
			return &os.PathError{Op: "state directory parent", Path: abs, Err: err}
		}
		if pst.Dev == prev.Dev && pst.Ino == prev.Ino {
			return nil // "/" is its own parent
		}
		if err := checkAncestor(abs, p, &pst, trusted); err != nil {
			return err
		}
		prev = pst
	}
}

func checkAncestor(abs, parent string, st *unix.Stat_t, trusted func(uint32) bool) error {
	return stateAncestor.check(abs, parent, st, trusted)
}

// ancestorRule is what a directory above a path must be: owned by someone
// trusted, and not writable by writers (group and others for state; others
// for a metrics file, whose directory an administrator may share with a
// group) unless sticky.
type ancestorRule struct {
	kind, whoWrites, risk string
	writers               uint32
	fixOwner, fixMode     string // fixMode: a format taking the directory
}

var stateAncestor = ancestorRule{kind: "state directory", whoWrites: "group or others", risk: "replace it", writers: 0o022,
	fixOwner: "use a state directory under directories of your own or root's (--state-dir)",
	fixMode:  "chmod go-w %s, or use another state directory (--state-dir)"}

func (a ancestorRule) check(abs, parent string, st *unix.Stat_t, trusted func(uint32) bool) error {
	if !trusted(st.Uid) {
		return &UnsafeError{Path: abs, Kind: a.kind,
			Reason: fmt.Sprintf("it is inside %s, which %s owns, so that user could %s", parent, userName(st.Uid), a.risk),
			Fix:    a.fixOwner}
	}
	if st.Mode&a.writers != 0 && st.Mode&unix.S_ISVTX == 0 {
		return &UnsafeError{Path: abs, Kind: a.kind,
			Reason: fmt.Sprintf("it is inside %s, which %s may write (mode %04o, no sticky bit), so anyone could %s", parent, a.whoWrites, st.Mode&0o7777, a.risk),
			Fix:    fmt.Sprintf(a.fixMode, parent)}
	}
	return nil
}

// realPath is where fd really is, for messages; fallback when /proc is
// not there.
func realPath(fd int, fallback string) string {
	if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && filepath.IsAbs(p) {
		return p
	}
	return fallback
}

func readLink(dirfd int, name string) string {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil || n <= 0 {
		return ""
	}
	return string(buf[:n])
}

// validName keeps file names inside the directory.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("invalid state file name %q", name)
	}
	return nil
}

// fileMode is the mode a file gets: the owner's bits of perm, and the
// group's read bit only where both perm and the directory (sharedLayout)
// allow it.
func (h *Handle) fileMode(perm os.FileMode) uint32 {
	return uint32(perm&0o600 | perm&h.share)
}

// OpenFile opens the state file name, never following a link: flag as for
// os.OpenFile (O_CREATE creates it with the mode perm allows here, see
// fileMode). An existing file must be a regular file owned by the user
// running, with one link, not writable by group or others; otherwise an
// *UnsafeError names it. Its mode is made what it would be created with:
// read bits beyond that are removed (a 0644 lock in a user's directory
// becomes 0600), and in the shared layout the group's is added. A read-only handle opens read-only: the file may then
// belong to the directory's owner or root, and nothing is changed.
func (h *Handle) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if h.readOnly && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, fmt.Errorf("state file %s: opened read-only", h.Join(name))
	}
	for attempt := 0; ; attempt++ {
		f, err := h.openFile(name, flag, perm)
		if errors.Is(err, unix.EEXIST) && attempt < 3 {
			continue // created by another run between our look and our create
		}
		return f, err
	}
}

func (h *Handle) openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	path := h.Join(name)
	// O_PATH opens without opening the file itself (no FIFO that blocks, no
	// device that acts on open); with O_NOFOLLOW it opens a link as a link.
	pfd, err := unix.Openat(h.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) && flag&os.O_CREATE != 0 {
		return h.createFile(name, flag, perm)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := h.checkFile(name, &st); err != nil {
		return nil, err
	}
	open := flag &^ (os.O_CREATE | os.O_EXCL)
	fd, err := unix.Openat(h.fd, name, open|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil || got.Dev != st.Dev || got.Ino != st.Ino {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("state file %s changed while it was being opened; run again", path)
	}
	_ = unix.SetNonblock(fd, false)
	if !h.readOnly {
		// Tighten what group and others may do to what a new file would
		// get; in the shared layout, give the group the read bit a new
		// file would get (a lock made before the layout existed).
		allowed := 0o700 | h.fileMode(perm)
		cur := got.Mode & 0o777
		if want := cur&allowed | h.fileMode(perm)&uint32(h.share); want != cur {
			if err := unix.Fchmod(fd, want); err != nil {
				_ = unix.Close(fd)
				return nil, &os.PathError{Op: "chmod", Path: path, Err: err}
			}
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func (h *Handle) createFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	path := h.Join(name)
	fd, err := unix.Openat(h.fd, name, flag|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.EEXIST) && flag&os.O_EXCL == 0 {
			return nil, err // OpenFile looks again
		}
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	if err := unix.Fchmod(fd, h.fileMode(perm)); err != nil {
		_ = unix.Close(fd)
		return nil, &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// checkFile is the StrictModes check of one entry (not opened yet).
func (h *Handle) checkFile(name string, st *unix.Stat_t) error {
	path := h.Join(name)
	me := euid()
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return unsafeLink(path, "state file", readLink(h.fd, name))
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return &UnsafeError{Path: path, Kind: "state file", Reason: "it is " + nodeKind(st.Mode) + ", not a regular file",
			Fix: "remove it (nothing was written to it)"}
	case !h.readOnly && st.Uid != me:
		return unsafeOwner(path, "state file", st.Uid, me, false)
	case h.readOnly && st.Uid != h.owner && st.Uid != 0 && st.Uid != me:
		return unsafeOwner(path, "state file", st.Uid, me, true)
	case st.Mode&0o022 != 0:
		return unsafeWritable(path, "state file", st.Mode)
	case st.Nlink > 1:
		// Read or written alike: what a file with another name holds is
		// not necessarily this state's.
		return &UnsafeError{Path: path, Kind: "state file",
			Reason: fmt.Sprintf("it has %d hard links, so it is also another file, and another file is neither read nor written as state", st.Nlink),
			Fix:    "replace it by a copy of its own (cp --remove-destination) or remove it"}
	case st.Size > MaxFileSize:
		return &CorruptError{Path: path, Err: fmt.Errorf("it is %d bytes, more than any state file holds (%d MiB); it was not read", st.Size, MaxFileSize>>20)}
	}
	return nil
}

// MaxFileSize bounds every state file: records, histories (trimmed long
// before) and locks are far smaller. A bigger one (a sparse file of 3 GB
// planted in a directory root reads) is refused as corrupt without being
// read.
const MaxFileSize = 16 << 20

// ReadFile reads the state file name (see OpenFile for the checks), at
// most MaxFileSize bytes.
func (h *Handle) ReadFile(name string) ([]byte, error) {
	f, err := h.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAllBounded(f)
}

// ReadAllBounded reads r to its end, or fails once it has read more than
// MaxFileSize bytes (a state file growing while it is read).
func ReadAllBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("more than %d MiB, more than any state file holds", MaxFileSize>>20)
	}
	return data, err
}

// Remove removes the state file name (a link is removed, never followed).
func (h *Handle) Remove(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if h.readOnly {
		return fmt.Errorf("state file %s: opened read-only", h.Join(name))
	}
	if err := unix.Unlinkat(h.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: h.Join(name), Err: err}
	}
	return nil
}

// Sync flushes the directory itself (renames and creations in it).
func (h *Handle) Sync() error {
	if err := unix.Fsync(h.fd); err != nil {
		return &os.PathError{Op: "sync", Path: h.path, Err: err}
	}
	return nil
}

// SameDir reports whether dir is this directory (another path to it).
func (h *Handle) SameDir(dir string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(h.fd, &a) != nil || unix.Stat(dir, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
