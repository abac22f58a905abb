// Package history is the record of NixOS builds that rebuild-smart (and the
// pre-switch check for plain `nh os switch` runs) append and rebuild-rollback
// reads: one JSON object per line in rebuild-history.jsonl in the state
// directory.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/state"
)

// FileName is the history file inside the state directory.
const FileName = "rebuild-history.jsonl"

// FilePerm is the most the history file allows: group and others may read it
// when they may enter its directory (see state.Handle), never write it.
const FilePerm = 0o644

// Outcomes.
const (
	OutcomeSuccess     = "success"
	OutcomeUnitsFailed = "units-failed" // switched; some units failed
	OutcomeFailed      = "failed"
	OutcomeRolledBack  = "rolled-back" // written by rebuild-rollback
	OutcomeActivated   = "activated"   // recorded by the pre-switch check (outside rebuild-smart)
	OutcomeDeclined    = "declined"    // built, then "no" at the --ask prompt: nothing was activated
	// OutcomeChecksFailed is a build that was activated, failed its
	// post-checks (failed units, missing secrets, a health check) and was
	// rolled back (rebuild-smart --rollback-on-failure); the rollback has a
	// record of its own.
	OutcomeChecksFailed = "checks-failed"
	// OutcomeDeleted marks a generation rebuild-rollback --clean deleted.
	// The build's own records stay as they were; this one says when it
	// went.
	OutcomeDeleted = "deleted"
)

// Entry is one build. Fields are the documented schema (docs/json.md).
type Entry struct {
	Time   time.Time `json:"time"`
	Host   string    `json:"host"`
	Flake  string    `json:"flake,omitempty"`
	Commit string    `json:"commit,omitempty"` // flake repository commit that was built
	// Generation is the system profile generation this build made or
	// activated; absent (0) when it made none: a failed or declined build,
	// --test, --build. Never the generation that merely kept running.
	Generation int `json:"generation,omitempty"`
	// Toplevel is the system that was built ("" when the build failed
	// before there was one).
	Toplevel      string `json:"toplevel,omitempty"`
	FlakeLockHash string `json:"flake_lock_sha256,omitempty"`
	Action        string `json:"action,omitempty"` // switch, boot, test, build
	Outcome       string `json:"outcome"`
	Source        string `json:"source"` // rebuild-smart, pre-switch-check, rebuild-rollback
	// Dirty marks a build of a tree that is not exactly Commit: the
	// auto-commit was off or failed, or files were left out of it.
	Dirty bool `json:"dirty,omitempty"`
	// Diff is what changed from the previous system to this one, as shown
	// before the activation.
	Diff *Diff `json:"diff,omitempty"`
	// FailedChecks names the post-checks a checks-failed build failed
	// ("units: foo.service", "secrets", "health: 10-ping").
	FailedChecks []string `json:"failed_checks,omitempty"`
	// DotfilesCommit is the commit of the chezmoi source directory
	// (DotfilesSource) that chezmoi-sync had applied when this system was
	// built: what `rebuild-rollback --with-dotfiles` will move the home
	// back to.
	DotfilesCommit string `json:"dotfiles_commit,omitempty"`
	DotfilesSource string `json:"dotfiles_source,omitempty"`
}

// Diff is the closure diff's summary kept in the history.
type Diff struct {
	nixsys.DiffCounts
	Summary string `json:"summary"`
}

// Successful reports whether the entry is a build one may roll back to.
func (e Entry) Successful() bool {
	return e.Outcome == OutcomeSuccess || e.Outcome == OutcomeUnitsFailed || e.Outcome == OutcomeActivated
}

// Append adds e as one line. O_APPEND of one short line is atomic enough for
// concurrent writers (the pre-switch check may run inside rebuild-smart's
// switch) and the file is fsynced before returning.
func Append(dir string, e Entry) error {
	h, err := state.OpenDir(dir)
	if err != nil {
		return err
	}
	defer h.Close()
	path := h.Join(FileName)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	// FilePerm: the other side (a user's rebuild-rollback, for the records
	// root's pre-switch check makes) may read it where the directory lets it.
	f, err := h.OpenFile(FileName, os.O_RDWR|os.O_CREATE|os.O_APPEND, FilePerm)
	if err != nil {
		return err
	}
	defer f.Close()
	// A crash mid-append leaves a last line without its newline (Load
	// ignores it); drop that torn line so this entry starts a line of its
	// own and the file stays loadable.
	if err := dropTornTail(f); err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	return f.Sync()
}

// dropTornTail truncates f after its last newline when it does not end
// with one.
func dropTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	const chunk = 4096
	end := st.Size()
	buf := make([]byte, chunk)
	for pos := end; pos > 0; {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if pos+int64(i)+1 == end {
				return nil // ends with a newline: nothing torn
			}
			return f.Truncate(pos + int64(i) + 1)
		}
	}
	return f.Truncate(0) // one torn line and nothing else
}

// Load returns every entry, oldest first, reading read-only (so a user reads
// root's history; see state.OpenDirReadOnly). A missing file yields an error
// matching fs.ErrNotExist; a link or a file others may write, a
// *state.UnsafeError. A malformed complete line is a *state.CorruptError
// naming the file and line; a final line without its newline is what a crash
// mid-append leaves and is ignored.
func Load(dir string) ([]Entry, error) {
	path := filepath.Join(dir, FileName)
	data, err := state.ReadFile(path)
	var ue *state.UnsafeError
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.As(err, &ue) {
		return nil, err
	}
	if err != nil {
		return nil, &state.CorruptError{Path: path, Err: err}
	}
	complete := data
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		complete = data[:i+1]
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(complete))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(l, &e); err != nil {
			return nil, &state.CorruptError{Path: path, Err: fmt.Errorf("line %d: %w", n, err)}
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
