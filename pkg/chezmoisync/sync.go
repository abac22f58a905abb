package chezmoisync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/chezmoi"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// syncer is one run of the pipeline. Each step records itself in rec and
// prints one line.
type syncer struct {
	c         *Command
	app       *cli.App
	io        *ui.Streams
	rec       *syncstate.Record
	host      string // sanitised host name
	park      string // sync/<host>
	remoteRef string // "main"@"origin" as a revset
	jj        *jj.Client
	cm        *chezmoi.Client
	dry       bool

	stop        bool         // nothing more to do (dry run before the repository exists)
	cloned      bool         // source() cloned the repository
	initialised bool         // source() ran jj git init
	plan        chezmoi.Plan // what capture found
	mutated     bool         // the local history changed after the first query
	local       []jj.Commit  // local commits not on the remote, @ excluded, after rebase
	last        *analysis    // the latest analysis
	// mutatedSinceAnalysis: a rebase ran after the latest analysis, so its
	// view of @- is stale.
	mutatedSinceAnalysis bool
	// rebasedClean: a rebase of this run brought incoming commits into the
	// source directory without conflicts.
	rebasedClean bool
	marked       bool       // this run wrote (or took over) the run marker: remove it at the end
	recovered    *runMarker // the marker of an interrupted earlier run, when one was found
	markWarned   bool       // the marker could not be written (warned once)
}

func newSyncer(c *Command, app *cli.App, rec *syncstate.Record) *syncer {
	return &syncer{
		c: c, app: app, io: app.IO, rec: rec, dry: app.DryRun,
		host:      rec.Host,
		park:      hostkey.ParkBookmark(rec.Host),
		remoteRef: jj.RemoteRef(c.Branch, c.Remote),
		jj:        &jj.Client{Runner: app.Runner, IgnoreWorkingCopy: app.DryRun, MaxNewFileSize: c.MaxNewFileSize},
		cm:        &chezmoi.Client{Runner: app.Runner, Source: configuredSource(c, app)},
	}
}

// configuredSource is --source-dir (sourceDir) made absolute, or "".
func configuredSource(c *Command, app *cli.App) string {
	if c.SourceDir == "" {
		return ""
	}
	dir := expandHome(c.SourceDir, app.Getenv("HOME"))
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// remoteName is branch@remote as people type it.
func (s *syncer) remoteName() string { return s.c.Branch + "@" + s.c.Remote }

func (s *syncer) done(name, status, detail string, start time.Time) {
	d := time.Since(start)
	s.rec.Steps = append(s.rec.Steps, syncstate.Step{Name: name, Status: status, DurationMS: d.Milliseconds(), Detail: detail})
	s.io.Step(status, name, detail, d)
}

func (s *syncer) run(ctx context.Context) (err error) {
	defer s.finalHead(ctx)
	// Killed runs first (one stat when there were none): before any jj
	// command below snapshots the working copy.
	if err := s.recoverInterrupted(ctx); err != nil {
		return err
	}
	defer func() {
		if ctx.Err() == nil || err == nil {
			s.unmark()
		}
	}()
	// Three read-only questions open every run: where the source directory
	// is (chezmoi source-path), what changed at home (chezmoi status) and
	// whether the history is conflict-free (jj). They are most of the no-op
	// path's time and independent, so they run side by side; the jj check
	// starts on the directory chezmoi uses unless configured otherwise and
	// is repeated only when source-path names another one.
	t := time.Now()
	var scanErr error
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		scanErr = s.scan(ctx)
	}()
	guess := s.guessSource()
	var pre checkResult
	var preDone chan struct{}
	if guess != "" && isDir(filepath.Join(guess, ".jj")) {
		preDone = make(chan struct{})
		early := *s.jj
		early.Dir = guess
		go func() {
			defer close(preDone)
			pre = check(ctx, &early)
		}()
	}
	err = s.source(ctx)
	if preDone != nil {
		<-preDone
	}
	<-scanned
	if err != nil || s.stop {
		return err
	}
	if s.cloned {
		scanErr = s.scan(ctx) // the home directory was scanned before the clone existed
	}
	if preDone == nil || guess != s.rec.SourceDir || s.initialised {
		pre = check(ctx, s.jj)
	}
	wc, ok, err := s.precheck(ctx, pre)
	if err != nil || !ok {
		return err
	}
	if wc, err = s.dropRevertArtifacts(ctx, wc); err != nil {
		return err
	}
	if scanErr != nil {
		return scanErr
	}
	if err := s.capture(ctx, t); err != nil {
		return err
	}
	if err := s.commit(ctx, wc); err != nil {
		return err
	}
	var last *analysis
	// Every way out after a clean rebase goes through apply: the rebase
	// brought incoming commits into the source directory, and a source
	// ahead of HOME is what made later captures unsafe (a failed push no
	// longer leaves it so). apply does not need the push.
	var failErr error
loop:
	for attempt := 0; ; attempt++ {
		ok, err := s.fetch(ctx)
		if err != nil || !ok {
			failErr = err
			break
		}
		a, err := s.analyse(ctx)
		if err != nil {
			failErr = err
			break
		}
		last = a
		s.last, s.mutatedSinceAnalysis = a, false
		if attempt == 0 {
			if p := a.parent(); p != nil {
				s.rec.Committed = ""
				if s.mutated {
					s.rec.Committed = p.CommitID
				}
			}
		}
		s.rec.RemoteHead = a.remote.CommitID
		s.rec.Incoming += len(a.incoming)
		if s.dry {
			return s.planRest(ctx, a)
		}
		parked, err := s.rebase(ctx, a)
		if err != nil {
			// A failed rebase leaves the repository in a state only the
			// next run's checks may judge: no apply over it.
			return err
		}
		if parked {
			// The local commits are back where they were, conflict-free
			// (checked). If they hold changes HOME has not seen yet (a
			// resolution made in the source directory that conflicted
			// again, a source edit), apply them now: leaving the source
			// ahead of HOME is what makes later captures diverge. Nothing
			// incoming is in this tree, and home edits are never
			// overwritten.
			if len(s.plan.Pending) > 0 {
				if err := s.apply(ctx); err != nil {
					s.io.Warnf("could not apply the parked local changes to the home directory: %v", err)
				}
			}
			return nil
		}
		retry, err := s.push(ctx)
		switch {
		case err != nil:
			failErr = err
			break loop
		case !retry:
			break loop
		case attempt >= s.c.PushRetries:
			s.rec.Status = syncstate.PushFailed
			s.rec.PendingPush = len(s.local)
			s.rec.NextStep = "other hosts kept pushing; your commits are safe locally and the next sync pushes them"
			failErr = fmt.Errorf("%s kept moving: gave up after %d push retries", s.remoteName(), attempt)
			break loop
		}
		s.rec.PushRetries++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff(attempt, s.host)):
		}
	}
	if ctx.Err() != nil {
		return failErr
	}
	if failErr == nil && s.rec.Status == "" {
		if err := s.unpark(ctx, last); err != nil {
			return err
		}
	}
	if (failErr != nil || s.rec.Status != "") && !s.rebasedClean {
		return failErr // stopped before anything came in: as before, no apply
	}
	if err := s.apply(ctx); err != nil {
		if failErr != nil {
			s.io.Warnf("%v", err)
			return failErr
		}
		return err
	}
	return failErr
}

