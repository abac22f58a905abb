package chezmoisync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// fetchStep updates the remote-tracking bookmarks. An unreachable remote is
// not an error: the commits stay local, what a clean rebase of an earlier
// attempt brought in is still applied, and the next run pushes.
type fetchStep struct{}

func (fetchStep) name() string { return "fetch" }

func (fetchStep) plan(_ context.Context, r *run) (plan, error) {
	return plan{does: "fetch " + r.c.Remote, changes: true}, nil
}

// preview asks the remote (git ls-remote, read-only) whether it moved.
func (fetchStep) preview(ctx context.Context, r *run) string {
	res, err := guardRunner(r.app).Run(ctx, runner.Cmd{Name: "git", Args: []string{"ls-remote", "--", r.c.Remote, "refs/heads/" + r.c.Branch}, Dir: r.workTree, Timeout: time.Minute})
	switch {
	case err != nil:
		return r.c.Remote + " unreachable: a real run would record fetch-failed and keep your commits"
	case res.Out() == "":
		r.lsRemote = "-"
		return r.c.Remote + " has no branch " + r.c.Branch
	}
	id, _, _ := strings.Cut(res.Out(), "\t")
	r.lsRemote = id
	if id == r.remoteBefore {
		return r.remoteName() + " unchanged since the last fetch"
	}
	r.remoteMoved = true
	return r.remoteName() + " has new commits: a real run would fetch, rebase and apply them"
}

func (fetchStep) run(ctx context.Context, r *run) (outcome, error) {
	// The working copy was snapshotted by inspect's query, and a fetch
	// that abandons nothing (jj.Client.Fetch) never moves it: no second
	// snapshot (a walk of every file of the repository).
	fetcher := r.noSnapshot()
	res, err := fetcher.Fetch(ctx, r.c.Remote)
	if err != nil && ctx.Err() == nil {
		if locks := r.clearStaleRefLocks(res, err); len(locks) > 0 {
			r.io.Warnf("removed lock file(s) a killed git fetch left behind: %s", strings.Join(locks, ", "))
			res, err = fetcher.Fetch(ctx, r.c.Remote)
		}
	}
	switch {
	case err == nil:
		r.fetched = true
		return outcome{detail: r.c.Remote}, nil
	case ctx.Err() != nil:
		return outcome{}, err
	case jj.RemoteKind(res, err) == jj.RemoteUnknown:
		return outcome{}, exitcode.UsageError(fmt.Errorf("the repository in %s has no git remote named %s (set --remote)", r.workTree, r.c.Remote))
	}
	r.rec.Status = syncstate.FetchFailed
	r.rec.Error = brief.Line(errText(res, err))
	r.rec.NextStep = "your edits are committed locally; the next sync with " + r.c.Remote + " reachable pushes them"
	r.offline = true
	if resolves(r.mode) || r.mode == modeUndo {
		// Resolving needs no network: go on with the remote branch as last
		// fetched; publishing waits for the next run.
		return outcome{status: ui.Failed, detail: r.c.Remote + " unreachable: " + r.rec.Error + " (going on with " + r.remoteName() + " as last fetched)"}, nil
	}
	if slices.Contains(programNames(r.program), "refetch") {
		// Fetched before the capture: capture and commit still run (the
		// edit is committed locally); refetch then goes on at apply.
		return outcome{status: ui.Failed, detail: r.c.Remote + " unreachable: " + r.rec.Error}, nil
	}
	return outcome{status: ui.Failed, detail: r.c.Remote + " unreachable: " + r.rec.Error, next: "apply"}, nil
}

// errText is the line that says why a jj command failed: its first
// "Error:" (or git's "fatal:"/"error:") line; else the last lines of
// stderr. jj prints hints and warnings around the error, which must not
// hide it.
func errText(res runner.Result, err error) string {
	if line := jj.ErrorLine(string(res.Stderr)); line != "" {
		return line
	}
	if tail := runner.Tail(string(res.Stderr), 2); tail != "" {
		return tail
	}
	return err.Error()
}

// refetchStep is the fetch after the commit: the fetch before the
// capture already ran, so it only fetches again when a push race sent the
// program back here, and goes on at apply when the remote was unreachable.
type refetchStep struct{}

func (refetchStep) name() string { return "refetch" }

func (refetchStep) plan(ctx context.Context, r *run) (plan, error) {
	switch {
	case r.retries > 0:
		return fetchStep{}.plan(ctx, r)
	case r.offline && resolves(r.mode):
		// Resolving needs no network: go on with the remote branch as
		// last fetched (the fetch step said so).
		return plan{skip: "remote unreachable", quiet: true}, nil
	case r.offline:
		return plan{does: "skip to apply: " + r.c.Remote + " unreachable"}, nil
	}
	return plan{skip: "fetched before the capture", quiet: true}, nil
}

