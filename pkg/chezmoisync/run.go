package chezmoisync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/statindex"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// run is the typed state of one sync: what each step found and decided,
// read by the steps after it. Fields are grouped by the step that sets them.
type run struct {
	c    *Command
	app  *cli.App
	io   *ui.Streams
	rec  *syncstate.Record
	prev *syncstate.Record // the previous run's record (nil: none or unreadable)
	dry  bool

	host      string // sanitised host name
	park      string // sync/<host>
	remoteRef string // "main"@"origin" as a revset
	jj        *jj.Client
	cm        *chezmoi.Client
	marker    marker
	planned   []string // dry run: the steps that would change something
	mode      string   // modeSync, modeResolve, ... (mode.go)
	program   []step

	// recover
	recovered *runMarker // the marker of an interrupted earlier run

	// locate
	workTree  string // the repository (holds .git / .jj); rec.SourceDir
	configSig string // the chezmoi config files' stat, to reuse what was read from them
	// chezmoiGit is chezmoi's own git automation ("commit" for
	// git.autoCommit, "add" for git.autoAdd alone, "" for none): the
	// sync's re-adds keep it away from the repository (capture.go).
	chezmoiGit    string
	chezmoiSource string // chezmoi's source directory per its config

	// prepare
	fresh bool // cloned or colocated by this run

	// push
	lockHeld *heldLock // a remote ref lock the last push met, not proven abandoned

	// apply
	backups string // the backup directory this run reserved ("" = none yet)

	// inspect
	index       *statindex.Index // the previous run's, when it still applies
	indexLoaded bool
	indexDirty  string        // why the home directory must be scanned ("" = clean)
	wc          jj.Commit     // the working-copy commit
	localAhead  bool          // commits not on the remote branch (before the fetch)
	resolving   bool          // conflicted local commits resolved in the working copy
	conflictAt  string        // a conflict to resolve: stateParked or stateRebased
	scanDone    chan struct{} // closed when the scan started by inspect ends

	// scan
	scanned  bool
	snap     *statindex.Index // taken by the scan, before it read the files
	scanErr  error
	changes  []chezmoi.Change
	managed  map[string]chezmoi.Managed
	written  map[string]string // chezmoi's entryState (nil until needed)
	cls      chezmoi.Classified
	warnings []string
	shadow   *shadow // a copy of the work tree without externals (shadow.go), when they cannot be fetched

	// capture, track, commit
	captured []string
	stray    map[string]bool // targets of source files nobody added (capture.go)
	mutated  bool            // the local history changed
	identity bool            // ensureIdentity ran

	// fetch, analyse
	fetched      bool
	offline      bool   // the fetch could not reach the remote
	hadRemote    bool   // branch@remote existed before the fetch
	remoteBefore string // its head then
	remoteMoved  bool   // dry run: git ls-remote says the remote has new commits
	lsRemote     string // dry run: the head git ls-remote reported ("-": no branch)
	committed    bool   // the commit step made a commit
	a            *analysis
	accepted     string   // the remote head this run accepted (after --accept-rewind)
	rewound      []string // commits the remote dropped, to keep on a bookmark (--accept-rewind)

	// rebase, push
	rebasedClean bool // incoming commits are in the source directory
	parked       bool
	local        []jj.Commit
	retries      int
	stale        bool          // a rebase ran after the latest analysis
	recipe       []string      // how to resolve the parked conflict
	pushErr      error         // a push failure that is not the network's
	splits       []splitTarget // targets a merge would give two source entries (split.go)
	dryParked    bool          // dry run: the rebase would conflict and park
	dryLeft      []string      // dry run: files a resolution would leave conflicted
	keptRemote   string        // the commit holding the remote's side a resolution gave up, hunk by hunk
	foldNotes    string        // the folded commits' subjects (and a held undo's trailer) for the resolution's message

	// replay, settle (settle.go)
	conflicted   []string          // the conflicted paths, before the replay
	choices      map[string]string // path -> keep-local / take-remote
	replayed     bool              // the local commits were replayed onto the remote branch
	localHead    string            // @- before the replay
	keptBookmark string            // kept/<host>/<time>, when this host's side was kept

	// undo, abort (undo.go, abort.go)
	managedBefore map[string]chezmoi.Managed // what chezmoi managed before the source moved
	undoTarget    string                     // the commit whose files the undo brings back
	undoWhat      string                     // what it takes back, for people
	undoRuns      []syncstate.Record         // the runs it takes back (--undo N)
	undoOnRemote  []string                   // commits taken back that are on the remote
}