// source finds the chezmoi source directory and makes sure it is a
// colocated jj repository that tracks branch@remote.
func (s *syncer) source(ctx context.Context) error {
	t := time.Now()
	dir := s.cm.Source // the configured directory, set before any goroutine started
	if dir == "" {
		dir, _ = chezmoi.DefaultSourceDir(s.app.Getenv) // chezmoi has no config file: its default
	}
	if dir == "" {
		p, err := s.cm.SourcePath(ctx)
		if err != nil {
			return fmt.Errorf("cannot ask chezmoi for its source directory (set --source-dir): %w", err)
		}
		dir = p
	}
	s.rec.SourceDir = dir
	s.jj.Dir = dir
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir() && emptyDir(dir):
		if s.c.RepoURL == "" {
			return exitcode.UsageError(fmt.Errorf("chezmoi source directory %s does not exist and no repository URL is configured: set --repo-url (repoUrl) or run chezmoi init <url>", dir))
		}
		return s.clone(ctx, dir, t)
	case err != nil:
		return err
	case !st.IsDir():
		return exitcode.UsageError(fmt.Errorf("chezmoi source directory %s is not a directory", dir))
	}
	if isDir(filepath.Join(dir, ".jj")) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return exitcode.UsageError(fmt.Errorf("chezmoi source directory %s is not a git repository (no .git): clone your dotfiles there or point --source-dir at the clone", dir))
	}
	// An existing git clone: jj init --colocate does not track the remote
	// branch, and pushing an untracked bookmark fails, so track it now.
	if err := s.jj.GitInit(ctx); err != nil {
		return fmt.Errorf("jj git init --colocate in %s: %w", dir, err)
	}
	if s.dry {
		s.done("init", ui.Skipped, "dry run: the plan continues once jj is initialised", t)
		s.stop = true
		return nil
	}
	if err := s.track(ctx); err != nil {
		return err
	}
	s.initialised = true
	s.done("init", ui.OK, "jj initialised (colocated), tracking "+s.remoteName(), t)
	return nil
}

