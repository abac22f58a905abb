// Package syncstate is the record chezmoi-sync leaves behind and
// chezmoi-status / chezmoi-show-conflicts / rebuild-smart read: the seed's
// one-word last-sync-status file (kept for compatibility with scripts that
// cat it) next to a JSON record with the details, and an append-only log of
// past runs.
package syncstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/state"
)

// File names inside the state directory.
const (
	StatusFile  = "last-sync-status" // one word, newline-terminated
	RecordFile  = "last-sync.json"   // Record
	HistoryFile = "sync-history.jsonl"
	// HistoryKeep bounds the history log; older lines are dropped on write.
	HistoryKeep = 200
)

// Files are the state files Save writes, plus extra (a run's own markers):
// what chezmoi-sync checks right after taking its lock (cli.App.Lock), so
// a file Save would refuse stops the run before it syncs anything.
func Files(extra ...string) []string {
	return append([]string{RecordFile, StatusFile, HistoryFile}, extra...)
}

// Status words. They are the seed's, plus the ones a careful run needs.
const (
	Success            = "success"
	FetchFailed        = "fetch-failed"
	PushFailed         = "push-failed"
	ConflictsPreserved = "conflicts-preserved"
	Failed             = "failed"      // any other error; Record.Error says which
	Interrupted        = "interrupted" // SIGINT, SIGTERM, SIGHUP, SIGQUIT
	// Refused: the repository or the remote is in a state the sync will
	// not touch (a git rebase in progress, conflict markers jj does not
	// see, a rewound or unrelated remote, no identity, chezmoi's own
	// git.autoPush); nothing was changed. Record.NextStep says what to do.
	Refused = "refused"
	// EditsWaiting: the sync did its work, but home edits are left for the
	// user (a template, a modify_ target, an unmerged file, a file in an
	// exact_ directory...): Record.Waiting lists them with a fix each.
	EditsWaiting = "edits-waiting"
)

// Words lists every status word, for metrics and documentation.
var Words = []string{Success, EditsWaiting, FetchFailed, PushFailed, ConflictsPreserved, Refused, Failed, Interrupted}

// Waiting is a home edit the sync did not capture and left alone.
type Waiting struct {
	Path string `json:"path"` // absolute home path
	Kind string `json:"kind"` // template, modify, exact-extra, ... (docs/chezmoi-sync.md)
	Next string `json:"next"` // what the user can do
}

// Backup is a home file chezmoi never wrote that apply replaced or removed:
// its copy in the state directory.
type Backup struct {
	Path string `json:"path"`
	Copy string `json:"copy"`
}

// Conflict is one conflicted commit and its files.
type Conflict struct {
	ChangeID string   `json:"change_id"`
	CommitID string   `json:"commit_id"`
	Paths    []string `json:"paths"`
}

// Step is one step of a run, for the human summary and the JSON record.
type Step struct {
	Name       string `json:"name"`
	Status     string `json:"status"` // ok, skipped, warn, failed
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail,omitempty"`
}

// Resolution is one conflicted file a run resolved: which side it took,
// and the commit that holds the side it did not take.
type Resolution struct {
	Path   string `json:"path"`             // relative to the repository (source_dir)
	Target string `json:"target,omitempty"` // the home file, when the path has one
	How    string `json:"how"`              // keep-local, take-remote or trivial
	Took   string `json:"took"`             // local, remote or both (a merge of the two)
	Reason string `json:"reason,omitempty"` // trivial: why no choice was needed
	// Discarded is the side not taken ("local", "remote" or "" when
	// nothing was dropped), DiscardedCommit the commit holding it.
	Discarded       string `json:"discarded,omitempty"`
	DiscardedCommit string `json:"discarded_commit,omitempty"`
	Bookmark        string `json:"bookmark,omitempty"` // kept/<host>/<time>, when this host's side was kept
}

// Kept is where --abort put this host's side of a conflict.
type Kept struct {
	Bookmark string `json:"bookmark"`
	Commit   string `json:"commit"`
}

// Undo is what an undo took back.
type Undo struct {
	Undone []time.Time `json:"undone,omitempty"` // start of each run taken back (none for --undo-to)
	To     string      `json:"to"`               // the commit whose files HOME and the source now hold
	Revert string      `json:"revert,omitempty"` // the commit that did it (its id when made)
	// Remote: commits taken back that are on <branch>@<remote> (undo never
	// rewrites the remote; --publish publishes the revert).
	Remote    []string `json:"on_remote,omitempty"`
	Published bool     `json:"published,omitempty"` // the revert was pushed (--publish)
	Held      bool     `json:"held,omitempty"`      // the revert waits for --publish
	// Dropped: local commits that no longer changed anything against the
	// remote (an undo of an unpublished undo), dropped instead of kept.
	Dropped []string `json:"dropped,omitempty"`
}