func newRun(c *Command, app *cli.App, rec *syncstate.Record, prev *syncstate.Record) *run {
	rec.Action = c.mode()
	return &run{
		c: c, app: app, io: app.IO, rec: rec, prev: prev, dry: app.DryRun, mode: c.mode(), program: program(c),
		host:      rec.Host,
		park:      hostkey.ParkBookmark(rec.Host),
		remoteRef: jj.RemoteRef(c.Branch, c.Remote),
		jj: &jj.Client{Runner: guardRunner(app), IgnoreWorkingCopy: app.DryRun, MaxNewFileSize: c.MaxNewFileSize,
			NoAutoTrack: true},
		cm: &chezmoi.Client{Runner: guardRunner(app), Source: configuredSource(c, app), Config: existingFile(app.Getenv("CHEZMOI_CONFIG_FILE"))},
	}
}

// configuredSource is --source-dir (sourceDir) made absolute, or "".
func configuredSource(c *Command, app *cli.App) string {
	dir := c.SourceDir
	if dir == "" {
		// chezmoi exports its source directory to the commands it runs:
		// `chezmoi update` routed here (update.command) syncs the source
		// chezmoi was told to use (--source, a non-default config).
		dir = app.Getenv("CHEZMOI_SOURCE_DIR")
	}
	if dir == "" {
		return ""
	}
	dir = expandHome(dir, app.Getenv("HOME"))
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// remoteName is branch@remote as people type it.
func (r *run) remoteName() string { return r.c.Branch + "@" + r.c.Remote }

// remoteSet is a revset for branch@remote that is empty, not an error,
// when the remote branch does not exist.
func (r *run) remoteSet() string { return jj.RemoteBookmarks(r.c.Branch, r.c.Remote) }

func (r *run) done(name, status, detail string, start time.Time) {
	d := time.Since(start)
	r.rec.Steps = append(r.rec.Steps, syncstate.Step{Name: name, Status: status, DurationMS: d.Milliseconds(), Detail: detail})
	r.io.Step(status, name, detail, d)
}

func (r *run) warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.rec.Warnings = append(r.rec.Warnings, msg)
	r.io.Warnf("%s", msg)
}

// refusal stops a run before it changes anything the user did not ask
// for: a state the sync does not understand, or one only the user can
// settle. It carries the status word, the exit code and the next step.
type refusal struct {
	word string // syncstate.Refused, ConflictsPreserved, ...
	code int
	msg  string
	next string
}

func (e *refusal) Error() string { return e.msg }

// ExitCode implements exitcode.Coder.
func (e *refusal) ExitCode() int { return e.code }

func refuse(msg, next string) error {
	return &refusal{word: syncstate.Refused, code: exitcode.Refused, msg: msg, next: next}
}

func asRefusal(err error) (*refusal, bool) {
	var rf *refusal
	ok := errors.As(err, &rf)
	return rf, ok
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func expandHome(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	return p
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// stamp is the run's start in the names of what it keeps
// (kept/<host>/<stamp>, rewound/<host>/<stamp>, backups/<stamp>).
func (r *run) stamp() string { return r.rec.Start.UTC().Format(hostkey.StampLayout) }

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func emptyDir(p string) bool {
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) == 0
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func shortList(paths []string, n int) string {
	if len(paths) <= n {
		return strings.Join(paths, ", ")
	}
	return strings.Join(paths[:n], ", ") + fmt.Sprintf(" and %d more", len(paths)-n)
}

// existingFile is path when it names an existing file, else "".
func existingFile(path string) string {
	if path == "" {
		return ""
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return ""
	}
	return path
}
