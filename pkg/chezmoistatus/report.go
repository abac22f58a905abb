package chezmoistatus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/mergetext"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/nixdots/nixdots/pkg/state"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Report is the --json document of chezmoi-status; docs/chezmoi-status.md
// describes every field. Add fields, never rename them.
type Report struct {
	Version   int    `json:"version"` // schema version, currently 1
	Host      string `json:"host"`
	SourceDir string `json:"source_dir"`
	StateDir  string `json:"state_dir"`
	Remote    string `json:"remote"`
	Branch    string `json:"branch"`
	Upstream  string `json:"upstream"` // <branch>@<remote>

	SourceExists   bool `json:"source_dir_exists"`
	JJInitialized  bool `json:"jj_initialized"`
	UpstreamExists bool `json:"upstream_exists"` // <branch>@<remote> known (fetched at least once)
	Synced         bool `json:"synced"`          // a sync record exists

	SyncRunning bool          `json:"sync_running"`
	SyncHolder  *state.Holder `json:"sync_holder"`

	LastSync    *syncstate.Record `json:"last_sync"`    // chezmoi-sync's record, as written
	LastSuccess *time.Time        `json:"last_success"` // null: never succeeded
	Fetched     bool              `json:"fetched"`      // --fetch refreshed the remote for this report

	PendingPush []jj.StatusCommit `json:"pending_push"` // local commits not on <branch>@<remote>
	Incoming    []jj.StatusCommit `json:"incoming"`     // <branch>@<remote> commits not under @, as of the last fetch
	Parked      []Parked          `json:"parked"`

	// RepositoryError is why jj could not read the repository ("" when it
	// could): conflicts, pending and incoming commits are then unknown.
	RepositoryError string `json:"repository_error,omitempty"`

	Conflicts     int      `json:"conflicts"` // conflicted commits and parked bookmarks of this host
	ConflictFiles []string `json:"conflict_files"`
	// ResolvedFiles: conflicted under the working copy, resolved in its
	// files (the hand recipe done): chezmoi-sync --continue publishes them.
	ResolvedFiles []string `json:"resolved_files,omitempty"`

	Drift     *Drift   `json:"drift"`                // null when chezmoi could not be asked
	Templates []string `json:"uncaptured_templates"` // templates whose targets changed: re-add cannot capture them

	Log     []jj.StatusCommit  `json:"log"`     // the last --limit commits under @
	History []syncstate.Record `json:"history"` // the last --limit sync runs, newest first

	Check    Check    `json:"check"`
	Warnings []string `json:"warnings"`
}

// Parked is one sync/<host> bookmark.
type Parked struct {
	Name     string `json:"name"`   // sync/<host>
	Remote   string `json:"remote"` // "" for the local bookmark
	Host     string `json:"host"`
	ThisHost bool   `json:"this_host"`
	CommitID string `json:"commit_id"`
	Pushed   bool   `json:"pushed"` // local bookmark whose copy on the remote points at the same commit
	Ahead    int    `json:"ahead"`  // commits not on <branch>@<remote>
	// Stale: nothing left in it (Ahead 0 with the remote branch known):
	// Next says how it goes away, since nothing else will for some.
	Stale   bool   `json:"stale,omitempty"`
	Next    string `json:"next,omitempty"`
	tracked bool
}

// Drift is the home directory against the source state (chezmoi status).
// Paths are relative to the home directory.
type Drift struct {
	ChangedLocally []string     `json:"changed_locally"` // edited since chezmoi last wrote them
	Capturable     []string     `json:"capturable"`      // of those, what the next sync captures
	WouldApply     []string     `json:"would_apply"`     // apply would change them
	Entries        []DriftEntry `json:"entries"`
	// Waiting are the edits the next sync cannot capture and leaves alone
	// (templates, modify_ targets, a loosened private_ file, an unmanaged
	// file in an exact_ directory, ...), each with what to do.
	Waiting []chezmoi.Waiting `json:"waiting"`
}

// DriftEntry is one line of chezmoi status.
type DriftEntry struct {
	Path  string `json:"path"`
	Local string `json:"local"` // X: change since chezmoi last wrote the file (" ", A, D, M, R)
	Apply string `json:"apply"` // Y: what chezmoi apply would do (" ", A, D, M, R)
}

// chezmoi waits for its persistent-state lock while an apply runs; a status
// command must not hang behind it for long.
const chezmoiTimeout = 20 * time.Second

// homeRel shows a target path relative to the home directory, as chezmoi
// status does by default.
func homeRel(home, p string) string {
	if home != "" {
		if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(home, "/")+"/"); ok {
			return rel
		}
	}
	return p
}

