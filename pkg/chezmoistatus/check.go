package chezmoistatus

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/syncstate"
)

// Check is the --check verdict. It is computed (and part of --json) on
// every run; only --check turns it into the exit code.
type Check struct {
	Code   int    `json:"code"`   // exit code --check returns
	Status string `json:"status"` // healthy, conflicts, unreadable, edits-waiting, sync-failed or stale
	// Problems lists every problem found, most urgent first, each as
	// "<status>: <reason>".
	Problems []string `json:"problems"`
	MaxAge   string   `json:"max_age"` // --max-age, "0s" when not checked
}

// Check statuses, in precedence order: when several apply, the first wins.
// Conflicts and waiting edits need a person (no later sync can fix them); a
// failed sync names the cause that a stale success is only a symptom of.
const (
	Healthy      = "healthy"
	Conflicts    = "conflicts"
	Unreadable   = "unreadable" // jj cannot read the repository: its state is unknown
	EditsWaiting = "edits-waiting"
	SyncFailed   = "sync-failed"
	Stale        = "stale"
)

type checkInput struct {
	rep           *Report
	recordCorrupt bool
	scanFailed    bool
	maxAge        time.Duration
	now           time.Time
}

// evaluate computes the verdict; it is pure so the precedence is table-tested.
func evaluate(in checkInput) Check {
	c := Check{Status: Healthy, Code: exitcode.OK, Problems: []string{}, MaxAge: in.maxAge.String()}
	rep := in.rep
	last := ""
	if rep.LastSync != nil {
		last = rep.LastSync.Status
	}
	add := func(status, reason string) {
		c.Problems = append(c.Problems, status+": "+reason)
	}
	if rep.Conflicts > 0 {
		add(Conflicts, fmt.Sprintf("%d conflict(s) of this host in %s", rep.Conflicts, strings.Join(rep.ConflictFiles, ", ")))
	} else if last == syncstate.ConflictsPreserved && in.scanFailed {
		add(Conflicts, "the last sync parked conflicting commits (the repository could not be read to re-check)")
	}
	if in.scanFailed {
		reason := "the repository cannot be read, so conflicts and unpublished commits are unknown"
		if rep.RepositoryError != "" {
			reason += " (" + rep.RepositoryError + ")"
		}
		add(Unreadable, reason+": "+RepositoryNext(rep.SourceDir))
	}
	if w := waiting(rep); len(w) > 0 {
		add(EditsWaiting, fmt.Sprintf("%d home edit(s) the sync cannot capture wait for you: %s", len(w), strings.Join(w, ", ")))
	}
	switch {
	case in.recordCorrupt:
		add(SyncFailed, "the sync record is unreadable")
	case last == syncstate.ConflictsPreserved && rep.awaitsContinue():
		add(SyncFailed, "the conflicts the last sync parked are resolved in the working copy ("+strings.Join(rep.ResolvedFiles, ", ")+") but not published: run chezmoi-sync --continue")
	case last != "" && last != syncstate.Success && last != syncstate.EditsWaiting:
		reason := "the last sync ended " + last
		if rep.LastSync.Error != "" {
			reason += " (" + rep.LastSync.Error + ")"
		}
		add(SyncFailed, reason)
	}
	switch {
	case in.recordCorrupt:
		// The age of the last success is unknown; the failure above says why.
	case !rep.Synced:
		add(Stale, "never synced")
	case rep.LastSuccess == nil && in.maxAge > 0:
		add(Stale, "no sync has ever succeeded")
	case in.maxAge > 0 && in.now.Sub(*rep.LastSuccess) > in.maxAge:
		add(Stale, fmt.Sprintf("last success %s ago, more than --max-age %s", in.now.Sub(*rep.LastSuccess).Round(time.Second), in.maxAge))
	}
	if len(c.Problems) > 0 {
		first := c.Problems[0]
		for _, s := range []struct {
			status string
			code   int
		}{{Conflicts, exitcode.Conflicts}, {Unreadable, exitcode.Failure}, {EditsWaiting, exitcode.Waiting}, {SyncFailed, exitcode.SyncFailed}, {Stale, exitcode.Stale}} {
			if len(first) > len(s.status) && first[:len(s.status)+1] == s.status+":" {
				c.Status, c.Code = s.status, s.code
			}
		}
	}
	return c
}

// waiting lists the edits that wait for the user: what chezmoi status
// shows now, else what the last sync recorded.
func waiting(rep *Report) []string {
	var out []string
	if rep.Drift != nil {
		for _, w := range rep.Drift.Waiting {
			out = append(out, w.Path)
		}
		return out
	}
	if rep.LastSync != nil {
		for _, w := range rep.LastSync.Waiting {
			out = append(out, w.Path)
		}
	}
	return out
}