func (refetchStep) run(ctx context.Context, r *run) (outcome, error) {
	if r.retries == 0 && r.offline && !resolves(r.mode) {
		return outcome{next: "apply"}, nil
	}
	return fetchStep{}.run(ctx, r)
}

// precheckStep refuses a deleted, unrelated or rewound remote branch right
// after the fetch, before anything is captured or committed (refusals
// change nothing). analyseStep judges again after the commit, with the
// local commits complete.
type precheckStep struct{}

func (precheckStep) name() string { return "precheck" }

func (precheckStep) plan(_ context.Context, r *run) (plan, error) {
	switch {
	case r.offline:
		return plan{skip: "remote unreachable", quiet: true}, nil
	case !r.dry && !r.scanned && r.wc.Empty && !r.resolving:
		// Nothing to capture, track or commit: analyse judges alone (the
		// no-op path pays no extra jj query).
		return plan{skip: "nothing to capture", quiet: true}, nil
	}
	return plan{does: "check the remote branch before capturing"}, nil
}

func (precheckStep) run(ctx context.Context, r *run) (outcome, error) {
	if r.dry && r.lsRemote == "-" {
		return outcome{}, r.missingRemote()
	}
	if r.dry && r.remoteMoved {
		// Not fetched: only a head this host already has (a rewind to an
		// older commit) can be judged.
		return outcome{}, r.judgeUnfetched(ctx)
	}
	a, err := r.analyse(ctx)
	if err != nil {
		return outcome{}, err
	}
	return outcome{}, r.judgeRemote(a)
}

// judgeUnfetched (dry run) judges the head git ls-remote reported when
// this host already has that commit: the commits under the accepted head
// it lacks were dropped, as the real run's fetch would show.
func (r *run) judgeUnfetched(ctx context.Context) error {
	acc := r.acceptedRemote()
	if !isHex(r.lsRemote) || !isHex(acc) || r.c.AcceptRewind {
		return nil
	}
	known, err := r.jj.Commits(ctx, "present("+r.lsRemote+")", nil)
	if err != nil || len(known) == 0 {
		return nil
	}
	gone, err := r.jj.Commits(ctx, "::"+acc+" ~ ::"+r.lsRemote, nil)
	if err != nil || len(gone) == 0 {
		return nil
	}
	return r.judgeRemote(&analysis{remote: known[0], dropped: gone, accepted: true, shared: true})
}

// retrackStep tracks sync/<host>@<remote> again when a killed push left
// it untracked on this host's own commits (see analysis.parkedUntracked).
// Another machine's sync/<host> (the same host name) is never tracked.
type retrackStep struct{}

func (retrackStep) name() string { return "retrack" }

func (retrackStep) plan(_ context.Context, r *run) (plan, error) {
	if r.a == nil || !r.a.parkedUntracked {
		return plan{skip: "tracked", quiet: true}, nil
	}
	return plan{does: fmt.Sprintf("track %s@%s again (a killed push left it untracked, which makes its commits immutable for jj)", r.park, r.c.Remote), changes: true}, nil
}

func (retrackStep) run(ctx context.Context, r *run) (outcome, error) {
	if err := r.jj.Track(ctx, r.park, r.c.Remote); err != nil {
		return outcome{}, fmt.Errorf("cannot track %s@%s: %w", r.park, r.c.Remote, err)
	}
	r.a.parkedUntracked = false
	return outcome{detail: fmt.Sprintf("%s@%s tracked again (a push of it was interrupted)", r.park, r.c.Remote)}, nil
}

// analysis is what one jj query says about the repository after a fetch.
type analysis struct {
	wc, remote   jj.Commit
	parents      []jj.Commit
	local        []jj.Commit // R..@ without @
	incoming     []jj.Commit // @..R
	base         []jj.Commit // roots(R..@)-: where the local commits fork off
	anon         []jj.Commit // local commits without author or committer
	dropped      []jj.Commit // commits under the accepted head the remote no longer holds
	accepted     bool        // the head this host last integrated is known here
	shared       bool        // it shares a commit (other than the root) with the remote's head
	parkedLocal  *jj.Commit
	parkedRemote *jj.Commit
	parkedGone   bool // sync/<host> deleted here, still tracked on the remote
	// parkedUntracked: sync/<host>@<remote> holds this host's commits but
	// is not tracked (a killed push); retrackStep tracks it.
	parkedUntracked bool
	held            bool // an unpublished undo holds the local commits back
}

func (a *analysis) parent() *jj.Commit {
	if len(a.parents) == 0 {
		return nil
	}
	return &a.parents[0]
}