// gather collects the report: the sync record, then the jj steps in
// order, with chezmoi asked about the home directory in parallel (the two
// do not depend on each other and chezmoi is the slower). A failed query
// becomes a warning (a status command shows what it can); a step that
// returns an error ends the jj part (the later steps need its answer) and
// marks the scan failed, so --check does not call the state healthy.
func gather(ctx context.Context, r runner.Runner, rep *Report, home string, limit int) (recordCorrupt, scanFailed bool, unsafe error) {
	g := &gatherer{r: r, rep: rep, limit: limit}
	if err := g.record(); err != nil {
		return false, false, err
	}

	type homeResult struct {
		drift     *Drift
		templates []string
		warnings  []string
	}
	homeDone := make(chan homeResult, 1)
	go func() {
		var h homeResult
		h.drift, h.templates, h.warnings = gatherHome(ctx, r, rep, home)
		homeDone <- h
	}()
	defer func() {
		h := <-homeDone
		rep.Drift, rep.Templates = h.drift, append(rep.Templates, h.templates...)
		rep.Warnings = append(rep.Warnings, h.warnings...)
	}()

	if !rep.JJInitialized {
		return g.recordCorrupt, false, nil
	}
	g.q = &jj.StatusQuery{Runner: r, Dir: rep.SourceDir}
	for _, step := range []func(context.Context) error{g.parked, g.commits, g.conflicts, g.log} {
		if err := step(ctx); err != nil {
			g.warn("%v", err)
			g.failed(err)
			break
		}
	}
	return g.recordCorrupt, g.scanFailed, nil
}

// failed notes that jj could not read the repository (a corrupt
// working-copy state, a missing operation head, ...): what the scan would
// have found is unknown, which --check must not call healthy.
func (g *gatherer) failed(err error) {
	g.scanFailed = true
	if g.rep.RepositoryError != "" {
		return
	}
	// jj's own words; the whole command line is in the warning.
	var ee *runner.ExitError
	if errors.As(err, &ee) && strings.TrimSpace(ee.Stderr) != "" {
		g.rep.RepositoryError = brief.Line(ee.Stderr)
	} else {
		g.rep.RepositoryError = brief.Line(err.Error())
	}
}

// RepositoryNext is what to do about a repository jj cannot read; the
// sync refuses to run until it is fixed.
func RepositoryNext(dir string) string {
	return "check it with jj status and git status in " + dir + " (jj op log shows what happened); chezmoi-sync refuses to run until jj can read it"
}

// gatherer holds what the steps of gather share.
type gatherer struct {
	r     runner.Runner
	q     *jj.StatusQuery
	rep   *Report
	limit int
	bms   []jj.StatusBookmark // sync/* bookmarks, local and remote

	recordCorrupt, scanFailed bool
}

func (g *gatherer) warn(format string, a ...any) {
	g.rep.Warnings = append(g.rep.Warnings, fmt.Sprintf(format, a...))
}