// Changed reports whether the run changed HOME or the repository in a way
// chezmoi-sync --undo can take back: something came in, something was
// captured and committed, a conflict was resolved or given up, an undo.
func (r *Record) Changed() bool {
	return !r.DryRun && r.BeforeLocal != "" &&
		(len(r.Applied) > 0 || len(r.Removed) > 0 || r.Committed != "" || len(r.Resolutions) > 0 || r.Kept != nil || r.Undo != nil)
}

// Record is the JSON record of one chezmoi-sync run. Its fields are the
// documented schema (docs/json.md); add fields, never rename them.
type Record struct {
	Version     int        `json:"version"` // schema version, currently 1
	Status      string     `json:"status"`
	Start       time.Time  `json:"start"`
	DurationMS  int64      `json:"duration_ms"`
	Host        string     `json:"host"`
	SourceDir   string     `json:"source_dir"`
	Remote      string     `json:"remote"`
	Branch      string     `json:"branch"`
	DryRun      bool       `json:"dry_run,omitempty"`
	BeforeLocal string     `json:"commit_before"`          // local head before the run
	AfterLocal  string     `json:"commit_after"`           // local head after the run
	RemoteHead  string     `json:"remote_head,omitempty"`  // <branch>@<remote> after fetch
	Committed   string     `json:"committed,omitempty"`    // commit created for captured edits
	Pushed      bool       `json:"pushed"`                 // the branch was pushed by this run
	PendingPush int        `json:"pending_push"`           // local commits not on the remote after the run
	Incoming    int        `json:"incoming"`               // commits that came in and were applied
	PushRetries int        `json:"push_retries,omitempty"` // push races retried
	Parked      string     `json:"parked,omitempty"`       // sync/<host> bookmark holding parked commits
	Conflicts   []Conflict `json:"conflicts"`
	Skipped     []string   `json:"skipped_files"`            // home files apply refused to overwrite
	Templates   []string   `json:"uncaptured_templates"`     // .tmpl targets re-add cannot capture
	Captured    []string   `json:"captured,omitempty"`       // home files re-added into the source by this run
	Merged      []string   `json:"merged,omitempty"`         // of those, home edits merged with a source change first (3-way)
	Unmerged    []string   `json:"unmerged_files,omitempty"` // home edits NOT captured: the source changed too and no clean merge exists
	Waiting     []Waiting  `json:"waiting,omitempty"`        // every edit left for the user (templates and unmerged included), with a fix
	Backups     []Backup   `json:"backups,omitempty"`        // home files chezmoi never wrote that apply replaced, and their copies
	Removed     []string   `json:"removed,omitempty"`        // home files apply removed (remove_, .chezmoiremove, exact_)
	Tracked     []string   `json:"tracked,omitempty"`        // new source files this run started tracking (managed by chezmoi)
	Untracked   []string   `json:"untracked,omitempty"`      // new source files left out of the history (not managed by chezmoi)
	Externals   []string   `json:"unreachable_externals,omitempty"`
	Warnings    []string   `json:"warnings,omitempty"`        // chezmoi's warnings (a changed config template) and the sync's
	Dropped     []string   `json:"dropped_commits,omitempty"` // commits this host had that the remote no longer holds (rewind)
	// AcceptedRemote is the remote head this host last integrated; a later
	// remote head that does not descend from it is a rewind.
	AcceptedRemote string `json:"accepted_remote_head,omitempty"`
	// The undo record: what the run changed in HOME and the repository
	// (chezmoi-sync --undo takes it back; docs/chezmoi-sync.md, "Undo").
	Action    string   `json:"action,omitempty"`    // "" (a sync), resolve, continue, abort, undo, publish
	OpBefore  string   `json:"op_before,omitempty"` // the jj operation before the run changed the repository
	Applied   []string `json:"applied,omitempty"`   // home files apply wrote or removed (what came in)
	Published []string `json:"published,omitempty"` // commits this run pushed to <branch>@<remote>
	// Held: local commits are kept from the remote because an undo was not
	// published (chezmoi-sync --publish publishes them).
	Held        bool         `json:"held,omitempty"`
	Resolutions []Resolution `json:"resolutions,omitempty"` // conflicted files this run resolved, and where the side not taken is
	Kept        *Kept        `json:"kept,omitempty"`        // --abort: where this host's side of the conflict is kept
	Undo        *Undo        `json:"undo,omitempty"`        // --undo, --undo-to: what was taken back
	Steps       []Step       `json:"steps"`
	Error       string       `json:"error,omitempty"`
	NextStep    string       `json:"next_step,omitempty"` // what the user should do now
	LastSuccess time.Time    `json:"last_success,omitempty"`
}

