// Package exitcode is the suite's single map from outcomes to process exit
// codes. Only main exits; everything else returns errors that carry a code, so
// deferred unlocks always run.
package exitcode

import (
	"context"
	"errors"
	"os/exec"
)

// Codes every binary of the suite uses. They are documented in README.md
// ("Exit codes"); scripts and systemd units depend on them, so never renumber.
const (
	OK          = 0   // success, or nothing to do
	Failure     = 1   // a step failed; the message says which
	Usage       = 2   // bad flags, arguments, configuration or input
	Locked      = 3   // another run holds the lock (and --wait expired)
	Offline     = 4   // the remote was unreachable (chezmoi-sync --exit-code)
	Conflicts   = 5   // unresolved conflicts exist or were parked
	SyncFailed  = 6   // chezmoi-status --check: the last sync did not succeed
	Stale       = 7   // chezmoi-status --check: last success older than --max-age
	UnitsFailed = 8   // rebuild-smart: switched, but some systemd units failed
	Vetoed      = 9   // rebuild-smart: a pre-rebuild hook refused the run
	Unsafe      = 10  // a state directory or file (or metrics file) is unsafe to use: a link, another user's, writable by others
	Refused     = 11  // chezmoi-sync: a repository or remote state it will not touch; nothing was changed
	Waiting     = 12  // chezmoi-status --check: home edits wait for you (the sync cannot capture them)
	RolledBack  = 13  // rebuild-smart: the new system failed its checks (or was not confirmed) and the previous one runs again
	Interrupted = 130 // SIGINT, SIGTERM, SIGHUP or SIGQUIT cancelled the run
	BrokenPipe  = 141 // stdout was a pipe its reader closed early (| head); the shell's code for SIGPIPE
)

// Coder is implemented by errors that know their exit code.
type Coder interface {
	error
	ExitCode() int
}

// Error is an error with an exit code attached.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode implements Coder.
func (e *Error) ExitCode() int { return e.Code }

// Wrap attaches code to err; a nil err stays nil.
func Wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// UsageError is shorthand for a bad-input error (exit 2).
func UsageError(err error) error { return Wrap(Usage, err) }

// Silent is an error whose message has already been reported to the user;
// main only exits with its code.
type Silent struct{ Code int }

func (s Silent) Error() string { return "" }

// ExitCode implements Coder.
func (s Silent) ExitCode() int { return s.Code }

// FromError maps an error to the exit code main returns.
func FromError(err error) int {
	if err == nil {
		return OK
	}
	// errors.As finds the outermost Coder. A child's *exec.ExitError (kept
	// inside runner.ExitError) has an ExitCode method too, but a failed git
	// or nix must not leak its own code (128, 100, ...) as ours: only the
	// suite's codes are returned, any other failure is Failure.
	var c Coder
	if errors.As(err, &c) {
		if _, child := c.(*exec.ExitError); !child {
			return c.ExitCode()
		}
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return Failure
}

// Table lists every code with its meaning, for --help texts and docs.
var Table = []struct {
	Code    int
	Name    string
	Meaning string
}{
	{OK, "ok", "success, or nothing to do"},
	{Failure, "failure", "a step failed; the message says which"},
	{Usage, "usage", "bad flags, arguments, configuration or input"},
	{Locked, "locked", "another run holds the lock"},
	{Offline, "offline", "the remote was unreachable (chezmoi-sync --exit-code)"},
	{Conflicts, "conflicts", "unresolved conflicts exist or were parked"},
	{SyncFailed, "sync-failed", "chezmoi-status --check: the last sync did not succeed"},
	{Stale, "stale", "chezmoi-status --check: last success older than --max-age"},
	{UnitsFailed, "units-failed", "rebuild-smart: switched, but some systemd units failed"},
	{Vetoed, "vetoed", "rebuild-smart: a pre-rebuild hook refused the run"},
	{Unsafe, "unsafe-state", "a state directory or file is unsafe to use (a link, another user's, writable by others); nothing was written to it"},
	{Refused, "refused", "chezmoi-sync: a repository or remote state it will not touch (nothing was changed)"},
	{Waiting, "edits-waiting", "chezmoi-status --check: home edits wait for you (the sync cannot capture them)"},
	{RolledBack, "rolled-back", "rebuild-smart: the new system failed its post-checks or activation, or a remote target's activation was not confirmed, and the previous generation was put back"},
	{Interrupted, "interrupted", "SIGINT, SIGTERM, SIGHUP or SIGQUIT cancelled the run"},
	{BrokenPipe, "broken-pipe", "standard output was a pipe its reader closed early (| head): the run went to its end, its output did not"},
}

// Use is one code as a binary documents it: each binary lists the codes it
// can return (cli.Spec.ExitCodes) and may say what a code means for it;
// the numbers themselves come from this package only.
type Use struct {
	Code    int
	Meaning string // "": the suite's meaning from Table
}

// Uses lists codes with the suite's meanings.
func Uses(codes ...int) []Use {
	out := make([]Use, len(codes))
	for i, c := range codes {
		out[i] = Use{Code: c}
	}
	return out
}

// Describe returns the meaning a binary gives code: its own, else the
// suite's, else "" for a code the suite does not know.
func (u Use) Describe() string {
	if u.Meaning != "" {
		return u.Meaning
	}
	return MeaningOf(u.Code)
}

// MeaningOf is the suite's meaning of code ("" when it is not one of ours).
func MeaningOf(code int) string {
	for _, e := range Table {
		if e.Code == code {
			return e.Meaning
		}
	}
	return ""
}