// record reads chezmoi-sync's last record and, unless --limit 0, the
// recent runs. A link or another user's file where the record belongs is
// not read, and not a "corrupt record" either: it is returned (exit 10).
func (g *gatherer) record() error {
	rep := g.rep
	rec, err := syncstate.Load(rep.StateDir)
	var ue *state.UnsafeError
	switch {
	case errors.As(err, &ue):
		return err
	case err == nil:
		rep.LastSync, rep.Synced = rec, true
		if !rec.LastSuccess.IsZero() {
			t := rec.LastSuccess.UTC()
			rep.LastSuccess = &t
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		g.recordCorrupt = true
		g.warn("%v", err)
	}
	if g.limit == 0 {
		return nil // 0 means none (syncstate.History reads 0 as "all it keeps")
	}
	hist, err := syncstate.History(rep.StateDir, g.limit)
	switch {
	case errors.As(err, &ue):
		return err
	case err != nil:
		g.warn("%v", err)
	default:
		rep.History = append(rep.History, hist...)
	}
	return nil
}

// parked lists the sync/<host> bookmarks; a parked state pushed to the
// remote unchanged is listed once, as pushed.
func (g *gatherer) parked(ctx context.Context) error {
	rep := g.rep
	bms, err := g.q.Bookmarks(ctx, hostkey.ParkPrefix+"*")
	if err != nil {
		return fmt.Errorf("jj bookmark list failed: %w", err)
	}
	g.bms = nonNil(bms)
	local := map[string]string{}
	for _, b := range bms {
		if b.Remote == "" {
			local[b.Name] = b.CommitID
		}
	}
	pushed := map[string]bool{}
	for _, b := range bms {
		if b.Remote == rep.Remote && local[b.Name] == b.CommitID {
			pushed[b.Name] = true
		}
	}
	for _, b := range bms {
		if b.Remote != "" && (b.Remote != rep.Remote || pushed[b.Name]) {
			continue // other remotes; or the same parked state, listed once as pushed
		}
		p := Parked{Name: b.Name, Remote: b.Remote, Host: strings.TrimPrefix(b.Name, hostkey.ParkPrefix), CommitID: b.CommitID, tracked: b.Tracked}
		p.ThisHost, p.Pushed = p.Host == showconflicts.HostKey(rep.Host), pushed[b.Name]
		rep.Parked = append(rep.Parked, p)
	}
	return nil
}

// commits classifies, in one jj process, the upstream head, the pending
// and incoming commits, and how far each parked bookmark is ahead. Every
// "U..X" is cut to the descendants of fork_point(U | X): before the first
// fetch U is empty and U..X would otherwise be the whole history.
func (g *gatherer) commits(ctx context.Context) error {
	rep := g.rep
	up := showconflicts.UpstreamRevset(rep.Branch, rep.Remote)
	since := func(x string) string {
		return fmt.Sprintf("((%s..%s) & descendants(fork_point(%s | %s)))", up, x, up, x)
	}
	classes := []jj.StatusClass{
		{Name: "up", Revset: up},
		{Name: "pending", Revset: since("@") + " ~ empty()"},
		{Name: "incoming", Revset: "@.." + up},
	}
	for i, p := range rep.Parked {
		if p.CommitID != "" {
			classes = append(classes, jj.StatusClass{Name: fmt.Sprintf("p%d", i), Revset: since(p.CommitID)})
		}
	}
	revsets := make([]string, len(classes))
	for i, c := range classes {
		revsets[i] = c.Revset
	}
	commits, err := g.q.Classified(ctx, strings.Join(revsets, " | "), classes)
	if err != nil {
		return fmt.Errorf("jj log failed: %w", err)
	}
	for _, c := range commits {
		rep.UpstreamExists = rep.UpstreamExists || c.In["up"]
	}
	if !rep.UpstreamExists {
		g.warn("%s is unknown here: the repository has never been fetched from %s, or the remote has no branch %s", rep.Upstream, rep.Remote, rep.Branch)
		return nil
	}
	for _, c := range commits {
		if c.In["pending"] {
			rep.PendingPush = append(rep.PendingPush, c)
		}
		if c.In["incoming"] {
			rep.Incoming = append(rep.Incoming, c)
		}
		for i := range rep.Parked {
			if c.In[fmt.Sprintf("p%d", i)] {
				rep.Parked[i].Ahead++
			}
		}
	}
	for i := range rep.Parked {
		staleNext(&rep.Parked[i], rep)
	}
	return nil
}

// staleNext marks a parked bookmark with nothing left in it (its commits
// are on the remote branch, or were abandoned) and says how it goes away:
// this host's sync deletes its own (the local one, or the remote copy it
// tracks); any other copy on the remote stays until someone deletes it,
// which loses nothing.
func staleNext(p *Parked, rep *Report) {
	if p.Ahead > 0 || p.CommitID == "" {
		return
	}
	p.Stale = true
	if p.ThisHost && (p.Remote == "" || p.tracked) {
		p.Next = "nothing left in it: the next chezmoi-sync deletes it here and on " + rep.Remote
		return
	}
	p.Next = "nothing left in it (its commits are on " + rep.Upstream + "): delete it on " + rep.Remote + " with git -C " +
		showconflicts.ShellQuote(rep.SourceDir) + " push " + showconflicts.ShellQuote(rep.Remote) + " --delete " + showconflicts.ShellQuote(p.Name)
}

// conflicts runs chezmoi-show-conflicts' scan. A sync that parked nothing
// on a bookmark (the conflicting edits were never committed) left them in
// the working copy: that is checked too.
func (g *gatherer) conflicts(ctx context.Context) error {
	rep := g.rep
	wcCheck := rep.LastSync != nil && rep.LastSync.Status == syncstate.ConflictsPreserved && rep.LastSync.Parked == ""
	scan, err := showconflicts.Run(ctx, showconflicts.Options{Runner: g.r, SourceDir: rep.SourceDir, Remote: rep.Remote, Branch: rep.Branch, Host: rep.Host,
		CheckWorkingCopy: wcCheck, Bookmarks: g.bms})
	if err != nil {
		// The recent commits can still be listed.
		g.warn("conflict scan failed: %v", err)
		g.failed(err)
		return nil
	}
	rep.Conflicts, rep.ConflictFiles, rep.ResolvedFiles = len(scan.Conflicts), scan.Files, scan.ResolvedFiles
	return nil
}

// log lists the last --limit commits under @ (none for --limit 0); the
// report's health does not depend on them.
func (g *gatherer) log(ctx context.Context) error {
	if g.limit == 0 {
		return nil
	}
	var err error
	if g.rep.Log, err = g.q.Commits(ctx, "::@ ~ root()", g.limit); err != nil {
		g.warn("jj log failed: %v", err)
	}
	return nil
}

// nonNil keeps an empty list distinct from "not listed yet".
func nonNil(b []jj.StatusBookmark) []jj.StatusBookmark {
	if b == nil {
		return []jj.StatusBookmark{}
	}
	return b
}

// gatherHome asks chezmoi about the home directory: drift, sorted by the
// sync's own rules (chezmoi.Classify) into what the next sync captures
// and what waits for the user.
func gatherHome(ctx context.Context, r runner.Runner, rep *Report, home string) (drift *Drift, templates, warnings []string) {
	if !rep.SourceExists {
		return nil, nil, nil
	}
	warn := func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) }
	cq := &chezmoi.Client{Runner: r, Source: rep.SourceDir, Timeout: chezmoiTimeout}
	changes, err := cq.Changes(ctx)
	if err != nil {
		warn("chezmoi status failed, drift unknown: %v", err)
		return nil, nil, warnings
	}
	d := &Drift{ChangedLocally: []string{}, Capturable: []string{}, WouldApply: []string{}, Entries: []DriftEntry{}, Waiting: []chezmoi.Waiting{}}
	for _, e := range changes {
		rel := homeRel(home, e.Path)
		d.Entries = append(d.Entries, DriftEntry{Path: rel, Local: string(e.Actual), Apply: string(e.Target)})
		if e.Actual != ' ' {
			d.ChangedLocally = append(d.ChangedLocally, rel)
		}
		if e.Target != ' ' {
			d.WouldApply = append(d.WouldApply, rel)
		}
	}
	if len(changes) == 0 {
		return d, nil, warnings
	}
	managed, err := cq.Managed(ctx)
	if err != nil {
		warn("chezmoi managed failed, what the next sync captures is unknown: %v", err)
		return d, nil, warnings
	}
	written, _ := cq.LastWritten(ctx)
	c := chezmoi.Classify(chezmoi.Input{Changes: changes, Managed: managed, Written: written, Lstat: os.Lstat})
	capture, held := holdBack(c.Capture, rep.LastSync)
	for _, p := range append(capture, c.Links...) {
		d.Capturable = append(d.Capturable, homeRel(home, p))
	}
	for _, w := range append(c.Waiting, held...) {
		w.Path = homeRel(home, w.Path)
		d.Waiting = append(d.Waiting, w)
		if w.Kind == chezmoi.WaitTemplate {
			templates = append(templates, w.Path)
		}
	}
	return d, templates, warnings
}