// Save writes the record, the one-word status file and a history line, each
// atomically. LastSuccess is carried forward from the previous record.
func Save(dir string, r *Record) error {
	r.Version = 1
	if r.Status == Success {
		r.LastSuccess = r.Start
	} else if r.LastSuccess.IsZero() {
		if prev, err := Load(dir); err == nil {
			r.LastSuccess = prev.LastSuccess
		}
	}
	if r.Conflicts == nil {
		r.Conflicts = []Conflict{}
	}
	if r.Skipped == nil {
		r.Skipped = []string{}
	}
	if r.Templates == nil {
		r.Templates = []string{}
	}
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Join(dir, RecordFile), err)
	}
	h, err := state.OpenDir(dir)
	if err != nil {
		return err
	}
	defer h.Close()
	// The record and the word are what readers trust: both atomic, one
	// directory sync for the pair (this is on every no-op sync's path).
	if err := h.WriteFiles(0o600,
		state.File{Name: RecordFile, Data: append(data, '\n')},
		state.File{Name: StatusFile, Data: []byte(r.Status + "\n")},
	); err != nil {
		return err
	}
	return appendHistory(h, r)
}

// Load reads the last record. A missing record matches
// errors.Is(err, fs.ErrNotExist) ("never synced"); a garbled one is a
// *state.CorruptError naming the file.
func Load(dir string) (*Record, error) {
	var r Record
	if err := state.ReadJSON(filepath.Join(dir, RecordFile), &r); err != nil {
		return nil, err
	}
	if r.Status == "" {
		return nil, &state.CorruptError{Path: filepath.Join(dir, RecordFile), Err: errors.New("no status field")}
	}
	return &r, nil
}

// LoadWord reads the plain status word (what the seed's scripts read).
func LoadWord(dir string) (string, error) {
	data, err := state.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// historyTrimBytes is the size past which the log is rewritten down to its
// last HistoryKeep lines; below it an append is one write.
const historyTrimBytes = 1 << 20

// appendHistory adds one line with O_APPEND and no fsync: the log is
// informational (the record is authoritative), and a line torn by a crash is
// skipped by History. Only when the file has grown past historyTrimBytes is it
// rewritten, atomically, to the last HistoryKeep lines.
func appendHistory(h *state.Handle, r *Record) error {
	path := h.Join(HistoryFile)
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	// The log holds remote URLs and paths: private, whoever may enter
	// the directory.
	f, err := h.OpenFile(HistoryFile, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	st, serr := f.Stat()
	// A crash mid-append can leave a last line without its newline; start a
	// fresh line so this record is not glued onto the torn one.
	if serr == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	if serr != nil || st.Size()+int64(len(line)) <= historyTrimBytes {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &state.CorruptError{Path: path, Err: err}
	}
	lines, err := readLines(f)
	if err != nil {
		return &state.CorruptError{Path: path, Err: err}
	}
	// Keep at most HistoryKeep lines and half the threshold, so the next
	// rewrite is many appends away.
	keep, size := 0, 0
	for i := len(lines) - 1; i >= 0 && keep < HistoryKeep && (keep == 0 || size+len(lines[i])+1 <= historyTrimBytes/2); i-- {
		keep++
		size += len(lines[i]) + 1
	}
	lines = lines[len(lines)-keep:]
	return h.WriteFiles(0o600, state.File{Name: HistoryFile, Data: append(bytes.Join(lines, []byte("\n")), '\n')})
}

func readLines(r io.Reader) ([][]byte, error) {
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out, sc.Err()
}

// History returns up to limit (at most HistoryKeep) past records, newest first. Lines that do not
// parse are skipped: the log is informational, the record is authoritative.
func History(dir string, limit int) ([]Record, error) {
	lines, err := readHistory(dir)
	var ue *state.UnsafeError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.As(err, &ue):
		return nil, err
	case err != nil:
		return nil, &state.CorruptError{Path: filepath.Join(dir, HistoryFile), Err: err}
	}
	return lastRecords(lines, limit), nil
}

// readHistory reads the log's lines, read-only.
func readHistory(dir string) ([][]byte, error) {
	h, err := state.OpenDirReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := h.OpenFile(HistoryFile, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLines(f)
}

// lastRecords decodes up to limit lines from the end, newest first.
func lastRecords(lines [][]byte, limit int) []Record {
	if limit <= 0 || limit > HistoryKeep {
		limit = HistoryKeep
	}
	var out []Record
	for i := len(lines) - 1; i >= 0 && len(out) < limit; i-- {
		var r Record
		if json.Unmarshal(lines[i], &r) == nil {
			out = append(out, r)
		}
	}
	return out
}
