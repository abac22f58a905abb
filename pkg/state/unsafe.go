package state

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/nixdots/nixdots/pkg/exitcode"
)

// UnsafeError is a state directory or file (or a metrics file) the suite
// refuses to use: a link, not a regular file, another user's, writable by
// group or others. Nothing was written to it. Exit code 10.
type UnsafeError struct {
	Path   string
	Kind   string // "state directory", "state file", "metrics file"
	Reason string // why, starting with "it ..."
	Fix    string // what to do
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing the %s %s: %s; %s", e.Kind, e.Path, e.Reason, e.Fix)
}

// ExitCode implements exitcode.Coder.
func (e *UnsafeError) ExitCode() int { return exitcode.Unsafe }

func unsafeLink(path, kind, target string) *UnsafeError {
	reason := "it is a symbolic link"
	if target != "" {
		reason += " (to " + target + ")"
	}
	return &UnsafeError{Path: path, Kind: kind,
		Reason: reason + " and state is never read or written through a link",
		Fix:    "remove the link (its target was not touched)"}
}

func unsafeOwner(path, kind string, owner, me uint32, readOnly bool) *UnsafeError {
	e := &UnsafeError{Path: path, Kind: kind,
		Reason: fmt.Sprintf("it is owned by %s, not by %s who runs this", userName(owner), userName(me))}
	switch {
	case readOnly:
		e.Reason += ", and only your own or root's state is read"
		e.Fix = "read a state directory of your own or root's"
	case me == 0:
		e.Reason += ", and root uses only root-owned state"
		e.Fix = "run as that user, or give root a state directory of its own (--state-dir)"
	default:
		e.Fix = "run as that user, or use a state directory of your own (--state-dir)"
	}
	return e
}

func unsafeWritable(path, kind string, mode uint32) *UnsafeError {
	return &UnsafeError{Path: path, Kind: kind,
		Reason: fmt.Sprintf("group or others may write it (mode %04o), so its content may not be its owner's", mode&0o7777),
		Fix:    fmt.Sprintf("check it, then chmod go-w %s", path)}
}

// nodeKind names a non-regular file type for messages.
func nodeKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "a special file"
}

// userName is "alice (uid 1000)", or "uid 1000" without a passwd entry.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// euid is the effective uid, the owner state must have.
func euid() uint32 { return uint32(os.Geteuid()) }