// holdBack takes out of what Classify would capture the edits the sync
// will not capture after all, which Classify's rules alone do not see:
// a home file holding conflict markers (the sync's own rule, checked
// here on the file as it is now), and an edit the last sync could not
// merge with the source's change or re-add (its merge attempt is not
// repeated here: while chezmoi still shows the file changed, it waits).
func holdBack(capture []string, last *syncstate.Record) (keep []string, held []chezmoi.Waiting) {
	recorded := map[string]chezmoi.Waiting{}
	if last != nil {
		for _, w := range last.Waiting {
			if w.Kind == chezmoi.WaitUnmerged || w.Kind == chezmoi.WaitNotCaptured {
				recorded[w.Path] = chezmoi.Waiting{Path: w.Path, Kind: w.Kind, Next: w.Next}
			}
		}
	}
	for _, p := range capture {
		switch w, ok := recorded[p]; {
		case holdsConflict(p):
			held = append(held, chezmoi.Waiting{Path: p, Kind: chezmoi.WaitMarkers, Next: chezmoi.WaitNext(chezmoi.WaitMarkers, p)})
		case ok:
			if w.Next == "" {
				w.Next = chezmoi.WaitNext(w.Kind, p)
			}
			held = append(held, w)
		default:
			keep = append(keep, p)
		}
	}
	return keep, held
}

// holdsConflict: a home file holding a complete conflict-marker block.
func holdsConflict(path string) bool {
	data, ok := showconflicts.ReadSmall(path)
	return ok && mergetext.HasConflict(data)
}

// awaitsContinue: the conflicts the last sync left are all resolved in the
// working copy's files; what is left is chezmoi-sync --continue.
func (rep *Report) awaitsContinue() bool {
	return rep.Conflicts == 0 && len(rep.ResolvedFiles) > 0
}
