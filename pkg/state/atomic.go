package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// WriteFile replaces path atomically: a temp file in the same directory is
// written, fsynced and renamed over path, then the directory is fsynced. A
// crash at any point leaves either the old or the new content, never a
// partial file. Files are 0600.
func WriteFile(path string, data []byte) error {
	return WriteFileMode(path, data, 0o600)
}

// WriteFileMode is WriteFile with an explicit file mode, for the few files
// other users must read (the Prometheus textfile node_exporter scrapes). A
// missing directory is created 0700, or 0755 when perm lets others read.
func WriteFileMode(path string, data []byte, perm os.FileMode) error {
	return WriteFiles(filepath.Dir(path), perm, File{Name: filepath.Base(path), Data: data})
}

// File is one file for WriteFiles.
type File struct {
	Name string // base name inside the directory
	Data []byte
}

// WriteFiles replaces several files of one directory, each atomically (temp
// file, fsync, rename) and with a single fsync of the directory at the end:
// a run that records its outcome in two files pays for one directory sync.
func WriteFiles(dir string, perm os.FileMode, files ...File) (err error) {
	if perm&0o044 != 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("directory %s: %w", dir, err)
		}
	} else if err := Ensure(dir); err != nil {
		return err
	}
	temps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range temps {
				_ = os.Remove(t)
			}
		}
	}()
	for _, f := range files {
		tmp, err := writeTemp(dir, f, perm)
		if err != nil {
			return err
		}
		temps = append(temps, tmp)
	}
	for i, f := range files {
		if err = os.Rename(temps[i], filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
		}
		removeStaleTemps(dir, f.Name)
	}
	return syncDir(dir)
}

// staleTempAge is how old a temp file must be before a later write removes
// it: far longer than any write takes, so only a killed writer's leftovers go.
const staleTempAge = 10 * time.Minute

// removeStaleTemps deletes temp files a killed writer of name left behind.
func removeStaleTemps(dir, name string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+name+".tmp-*"))
	for _, m := range matches {
		if st, err := os.Lstat(m); err == nil && time.Since(st.ModTime()) > staleTempAge {
			_ = os.Remove(m)
		}
	}
}

func writeTemp(dir string, f File, perm os.FileMode) (name string, err error) {
	path := filepath.Join(dir, f.Name)
	tmp, err := os.CreateTemp(dir, "."+f.Name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
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
	return tmp.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON through WriteFile.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
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

// ReadJSON decodes path into v. A missing file returns an error matching
// errors.Is(err, ErrNotExist); anything else that fails is a *CorruptError.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
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