// analyseStep reads the repository after the fetch and refuses remote
// states that would lose or invent history: the remote branch deleted, a
// remote that shares no history with the local repository (origin
// re-pointed), and a rewind (a force-push dropped commits this host had):
// those are never erased from HOME unless --accept-rewind says so.
type analyseStep struct{}

func (analyseStep) name() string { return "analyse" }

func (analyseStep) plan(context.Context, *run) (plan, error) {
	return plan{does: "compare the local commits with " + "the remote branch"}, nil
}

func (analyseStep) run(ctx context.Context, r *run) (outcome, error) {
	a, err := r.analyse(ctx)
	if err != nil {
		return outcome{}, err
	}
	if r.a == nil {
		if p := a.parent(); p != nil && r.committed {
			r.rec.Committed = p.CommitID // the id at creation, before any rebase
		}
	}
	r.a, r.stale, r.local = a, false, a.local
	r.rec.RemoteHead = a.remote.CommitID
	if r.retries == 0 {
		r.rec.Incoming = len(a.incoming)
	} else {
		r.rec.Incoming += len(a.incoming)
	}
	if err := r.judgeRemote(a); err != nil {
		return outcome{}, err
	}
	r.rec.AcceptedRemote = a.remote.CommitID
	return outcome{}, nil
}

func (r *run) analyse(ctx context.Context) (*analysis, error) {
	classes := r.analysisClasses()
	var parts []string
	for _, c := range classes {
		if c.Name != "ancestor" {
			parts = append(parts, "("+c.Revset+")")
		}
	}
	// Read as the last command left the repository: the steps that change
	// it snapshot the working copy themselves.
	commits, err := r.noSnapshot().Commits(ctx, strings.Join(parts, " | "), classes)
	if err != nil {
		if jj.MissingRevision(err) {
			return nil, r.missingRemote()
		}
		return nil, err
	}
	a := &analysis{}
	for i := range commits {
		a.add(&commits[i])
	}
	a.parkedGone = a.parkedGone && a.parkedLocal == nil
	return a, nil
}

func (r *run) analysisClasses() []jj.Class {
	rr := r.remoteRef
	classes := []jj.Class{
		{Name: "wc", Revset: "@"}, {Name: "parent", Revset: "@-"}, {Name: "remote", Revset: rr},
		{Name: "local", Revset: rr + "..@"}, {Name: "incoming", Revset: "@.." + rr},
		{Name: "base", Revset: "roots(" + rr + "..@)-"},
		{Name: "anon", Revset: "(author_email(exact:\"\") | committer_email(exact:\"\")) & (" + rr + "..@) ~ @"},
		{Name: "anonAuthor", Revset: "author_email(exact:\"\") & (" + rr + "..@) ~ @"},
		{Name: "parkedLocal", Revset: jj.LocalBookmark(r.park)}, {Name: "parkedRemote", Revset: jj.RemoteBookmarks(r.park, r.c.Remote)},
		{Name: "parkedTracked", Revset: "tracked_remote_bookmarks(exact:" + jj.TemplateString(r.park) + ", exact:" + jj.TemplateString(r.c.Remote) + ")"},
		// A held undo: the bookmark, or the trailer in the revert itself.
		{Name: "held", Revset: "(" + jj.LocalBookmark(holdBookmark(r.host)) + " | " + heldRevset(r.host) + ") & (" + rr + "..@)"},
		{Name: "ancestor", Revset: "::@"},
	}
	if acc := r.acceptedRemote(); acc != "" && isHex(acc) {
		classes = append(classes, jj.Class{Name: "dropped", Revset: "::present(" + acc + ") ~ ::" + rr},
			// The head this host integrated, and the newest commit it shares
			// with the remote's head: none means origin now holds another
			// repository (re-pointed), not a rewind of this one.
			jj.Class{Name: "accepted", Revset: "present(" + acc + ")"},
			jj.Class{Name: "shared", Revset: "heads(::present(" + acc + ") & ::" + rr + ") ~ root()"})
	}
	return classes
}

// acceptedRemote is the remote head the previous run integrated.
func (r *run) acceptedRemote() string {
	if r.accepted != "" {
		return r.accepted
	}
	if r.prev == nil {
		return ""
	}
	if r.prev.AcceptedRemote != "" {
		return r.prev.AcceptedRemote
	}
	return r.prev.RemoteHead
}

