// Package state owns the suite's state directory: where it is, how it and
// its files are opened (relative to a checked directory handle, never
// through a link, never another user's: see Handle), how files in it are
// written (atomically, 0600), how they are read back (a corrupt file is a
// clear error naming it, never a panic) and the lock that serialises runs.
package state

import (
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"
)

// SuiteName names the XDG state and config sub-directories.
const SuiteName = "nixdots"

// Dir resolves the state directory: the --state-dir flag, else
// $STATE_DIRECTORY (set by systemd's StateDirectory=; the first entry when
// several are listed), else $XDG_STATE_HOME/nixdots. getenv is injected so
// tests and systemd units see exactly their own environment.
func Dir(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if sd := getenv("STATE_DIRECTORY"); sd != "" {
		first, _, _ := strings.Cut(sd, ":")
		return first
	}
	if home := getenv("XDG_STATE_HOME"); home != "" {
		return filepath.Join(home, SuiteName)
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "state", SuiteName)
	}
	return filepath.Join(xdg.StateHome, SuiteName)
}

// Ensure creates dir (and parents) with mode 0700 and checks it as OpenDir
// does. A path that exists but is not a directory is bad input (exit 2); an
// unsafe one is an *UnsafeError (exit 10).
func Ensure(dir string) error {
	h, err := OpenDir(dir)
	if err != nil {
		return err
	}
	return h.Close()
}
