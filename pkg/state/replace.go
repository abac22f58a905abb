package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ReplaceFile publishes data at path, a file outside the state directory that
// others read (the Prometheus textfile node_exporter scrapes): written to a
// temp file beside it (a dot name, so a collector reading *.prom never sees
// it), fsynced, given mode perm and renamed over path, so a reader never sees
// half a file.
//
// The directory is reached by openDirPath: each component from / opened
// without following a link that someone else could have made, each owned by
// root or the user running and not writable by others without the sticky
// bit, missing ones created 0755 (so never as root inside a user's
// directory). A path ending in a slash names no file and is refused.
//
// Only a regular file is ever replaced: a link, a directory, a FIFO, a
// device or a socket at path is an *UnsafeError and stays as it is (renaming
// over a device node as root would delete it; over a link, drop it
// silently).
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	if strings.HasSuffix(path, "/") {
		return &UnsafeError{Path: path, Kind: "metrics file", Reason: "it ends with a slash, so it names a directory, not a file",
			Fix: "give a file name (a .prom file in the textfile collector's directory)"}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dir, name := filepath.Dir(abs), filepath.Base(abs)
	if err := validName(name); err != nil {
		return err
	}
	dfd, err := openDirPath(abs, dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	for attempt := 0; ; attempt++ {
		exists, err := replaceable(dfd, path, name)
		if err != nil {
			return err
		}
		tmp, err := writeTemp(dfd, dir, File{Name: name, Data: data}, uint32(perm.Perm()))
		if err != nil {
			return err
		}
		if exists {
			err = unix.Renameat(dfd, tmp, dfd, name)
		} else {
			// Nothing there when we looked: rename only if that is still so.
			err = unix.Renameat2(dfd, tmp, dfd, name, unix.RENAME_NOREPLACE)
			if errors.Is(err, unix.EINVAL) { // a file system without the flag
				if _, err = replaceable(dfd, path, name); err == nil {
					err = unix.Renameat(dfd, tmp, dfd, name)
				}
			}
		}
		if err != nil {
			_ = unix.Unlinkat(dfd, tmp, 0)
			if errors.Is(err, unix.EEXIST) && attempt < 3 {
				continue // created meanwhile: look at what it is
			}
			var ue *UnsafeError
			if errors.As(err, &ue) {
				return err
			}
			return &os.PathError{Op: "replace", Path: path, Err: err}
		}
		removeStaleTemps(dfd, name)
		if err := unix.Fsync(dfd); err != nil {
			return &os.PathError{Op: "sync", Path: dir, Err: err}
		}
		return nil
	}
}

// replaceable reports whether name exists in dfd; anything but a regular
// file there is an *UnsafeError.
func replaceable(dfd int, path, name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, &os.PathError{Op: "replace", Path: path, Err: err}
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return false, &UnsafeError{Path: path, Kind: "metrics file",
			Reason: "it is a symbolic link" + linkTarget(dfd, name) + ", and only a regular file is ever replaced",
			Fix:    "remove the link, or point --metrics-file at a regular file"}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return false, &UnsafeError{Path: path, Kind: "metrics file",
			Reason: "it is " + nodeKind(st.Mode) + ", and only a regular file is ever replaced",
			Fix:    "point --metrics-file at a regular file (a .prom name in the textfile collector's directory)"}
	}
	return true, nil
}

// maxLinks bounds the links openDirPath follows (as the kernel's ELOOP).
const maxLinks = 40

// openDirPath opens dir (absolute) for path's file, one component at a
// time from /, with O_NOFOLLOW. Every directory it goes through must be
// owned by root or the user running, and not writable by others unless
// sticky (/tmp): otherwise its owner could move what comes after it. A link
// is followed only when root or the user running owns it (it sits in a
// directory that passed these checks): a link another user planted in
// /tmp or in their own directory is refused. Missing directories are
// created 0755 inside the (checked) directory above them.
func openDirPath(path, dir string) (int, error) {
	me := euid()
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: "/", Err: err}
	}
	at := "/"
	todo := strings.Split(dir, "/")
	links := 0
	for len(todo) > 0 {
		if err := checkMetricsDir(fd, path, at, me); err != nil {
			_ = unix.Close(fd)
			return -1, err
		}
		part := todo[0]
		todo = todo[1:]
		if part == "" || part == "." {
			continue
		}
		next, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if mk := unix.Mkdirat(fd, part, 0o755); mk != nil && !errors.Is(mk, unix.EEXIST) {
				_ = unix.Close(fd)
				return -1, &os.PathError{Op: "mkdir", Path: filepath.Join(at, part), Err: mk}
			}
			next, err = unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			target, lerr := trustedLink(fd, part, filepath.Join(at, part), path, me)
			if lerr != nil {
				_ = unix.Close(fd)
				return -1, lerr
			}
			if links++; links > maxLinks {
				_ = unix.Close(fd)
				return -1, &os.PathError{Op: "open", Path: path, Err: unix.ELOOP}
			}
			todo = append(strings.Split(target, "/"), todo...)
			if filepath.IsAbs(target) {
				_ = unix.Close(fd)
				if fd, err = unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
					return -1, &os.PathError{Op: "open", Path: "/", Err: err}
				}
				at = "/"
			}
			continue
		}
		_ = unix.Close(fd)
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: filepath.Join(at, part), Err: err}
		}
		fd, at = next, filepath.Join(at, part)
	}
	if err := checkMetricsDir(fd, path, at, me); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkMetricsDir: the directory fd (at, for messages) may hold path's
// file.
func checkMetricsDir(fd int, path, at string, me uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: at, Err: err}
	}
	return metricsAncestor.check(path, at, &st, func(uid uint32) bool { return uid == 0 || uid == me })
}

var metricsAncestor = ancestorRule{kind: "metrics file", whoWrites: "others", risk: "redirect the write", writers: 0o002,
	fixOwner: "point --metrics-file into a directory of root's or your own (the textfile collector's)",
	fixMode:  "chmod o-w %s, or point --metrics-file elsewhere"}

// trustedLink is the target of the link name in dirfd when root or the user
// running owns it; anything else in the way (another user's link, a file)
// is refused.
func trustedLink(dirfd int, name, at, path string, me uint32) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", &os.PathError{Op: "open", Path: at, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", &UnsafeError{Path: path, Kind: "metrics file", Reason: at + " is " + nodeKind(st.Mode) + ", not a directory",
			Fix: "point --metrics-file into a directory"}
	}
	target := readLink(dirfd, name)
	if st.Uid != 0 && st.Uid != me {
		return "", &UnsafeError{Path: path, Kind: "metrics file",
			Reason: fmt.Sprintf("%s is a symbolic link (to %s) that %s made, and a write is never redirected by another user's link", at, target, userName(st.Uid)),
			Fix:    "point --metrics-file at the real directory"}
	}
	if target == "" {
		return "", &os.PathError{Op: "readlink", Path: at, Err: unix.EINVAL}
	}
	return target, nil
}

func linkTarget(dfd int, name string) string {
	if t := readLink(dfd, name); t != "" {
		return " (to " + t + ")"
	}
	return ""
}