func (a *analysis) add(c *jj.Commit) {
	switch {
	case c.Is("wc"):
		a.wc = *c
	case c.Is("local"):
		a.local = append(a.local, *c)
	}
	for _, k := range []struct {
		class string
		list  *[]jj.Commit
	}{{"parent", &a.parents}, {"incoming", &a.incoming}, {"base", &a.base}, {"anon", &a.anon}, {"dropped", &a.dropped}} {
		if c.Is(k.class) {
			*k.list = append(*k.list, *c)
		}
	}
	if c.Is("remote") {
		a.remote = *c
	}
	if c.Is("parkedLocal") {
		a.parkedLocal = c
	}
	if c.Is("parkedRemote") {
		a.parkedRemote = c
		// An untracked sync/<host>@<remote> on this host's own commits: a
		// push of it was killed after the remote took it and before jj
		// recorded it. jj treats untracked remote bookmarks as immutable,
		// so every rebase of those commits would fail.
		a.parkedUntracked = !c.Is("parkedTracked") && (c.Is("ancestor") || c.Is("parkedLocal"))
	}
	a.accepted = a.accepted || c.Is("accepted")
	a.shared = a.shared || c.Is("shared")
	a.held = a.held || c.Is("held")
	a.parkedGone = a.parkedGone || c.Is("parkedTracked")
}

// missingRemote: the analysis could not find branch@remote. When this
// host has seen it before, it was deleted on the remote: nothing local is
// touched (jj is told to keep the commits the fetch would abandon).
func (r *run) missingRemote() error {
	if r.acceptedRemote() == "" && r.rec.RemoteHead == "" && !r.hadRemote {
		return exitcode.UsageError(fmt.Errorf("remote %s has no branch %s (push it first, or set --branch); your edits are kept locally", r.c.Remote, r.c.Branch))
	}
	return refuse(fmt.Sprintf("branch %s was deleted on %s: nothing local was changed (your commits and files are as they were)", r.c.Branch, r.c.Remote),
		fmt.Sprintf("restore it on %s (from this host: cd %s && jj bookmark set %s -r %s --allow-backwards && jj git push --remote %s -b %s), then run chezmoi-sync again",
			r.c.Remote, r.workTree, r.c.Branch, brief.ID(r.acceptedRemoteOr()), r.c.Remote, r.c.Branch))
}

func (r *run) acceptedRemoteOr() string {
	if acc := r.acceptedRemote(); acc != "" && isHex(acc) {
		return acc
	}
	return "@-"
}

// judgeRemote refuses a remote without common history and a rewind. The
// first is never a rewind (--accept-rewind would apply a foreign
// repository's files and run its scripts): the remote's head shares no
// commit with the head this host last integrated, or the local commits
// start at the root while the remote's do not.
func (r *run) judgeRemote(a *analysis) error {
	root := strings.Repeat("0", len(a.remote.CommitID))
	unrelated := a.accepted && !a.shared && a.remote.CommitID != root
	if unrelated || len(a.base) == 1 && a.base[0].CommitID == root && len(a.local) > 0 && a.remote.CommitID != root {
		return refuse(fmt.Sprintf("%s shares no history with the local repository (was %s re-pointed at another repository?): nothing was applied or pushed (--accept-rewind does not take another repository)", r.remoteName(), r.c.Remote),
			fmt.Sprintf("check the remote: git -C %s remote get-url %s; point it back at your dotfiles repository (cd %s && jj git remote set-url %s URL && jj git fetch --remote %s), then run chezmoi-sync again",
				r.workTree, r.c.Remote, r.workTree, r.c.Remote, r.c.Remote))
	}
	if len(a.dropped) == 0 || r.accepted != "" {
		return nil
	}
	r.rec.Dropped = commitIDs(a.dropped)
	if r.c.AcceptRewind {
		r.rewound = r.rec.Dropped
		return nil
	}
	r.rec.AcceptedRemote = r.acceptedRemote()
	return refuse(fmt.Sprintf("%s was rewound on %s: %s this host had are no longer on it (%s): nothing was changed, your files keep them",
		r.remoteName(), r.c.Remote, plural(len(a.dropped), "commit"), describe(a.dropped)),
		fmt.Sprintf("if the rewind was deliberate, run chezmoi-sync --accept-rewind (your home directory then follows %s; the dropped commits stay on a local rewound/%s bookmark); if not, restore %s on %s from this host: cd %s && jj bookmark set %s -r %s --allow-backwards && jj git push --remote %s -b %s",
			r.remoteName(), r.host, r.c.Branch, r.c.Remote, r.workTree, r.c.Branch, brief.ID(r.acceptedRemote()), r.c.Remote, r.c.Branch))
}

func commitIDs(cs []jj.Commit) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.CommitID
	}
	return out
}

func describe(cs []jj.Commit) string {
	var parts []string
	for i, c := range cs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %q", brief.ID(c.CommitID), c.Description))
	}
	return strings.Join(parts, ", ")
}

// isHex: a commit id from a record (never put a garbled one in a revset).
func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// noSnapshot is the jj client without a working-copy snapshot: for the
// commands after inspect's query that neither read nor move the files.
func (r *run) noSnapshot() *jj.Client {
	c := *r.jj
	c.IgnoreWorkingCopy = true
	return &c
}
