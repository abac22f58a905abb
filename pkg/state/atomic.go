package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteFile replaces the state file path atomically: a temp file in the same
// directory is written, fsynced and renamed over path, then the directory is
// fsynced. A crash at any point leaves either the old or the new content,
// never a partial file. Files are 0600; the directory is checked as by
// OpenDir and what is at path must be a state file OpenFile would accept.
func WriteFile(path string, data []byte) error {
	return WriteFiles(filepath.Dir(path), 0o600, File{Name: filepath.Base(path), Data: data})
}

// File is one file for WriteFiles.
type File struct {
	Name string // base name inside the directory
	Data []byte
}

// WriteFiles replaces several files of the state directory dir, each
// atomically (temp file, fsync, rename) and with a single fsync of the
// directory at the end: a run that records its outcome in two files pays for
// one directory sync. perm is the most the files may allow (see
// Handle.OpenFile): 0600 keeps them private in any directory.
func WriteFiles(dir string, perm os.FileMode, files ...File) error {
	h, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.WriteFiles(perm, files...)
}

// WriteFiles is the package-level WriteFiles on an open directory.
func (h *Handle) WriteFiles(perm os.FileMode, files ...File) (err error) {
	if h.readOnly {
		return fmt.Errorf("state directory %s: opened read-only", h.path)
	}
	temps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range temps {
				_ = unix.Unlinkat(h.fd, t, 0)
			}
		}
	}()
	for _, f := range files {
		if err := validName(f.Name); err != nil {
			return err
		}
		// What the rename would replace must be a state file we may
		// replace: a link or another user's file planted there is refused
		// (and left alone), not silently swapped.
		if err := h.checkExisting(f.Name); err != nil {
			return err
		}
		tmp, err := writeTemp(h.fd, h.path, f, h.fileMode(perm))
		if err != nil {
			return err
		}
		temps = append(temps, tmp)
	}
	for i, f := range files {
		if err = unix.Renameat(h.fd, temps[i], h.fd, f.Name); err != nil {
			return &os.PathError{Op: "write", Path: h.Join(f.Name), Err: err}
		}
		removeStaleTemps(h.fd, f.Name)
	}
	return h.Sync()
}

// checkExisting checks the entry name, when there is one, as OpenFile would.
func (h *Handle) checkExisting(name string) error {
	var st unix.Stat_t
	err := unix.Fstatat(h.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: h.Join(name), Err: err}
	}
	if h.readOnly {
		return fmt.Errorf("state file %s: opened read-only", h.Join(name))
	}
	return h.checkFile(name, &st)
}

// staleTempAge is how old a temp file must be before a later write removes
// it: far longer than any write takes, so only a killed writer's leftovers go.
const staleTempAge = 10 * time.Minute

func tempPrefix(name string) string { return "." + name + ".tmp-" }

// removeStaleTemps deletes temp files a killed writer of name left behind in
// the directory dirfd.
func removeStaleTemps(dirfd int, name string) {
	dfd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dfd), ".")
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		if !strings.HasPrefix(n, tempPrefix(name)) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(dirfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG &&
			st.Uid == euid() && time.Since(time.Unix(st.Mtim.Unix())) > staleTempAge {
			_ = unix.Unlinkat(dirfd, n, 0)
		}
	}
}

// writeTemp writes f to a new temp file beside it (created exclusively,
// never through a link) with mode, fsynced, and returns its name.
func writeTemp(dirfd int, dir string, f File, mode uint32) (name string, err error) {
	path := filepath.Join(dir, f.Name)
	var fd int
	for attempt := 0; ; attempt++ {
		name = tempPrefix(f.Name) + strconv.FormatUint(rand.Uint64(), 36)
		fd, err = unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) || attempt > 10 {
			return "", &os.PathError{Op: "write", Path: path, Err: err}
		}
	}
	tmp := os.NewFile(uintptr(fd), filepath.Join(dir, name))
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = unix.Unlinkat(dirfd, name, 0)
		}
	}()
	if err = unix.Fchmod(fd, mode); err != nil {
		return "", &os.PathError{Op: "write", Path: path, Err: err}
	}
	if _, err = tmp.Write(f.Data); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return name, nil
}

// WriteJSON writes v as indented JSON through WriteFile.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}

// Remove removes the state file path (a link is removed, never followed).
// A missing file matches errors.Is(err, fs.ErrNotExist).
func Remove(path string) error {
	h, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer h.Close()
	return h.Remove(filepath.Base(path))
}

// CorruptError reports a state file that exists but cannot be used. The next
// successful run rewrites it.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is unreadable (%v); remove it or run a sync to rewrite it", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNotExist is returned (wrapped) by ReadJSON when the file is absent.
var ErrNotExist = fs.ErrNotExist

// ReadFile reads the state file path through a read-only handle of its
// directory (OpenDirReadOnly): a missing directory or file matches
// errors.Is(err, ErrNotExist); a link, another user's file or one others
// may write is an *UnsafeError.
func ReadFile(path string) ([]byte, error) {
	h, err := OpenDirReadOnly(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.ReadFile(filepath.Base(path))
}

// ReadJSON decodes path into v. A missing file returns an error matching
// errors.Is(err, ErrNotExist); an unsafe one an *UnsafeError; anything else
// that fails is a *CorruptError.
func ReadJSON(path string, v any) error {
	data, err := ReadFile(path)
	var ue *UnsafeError
	if errors.Is(err, fs.ErrNotExist) || errors.As(err, &ue) {
		return err
	}
	if err != nil {
		return &CorruptError{Path: path, Err: err}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &CorruptError{Path: path, Err: err}
	}
	return nil
}