// guessSource is the source directory before chezmoi is asked: the
// configured one, else chezmoi's default ($XDG_DATA_HOME/chezmoi). The
// early jj check runs there only when it holds .jj/; if chezmoi's config
// names another directory, the worst case is one snapshot of that other
// jj repository (a recorded operation, no content change), and the check
// is repeated on the right one.
func (s *syncer) guessSource() string {
	if s.cm.Source != "" {
		return s.cm.Source
	}
	return chezmoi.XDGSourceDir(s.app.Getenv) // a guess even with a config file; checked later
}

func (s *syncer) clone(ctx context.Context, dir string, t time.Time) error {
	if !s.dry {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
	}
	if err := s.jj.GitClone(ctx, s.c.RepoURL, dir, s.c.Remote); err != nil {
		return fmt.Errorf("cannot clone %s: %w", s.c.RepoURL, err)
	}
	if s.dry {
		s.done("clone", ui.Skipped, "dry run: the plan continues once the clone exists", t)
		s.stop = true
		return nil
	}
	if err := s.track(ctx); err != nil {
		return err
	}
	s.cloned = true
	s.done("clone", ui.OK, s.c.RepoURL+" into "+dir, t)
	return nil
}

func (s *syncer) track(ctx context.Context) error {
	if err := s.jj.Track(ctx, s.c.Branch, s.c.Remote); err != nil {
		var ee *runner.ExitError
		if errors.As(err, &ee) && (strings.Contains(ee.Stderr, "No such remote bookmark") || strings.Contains(ee.Stderr, "No matching")) {
			return exitcode.UsageError(fmt.Errorf("remote %s has no branch %s (push it first, or set --branch)", s.c.Remote, s.c.Branch))
		}
		return fmt.Errorf("cannot track %s: %w", s.remoteName(), err)
	}
	return nil
}

// checkResult is the answer of the opening jj query.
type checkResult struct {
	commits []jj.Commit
	err     error
}

// check reads the working copy, its parent and every conflicted ancestor
// in one jj query (which also snapshots the working copy).
func check(ctx context.Context, c *jj.Client) checkResult {
	commits, err := c.Commits(ctx, "@ | @- | (conflicts() & ::@)", []jj.Class{{Name: "wc", Revset: "@"}, {Name: "parent", Revset: "@-"}})
	return checkResult{commits, err}
}

// precheck refuses to start when the working copy or its ancestors hold
// unresolved conflicts: re-add would silently keep one side of them. It
// returns the working-copy commit.
func (s *syncer) precheck(ctx context.Context, pre checkResult) (jj.Commit, bool, error) {
	t := time.Now()
	if pre.err != nil {
		return jj.Commit{}, false, fmt.Errorf("cannot read the repository in %s: %w", s.rec.SourceDir, pre.err)
	}
	var wc jj.Commit
	var conflicted []jj.Commit
	for _, c := range pre.commits {
		if c.Is("wc") {
			wc = c
		}
		if c.Is("parent") && s.rec.BeforeLocal == "" {
			s.rec.BeforeLocal = c.CommitID
		}
		if c.Conflict {
			conflicted = append(conflicted, c)
		}
	}
	s.rec.AfterLocal = s.rec.BeforeLocal
	if len(conflicted) == 0 {
		return wc, true, nil
	}
	s.recordConflicts(ctx, conflicted)
	s.rec.Status = syncstate.ConflictsPreserved
	s.rec.Error = fmt.Sprintf("%d commit(s) in the working copy's history hold unresolved conflicts", len(conflicted))
	s.rec.NextStep = fmt.Sprintf("resolve them first: cd %s, edit the files listed by chezmoi-show-conflicts (or jj resolve), jj squash the fix into the conflicted commit, then run chezmoi-sync again", s.rec.SourceDir)
	s.done("check", ui.Failed, s.rec.Error+": nothing was changed", t)
	return wc, false, nil
}

func (s *syncer) recordConflicts(ctx context.Context, commits []jj.Commit) {
	for _, c := range commits {
		paths, err := s.jj.ConflictPaths(ctx, c.CommitID)
		if err != nil {
			s.io.Warnf("cannot list the conflicted files of %s: %v", c.CommitID, err)
		}
		if paths == nil {
			paths = []string{}
		}
		s.rec.Conflicts = append(s.rec.Conflicts, syncstate.Conflict{ChangeID: c.ChangeID, CommitID: c.CommitID, Paths: paths})
	}
}

// scan asks chezmoi which home files changed since it last wrote them, and
// which of those are templates (only when something changed).
func (s *syncer) scan(ctx context.Context) error {
	changes, err := s.cm.Changes(ctx)
	if err != nil {
		return fmt.Errorf("chezmoi status: %w", err)
	}
	var templates []string
	if chezmoi.NeedsTemplates(changes) {
		if templates, err = s.cm.Templates(ctx); err != nil {
			return fmt.Errorf("chezmoi managed: %w", err)
		}
	}
	s.plan = chezmoi.PlanCapture(changes, templates)
	return nil
}

