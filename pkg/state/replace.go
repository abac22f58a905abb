package state

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ReplaceFile publishes data at path, a file outside the state directory that
// others read (the Prometheus textfile node_exporter scrapes): written to a
// temp file beside it (a dot name, so a collector reading *.prom never sees
// it), fsynced, given mode perm and renamed over path, so a reader never sees
// half a file. A missing directory is created 0755.
//
// Only a regular file is ever replaced: a link, a directory, a FIFO, a
// device or a socket at path is an *UnsafeError and stays as it is (renaming
// over a device node as root would delete it; over a link, drop it
// silently).
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	dir, name := filepath.Dir(path), filepath.Base(path)
	if err := validName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
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

func linkTarget(dfd int, name string) string {
	if t := readLink(dfd, name); t != "" {
		return " (to " + t + ")"
	}
	return ""
}