// capture re-adds the home files edited since chezmoi last wrote them,
// before anything comes in from the remote. A file whose source changed
// too is merged first, or left alone and reported (merge.go).
func (s *syncer) capture(ctx context.Context, t time.Time) error {
	s.rec.Templates = s.plan.Uncapturable
	if n := len(s.plan.Uncapturable); n > 0 {
		s.io.Warnf("%d edited file(s) come from templates, which re-add cannot capture; they are left as they are and never overwritten. Move the edit into the .tmpl source (chezmoi edit <file>): %s",
			n, strings.Join(s.plan.Uncapturable, ", "))
	}
	if len(s.plan.Capture) == 0 {
		s.done("capture", ui.Skipped, "no home-directory edits", t)
		return nil
	}
	readd, unmerged, err := s.splitCapture(ctx, s.plan.Capture)
	if err != nil {
		return err
	}
	s.plan.Capture = readd
	s.rec.Captured = readd
	if len(unmerged) > 0 {
		s.rec.Unmerged = unmerged
		s.rec.NextStep = fmt.Sprintf("merge by hand what changed both at home and in the source directory: chezmoi merge %s (then run chezmoi-sync again)", strings.Join(unmerged, " "))
	}
	if len(readd) == 0 {
		s.done("capture", ui.Warn, fmt.Sprintf("%d file(s) changed on both sides left alone", len(unmerged)), t)
		return nil
	}
	if err := s.cm.ReAdd(ctx, readd); err != nil {
		return fmt.Errorf("chezmoi re-add: %w", err)
	}
	detail := fmt.Sprintf("%d file(s) re-added", len(readd))
	if n := len(s.rec.Merged); n > 0 {
		detail += fmt.Sprintf(" (%d merged with a source change first)", n)
	}
	status := ui.OK
	if len(unmerged) > 0 {
		status = ui.Warn
		detail += fmt.Sprintf(", %d changed on both sides left alone", len(unmerged))
	}
	s.done("capture", status, detail, t)
	return nil
}

// commit turns the working-copy commit into a sync commit when it holds
// changes (captured edits, or edits made in the source directory).
func (s *syncer) commit(ctx context.Context, wc jj.Commit) error {
	t := time.Now()
	dirty := !wc.Empty || len(s.plan.Capture) > 0
	if len(s.plan.Capture) > 0 && !s.dry {
		// re-add may have found nothing to copy after all; ask jj (this
		// also snapshots the working copy).
		cs, err := s.jj.Commits(ctx, "@", nil)
		if err != nil {
			return err
		}
		dirty = len(cs) == 1 && !cs[0].Empty
	}
	if !dirty {
		s.done("commit", ui.Skipped, "nothing to commit", t)
		return nil
	}
	if !s.c.AutoCommit {
		s.done("commit", ui.Skipped, "autoCommit is off: the edits stay in the working-copy commit", t)
		return nil
	}
	msg := fmt.Sprintf("chore(%s): sync dotfiles - %s", s.host, s.app.Now().Format(time.RFC3339))
	if err := s.markRunning(s.rec.BeforeLocal); err != nil {
		return err
	}
	var err error
	if wc.Description != "" {
		// Someone described the working copy by hand: keep their message.
		msg = wc.Description
		err = s.jj.New(ctx)
	} else {
		err = s.jj.Commit(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("cannot commit: %w", err)
	}
	s.mutated = true
	s.done("commit", ui.OK, msg, t)
	return nil
}

// fetch updates the remote-tracking bookmarks. An unreachable remote is not
// an error: the commit stays local and the next run pushes it.
func (s *syncer) fetch(ctx context.Context) (bool, error) {
	t := time.Now()
	res, err := s.jj.Fetch(ctx, s.c.Remote)
	if err != nil && ctx.Err() == nil {
		if locks := s.clearStaleRefLocks(res, err); len(locks) > 0 {
			s.io.Warnf("removed lock file(s) a killed git fetch left behind: %s", strings.Join(locks, ", "))
			res, err = s.jj.Fetch(ctx, s.c.Remote)
		}
	}
	if err == nil {
		s.done("fetch", ui.OK, s.c.Remote, t)
		return true, nil
	}
	if ctx.Err() != nil {
		return false, err
	}
	switch jj.RemoteKind(res, err) {
	case jj.RemoteUnknown:
		return false, exitcode.UsageError(fmt.Errorf("the repository in %s has no git remote named %s (set --remote)", s.rec.SourceDir, s.c.Remote))
	default:
		s.rec.Status = syncstate.FetchFailed
		s.rec.Error = brief.Line(errText(res, err))
		s.rec.NextStep = "your edits are committed locally; the next sync with " + s.c.Remote + " reachable pushes them"
		s.done("fetch", ui.Failed, s.c.Remote+" unreachable: "+s.rec.Error, t)
		return false, nil
	}
}

func errText(res runner.Result, err error) string {
	if tail := runner.Tail(string(res.Stderr), 2); tail != "" {
		return tail
	}
	return err.Error()
}

// analysis is what one jj query says about the repository after a fetch.
type analysis struct {
	wc, remote   jj.Commit
	parents      []jj.Commit
	local        []jj.Commit // R..@ without @
	incoming     []jj.Commit // @..R
	base         []jj.Commit // roots(R..@)-: where the local commits fork off
	parkedLocal  *jj.Commit
	parkedRemote *jj.Commit
}

func (a *analysis) parent() *jj.Commit {
	if len(a.parents) == 0 {
		return nil
	}
	return &a.parents[0]
}

func (s *syncer) analyse(ctx context.Context) (*analysis, error) {
	r := s.remoteRef
	parkL, parkR := jj.LocalBookmark(s.park), jj.RemoteBookmarks(s.park, s.c.Remote)
	classes := []jj.Class{
		{Name: "wc", Revset: "@"}, {Name: "parent", Revset: "@-"}, {Name: "remote", Revset: r},
		{Name: "local", Revset: r + "..@"}, {Name: "incoming", Revset: "@.." + r},
		{Name: "base", Revset: "roots(" + r + "..@)-"},
		{Name: "parkedLocal", Revset: parkL}, {Name: "parkedRemote", Revset: parkR},
		{Name: "ancestor", Revset: "::@"},
	}
	var parts []string
	for _, c := range classes {
		if c.Name != "ancestor" {
			parts = append(parts, "("+c.Revset+")")
		}
	}
	commits, err := s.jj.Commits(ctx, strings.Join(parts, " | "), classes)
	if err != nil {
		if jj.MissingRevision(err) {
			return nil, exitcode.UsageError(fmt.Errorf("remote %s has no branch %s (push it first, or set --branch); your edits are kept locally", s.c.Remote, s.c.Branch))
		}
		return nil, err
	}
	a := &analysis{}
	for i := range commits {
		c := commits[i]
		switch {
		case c.Is("wc"):
			a.wc = c
		case c.Is("local"):
			a.local = append(a.local, c)
		}
		if c.Is("parent") {
			a.parents = append(a.parents, c)
		}
		if c.Is("remote") {
			a.remote = c
		}
		if c.Is("incoming") {
			a.incoming = append(a.incoming, c)
		}
		if c.Is("base") {
			a.base = append(a.base, c)
		}
		if c.Is("parkedLocal") {
			a.parkedLocal = &commits[i]
		}
		if c.Is("parkedRemote") {
			a.parkedRemote = &commits[i]
		}
	}
	s.local = a.local
	return a, nil
}

// rebase moves the local commits onto the remote branch. On conflict it
// puts them back exactly where they were and parks them (returns true).
func (s *syncer) rebase(ctx context.Context, a *analysis) (bool, error) {
	t := time.Now()
	if len(a.incoming) == 0 {
		s.done("rebase", ui.Skipped, "already on top of "+s.remoteName(), t)
		return false, nil
	}
	if len(a.base) != 1 {
		return false, fmt.Errorf("cannot tell where the local commits fork off %s (%d candidates); nothing was changed", s.remoteName(), len(a.base))
	}
	wasEmpty := map[string]bool{}
	for _, c := range a.local {
		wasEmpty[c.ChangeID] = c.Empty
	}
	// No --skip-emptied: on conflict every local commit must go back, even
	// one that became empty; emptied commits are abandoned below instead.
	parent := ""
	if p := a.parent(); p != nil {
		parent = p.CommitID
	}
	if err := s.markRunning(parent); err != nil {
		return false, err
	}
	s.mutated, s.mutatedSinceAnalysis = true, true
	if err := s.jj.RebaseBranch(ctx, "@", s.remoteRef); err != nil {
		return false, fmt.Errorf("rebase onto %s: %w", s.remoteName(), err)
	}
	after, err := s.jj.Commits(ctx, s.remoteRef+"..@", []jj.Class{{Name: "wc", Revset: "@"}})
	if err != nil {
		return false, err
	}
	var conflicted, local, drop []jj.Commit
	for _, c := range after {
		if c.Conflict && !c.Is("wc") {
			conflicted = append(conflicted, c)
		}
		if c.Is("wc") {
			continue
		}
		if c.Empty && !wasEmpty[c.ChangeID] {
			drop = append(drop, c)
			continue
		}
		local = append(local, c)
	}
	if len(conflicted) == 0 {
		for _, c := range after {
			if c.Conflict { // only the working copy (autoCommit off)
				conflicted = append(conflicted, c)
			}
		}
	}
	if len(conflicted) > 0 {
		return true, s.parkConflicts(ctx, a, conflicted, t)
	}
	if len(drop) > 0 {
		ids := make([]string, len(drop))
		for i, c := range drop {
			ids[i] = c.CommitID
		}
		if err := s.jj.Abandon(ctx, strings.Join(ids, " | ")); err != nil {
			return false, fmt.Errorf("cannot drop commits already upstream: %w", err)
		}
	}
	s.local = local
	s.rebasedClean = true
	detail := fmt.Sprintf("%d local commit(s) onto %d incoming", len(local), len(a.incoming))
	if len(local) == 0 {
		detail = fmt.Sprintf("no local commits; moved onto %d incoming", len(a.incoming))
	}
	if len(drop) > 0 {
		detail += fmt.Sprintf(", %d already upstream dropped", len(drop))
	}
	s.done("rebase", ui.OK, detail, t)
	return false, nil
}

// parkConflicts undoes a conflicting rebase by rebasing the local commits
// back onto the commit they forked from (the exact trees come back), points
// sync/<host> at them and pushes that bookmark when its content changed.
// main, the remote's main and the home directory stay untouched.
func (s *syncer) parkConflicts(ctx context.Context, a *analysis, conflicted []jj.Commit, t time.Time) error {
	s.recordConflicts(ctx, conflicted)
	if err := s.jj.RebaseSource(ctx, "roots("+s.remoteRef+"..@)", a.base[0].CommitID); err != nil {
		return fmt.Errorf("cannot put the local commits back after a conflicting rebase (jj op log shows the previous state): %w", err)
	}
	// The working copy must be exactly what it was before the rebase.
	if diff, err := s.jj.DiffNames(ctx, a.wc.CommitID, "@"); err != nil || len(diff) > 0 {
		if err == nil {
			err = fmt.Errorf("files differ: %s", strings.Join(diff, ", "))
		}
		return fmt.Errorf("restoring the local commits after a conflicting rebase did not give back the same files (jj op log shows the previous state): %w", err)
	}
	s.rec.Status = syncstate.ConflictsPreserved
	var paths []string
	for _, c := range s.rec.Conflicts {
		paths = append(paths, c.Paths...)
	}
	s.rec.Error = "local edits conflict with " + s.remoteName() + " in " + strings.Join(uniq(paths), ", ")
	hasCommits := false
	for _, c := range a.local {
		if !c.Empty {
			hasCommits = true
		}
	}
	where := "in the working-copy commit"
	if hasCommits {
		if err := s.jj.BookmarkSet(ctx, s.park, "heads(("+s.remoteRef+"..@) ~ empty())"); err != nil {
			return fmt.Errorf("cannot park the local commits on %s (they are safe in the working copy's history): %w", s.park, err)
		}
		s.rec.Parked = s.park
		where = "on " + s.park
		if s.c.AutoPush {
			where += s.pushParked(ctx, a)
		}
	}
	s.rec.PendingPush = len(a.local)
	s.rec.NextStep = fmt.Sprintf("resolve: cd %s && jj rebase -b @ -d '%s', fix the conflict markers in %s, jj squash, then run chezmoi-sync again (chezmoi-show-conflicts shows the conflicts)",
		s.rec.SourceDir, s.remoteName(), strings.Join(uniq(paths), ", "))
	s.done("rebase", ui.Failed, fmt.Sprintf("conflicts in %s: local commits put back and parked %s; %s and the home directory untouched",
		strings.Join(uniq(paths), ", "), where, s.c.Branch), t)
	return nil
}

// pushParked pushes sync/<host> unless the remote already holds the same
// content (every rerun rewrites the commit ids, not the files).
func (s *syncer) pushParked(ctx context.Context, a *analysis) string {
	if a.parkedRemote != nil {
		diff, err := s.jj.DiffNames(ctx, jj.RemoteBookmarks(s.park, s.c.Remote), jj.LocalBookmark(s.park))
		if err == nil && len(diff) == 0 {
			return " (unchanged on " + s.c.Remote + ")"
		}
	}
	if res, err := s.jj.Push(ctx, s.c.Remote, s.park); err != nil {
		s.io.Warnf("could not push %s (the commits are safe locally): %s", s.park, brief.Line(errText(res, err)))
		return " (not pushed: " + s.c.Remote + " unreachable)"
	}
	return " and pushed to " + s.c.Remote
}

// push moves the branch to the last local commit and pushes it. It returns
// true when the remote moved since the fetch (the caller fetches, rebases
// and pushes again).
func (s *syncer) push(ctx context.Context) (bool, error) {
	t := time.Now()
	ahead := len(s.local)
	s.rec.PendingPush = ahead
	if ahead == 0 {
		s.done("push", ui.Skipped, "nothing to push", t)
		return false, nil
	}
	if !s.c.AutoPush {
		s.done("push", ui.Skipped, fmt.Sprintf("autoPush is off: %d commit(s) wait", ahead), t)
		return false, nil
	}
	if err := s.jj.BookmarkSet(ctx, s.c.Branch, "heads(("+s.remoteRef+"..@) ~ @)"); err != nil {
		return false, fmt.Errorf("cannot move %s: %w", s.c.Branch, err)
	}
	res, err := s.jj.Push(ctx, s.c.Remote, s.c.Branch)
	if err == nil {
		s.rec.Pushed = true
		s.rec.PendingPush = 0
		s.done("push", ui.OK, fmt.Sprintf("%d commit(s) to %s", ahead, s.remoteName()), t)
		return false, nil
	}
	if ctx.Err() != nil {
		return false, err
	}
	if locked(res, err) {
		// The remote's ref is locked: another push holds it right now, or
		// a push killed on this machine (a local remote's receive-pack
		// dies with it) left the lock behind. Retry like a race; a stale
		// lock of a local remote is removed once it is old (remote.go).
		detail := s.remoteName() + " is locked by another push: trying again"
		if lock := s.clearStaleRemoteLock(ctx); lock != "" {
			detail = "removed the stale lock " + lock + " a killed push left on " + s.c.Remote + ": pushing again"
		}
		s.done("push", ui.Warn, detail, t)
		return true, nil
	}
	switch jj.RemoteKind(res, err) {
	case jj.RemoteStale:
		s.done("push", ui.Warn, s.remoteName()+" moved since the fetch (another host pushed): fetching again", t)
		return true, nil
	case jj.RemoteNotTracking:
		if terr := s.track(ctx); terr != nil {
			return false, terr
		}
		s.done("push", ui.Warn, s.c.Branch+" did not track "+s.remoteName()+": tracking it and pushing again", t)
		return true, nil
	case jj.RemoteUnreachable:
		s.rec.Status = syncstate.PushFailed
		s.rec.Error = brief.Line(errText(res, err))
		s.rec.NextStep = "your commits are safe locally; the next sync with " + s.c.Remote + " reachable pushes them"
		s.done("push", ui.Failed, s.c.Remote+" unreachable: "+s.rec.Error, t)
		return false, nil
	default:
		s.rec.Status = syncstate.PushFailed
		s.rec.NextStep = "your commits are safe locally; fix the push error and run chezmoi-sync again"
		s.done("push", ui.Failed, brief.Line(errText(res, err)), t)
		return false, fmt.Errorf("push %s: %w", s.c.Branch, err)
	}
}

// unpark deletes sync/<host> (locally and on the remote) once its commits
// are part of the pushed history: resolved and published.
func (s *syncer) unpark(ctx context.Context, a *analysis) error {
	if a == nil || s.rec.PendingPush > 0 {
		return nil
	}
	t := time.Now()
	p := a.parkedLocal
	if p == nil {
		return nil
	}
	if !p.Is("ancestor") {
		s.done("unpark", ui.Warn, s.park+" holds commits outside the working copy's history; left alone", t)
		return nil
	}
	if err := s.jj.BookmarkDelete(ctx, s.park); err != nil {
		return fmt.Errorf("cannot delete %s: %w", s.park, err)
	}
	s.mutated = true
	detail := s.park + " deleted: its commits are on " + s.remoteName()
	if a.parkedRemote != nil {
		if !s.c.AutoPush {
			detail += " (autoPush off: still on " + s.c.Remote + ")"
		} else if res, err := s.jj.Push(ctx, s.c.Remote, s.park); err != nil {
			s.io.Warnf("could not delete %s on %s: %s", s.park, s.c.Remote, brief.Line(errText(res, err)))
			detail += " (still on " + s.c.Remote + ")"
		} else {
			detail += " and on " + s.c.Remote
		}
	}
	s.done("unpark", ui.OK, detail, t)
	return nil
}

// apply writes what came in to the home directory; files edited there
// since chezmoi last wrote them are left alone and reported.
func (s *syncer) apply(ctx context.Context) error {
	t := time.Now()
	// After an interrupted run the source may be ahead of HOME in ways the
	// opening scan did not see (it ran before the repair): apply anyway.
	if s.rec.Incoming == 0 && len(s.plan.Pending) == 0 && s.recovered == nil {
		s.done("apply", ui.Skipped, "nothing came in", t)
		return nil
	}
	_, err := s.cm.Apply(ctx)
	if err == nil {
		s.done("apply", ui.OK, "", t)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	changes, serr := s.cm.Changes(ctx)
	if serr != nil {
		return fmt.Errorf("chezmoi apply: %w", err)
	}
	skipped := chezmoi.Differing(changes)
	if len(skipped) == 0 {
		return fmt.Errorf("chezmoi apply: %w", err)
	}
	s.rec.Skipped = skipped
	s.io.Warnf("left %d home file(s) alone because they changed since chezmoi last wrote them (chezmoi diff shows how; chezmoi merge or re-add settles them): %s",
		len(skipped), strings.Join(skipped, ", "))
	s.done("apply", ui.Warn, fmt.Sprintf("%d file(s) skipped", len(skipped)), t)
	return nil
}

// finalHead records the local head after the run: the analysis's view
// when nothing changed after it, else one more query.
func (s *syncer) finalHead(ctx context.Context) {
	if s.last != nil && !s.mutatedSinceAnalysis {
		if p := s.last.parent(); p != nil {
			s.rec.AfterLocal = p.CommitID
		}
		return
	}
	if !s.mutated || ctx.Err() != nil || s.dry {
		return
	}
	if cs, err := s.jj.Commits(ctx, "@-", nil); err == nil && len(cs) > 0 {
		s.rec.AfterLocal = cs[0].CommitID
	}
}

// planRest is the dry run's view past the fetch: it asks the remote (git
// ls-remote, read-only) whether it moved and prints what a real run would do.
func (s *syncer) planRest(ctx context.Context, a *analysis) error {
	t := time.Now()
	res, err := s.app.Runner.Run(ctx, runner.Cmd{Name: "git", Args: []string{"ls-remote", "--", s.c.Remote, "refs/heads/" + s.c.Branch}, Dir: s.rec.SourceDir, Timeout: time.Minute})
	moved := false
	switch {
	case err != nil:
		s.done("remote", ui.Warn, s.c.Remote+" unreachable: a real run would record fetch-failed and keep the commit", t)
	case res.Out() == "":
		s.done("remote", ui.Warn, s.c.Remote+" has no branch "+s.c.Branch, t)
	default:
		id, _, _ := strings.Cut(res.Out(), "\t")
		moved = id != a.remote.CommitID
		if moved {
			s.done("remote", ui.OK, s.remoteName()+" has new commits: a real run would fetch, rebase and apply them", t)
		} else {
			s.done("remote", ui.OK, s.remoteName()+" unchanged since the last fetch", t)
		}
	}
	if len(a.incoming) > 0 || moved {
		_ = s.jj.RebaseBranch(ctx, "@", s.remoteRef)
	}
	ahead := len(a.local)
	if s.mutated || len(s.plan.Capture) > 0 {
		ahead++
	}
	if ahead > 0 && s.c.AutoPush {
		_ = s.jj.BookmarkSet(ctx, s.c.Branch, "@-")
		_, _ = s.jj.Push(ctx, s.c.Remote, s.c.Branch)
	}
	s.rec.PendingPush = ahead
	if len(a.incoming) > 0 || moved || len(s.plan.Pending) > 0 {
		_, _ = s.cm.Apply(ctx)
	}
	s.done("plan", ui.Skipped, "dry run: nothing was changed", t)
	return nil
}

// summary prints the one-line result.
func (s *syncer) summary(code int) {
	r := s.rec
	var parts []string
	if n := len(r.Captured); n > 0 {
		parts = append(parts, fmt.Sprintf("%d captured", n))
	}
	if r.Committed != "" {
		parts = append(parts, "committed "+brief.ID(r.Committed))
	}
	if r.Pushed {
		parts = append(parts, "pushed")
	} else if r.PendingPush > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting to push", r.PendingPush))
	}
	if r.Incoming > 0 {
		parts = append(parts, fmt.Sprintf("%d incoming", r.Incoming))
	}
	if r.Parked != "" {
		parts = append(parts, "parked on "+r.Parked)
	}
	if n := len(r.Skipped); n > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", n))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	word := r.Status
	switch {
	case code == exitcode.OK && word == syncstate.Success:
		word = s.io.Green(word)
	case word == syncstate.Failed || word == syncstate.ConflictsPreserved:
		word = s.io.Red(word)
	default:
		word = s.io.Yellow(word)
	}
	prefix := "chezmoi-sync: "
	if r.DryRun {
		prefix = "chezmoi-sync (dry run): "
	}
	s.io.Println(fmt.Sprintf("%s%s: %s (%s)", prefix, word, strings.Join(parts, ", "), ui.FormatDuration(time.Duration(r.DurationMS)*time.Millisecond)))
	if r.NextStep != "" {
		s.io.Println("next: " + r.NextStep)
	}
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

func emptyDir(p string) bool {
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) == 0
}
