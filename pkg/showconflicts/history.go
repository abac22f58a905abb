package showconflicts

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/nixdots/nixdots/pkg/ui"
)

// The sides chezmoi-sync's resolutions did not take (--history): every
// --keep-local, --take-remote and trivial resolution that gave a side
// up, and every --abort, from the sync history (the state directory's
// sync-history.jsonl, read only), with the commit holding the side and the
// commands that show it or bring it back.

// HistoryEntry is one side not taken.
type HistoryEntry struct {
	Kind     string    `json:"kind"` // resolution, abort, or kept (a kept/ bookmark no record names)
	Start    time.Time `json:"start"`
	Host     string    `json:"host"`
	Path     string    `json:"path,omitempty"`   // resolution: relative to the source directory
	Target   string    `json:"target,omitempty"` // its home file
	How      string    `json:"how,omitempty"`    // keep-local, take-remote, trivial
	Took     string    `json:"took,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Side     string    `json:"side"` // the side not taken: local, remote (abort: local)
	Commit   string    `json:"commit"`
	Bookmark string    `json:"bookmark,omitempty"`
	Show     string    `json:"show"`    // a read-only command that shows it
	Restore  string    `json:"restore"` // the commands that bring it back
}

// HistoryDoc is the --history --json document.
type HistoryDoc struct {
	Version   int            `json:"version"`
	SourceDir string         `json:"source_dir"`
	History   []HistoryEntry `json:"history"`
}

// History lists the sides not taken, newest first.
func History(stateDir, sourceDir string) (*HistoryDoc, error) {
	recs, err := syncstate.History(stateDir, syncstate.HistoryKeep)
	if err != nil {
		return nil, err
	}
	doc := &HistoryDoc{Version: 1, SourceDir: sourceDir, History: []HistoryEntry{}}
	cd := "cd " + shellQuote(sourceDir) + " && "
	for _, rec := range recs {
		for _, res := range rec.Resolutions {
			if res.DiscardedCommit == "" {
				continue
			}
			doc.History = append(doc.History, HistoryEntry{Kind: "resolution", Start: rec.Start, Host: rec.Host,
				Path: res.Path, Target: res.Target, How: res.How, Took: res.Took, Reason: res.Reason,
				Side: res.Discarded, Commit: res.DiscardedCommit, Bookmark: res.Bookmark,
				Show:    cd + "jj file show -r " + shellQuote(res.DiscardedCommit) + " " + filesetArg(res.Path),
				Restore: cd + "jj restore --from " + shellQuote(res.DiscardedCommit) + " " + filesetArg(res.Path) + " && chezmoi-sync"})
		}
		if k := rec.Kept; k != nil {
			show := cd + "jj show " + shellQuote(k.Commit)
			if rec.RemoteHead != "" {
				show = cd + "jj diff --from " + shellQuote(rec.RemoteHead) + " --to " + shellQuote(k.Commit) + " --stat"
			}
			doc.History = append(doc.History, HistoryEntry{Kind: "abort", Start: rec.Start, Host: rec.Host, Side: "local",
				Commit: k.Commit, Bookmark: k.Bookmark,
				Show:    show,
				Restore: cd + "jj restore --from " + shellQuote(k.Commit) + " " + filesetArg("PATH") + " && chezmoi-sync"})
		}
	}
	doc.sortNewestFirst()
	return doc, nil
}

// sortNewestFirst orders the entries by time, newest first (an entry
// without a time last), whatever order the history file holds. Among
// entries of one time the bookmark's counter decides: a kept/ bookmark
// no record names has only its name's second, and the runs of one second
// are named <time>, <time>-2, <time>-3 in the order they ran.
func (doc *HistoryDoc) sortNewestFirst() {
	sort.SliceStable(doc.History, func(i, j int) bool {
		a, b := doc.History[i], doc.History[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.After(b.Start)
		}
		return bookmarkSeq(a.Bookmark) > bookmarkSeq(b.Bookmark)
	})
}

// bookmarkSeq is the counter of a kept/<host>/<time>-N bookmark (1 for
// none, 0 for a name that is not one).
func bookmarkSeq(name string) int {
	parts := strings.Split(name, "/")
	if len(parts) < 3 {
		return 0
	}
	_, seq := hostkey.SplitNumbered(parts[len(parts)-1])
	return seq
}

// AddUnrecorded adds the kept/<host>/<time> bookmarks no record names: a
// resolution or an abort killed after it set the bookmark but before it
// wrote its record (attack 3, F4). The bookmark is the side not taken; it
// must be named however the run ended.
func AddUnrecorded(ctx context.Context, q *jj.StatusQuery, doc *HistoryDoc) error {
	bms, err := q.Bookmarks(ctx, "kept/*")
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, e := range doc.History {
		named[e.Bookmark] = true
	}
	cd := "cd " + shellQuote(doc.SourceDir) + " && "
	for _, b := range bms {
		if b.Remote != "" || b.CommitID == "" || named[b.Name] {
			continue
		}
		e := HistoryEntry{Kind: "kept", Side: "local", Commit: b.CommitID, Bookmark: b.Name,
			Show:    cd + "jj show --stat " + shellQuote(b.CommitID),
			Restore: cd + "jj restore --from " + shellQuote(b.CommitID) + " " + filesetArg("PATH") + " && chezmoi-sync"}
		if parts := strings.Split(b.Name, "/"); len(parts) >= 3 {
			e.Host = parts[1]
			stamp, _ := hostkey.SplitNumbered(parts[2])
			e.Start, _ = time.Parse(hostkey.StampLayout, stamp)
		}
		doc.History = append(doc.History, e)
	}
	doc.sortNewestFirst()
	return nil
}

// filesetArg is path as a jj fileset of exactly that file, shell-quoted:
// jj reads a bare argument as a fileset expression, so "x (1).txt" fails to
// parse and "a|dot_profile" names two other files.
func filesetArg(path string) string { return shellQuote(jj.RootFile(path)) }

// RenderHistory prints the sides not taken for a person.
func RenderHistory(io *ui.Streams, doc *HistoryDoc) {
	if len(doc.History) == 0 {
		io.Println("No side was given up by a resolution or an abort (in the last " + fmt.Sprint(syncstate.HistoryKeep) + " runs).")
		return
	}
	io.Println("Sides not taken, newest first:")
	for _, e := range doc.History {
		when := e.Start.UTC().Format("2006-01-02 15:04 UTC")
		what := ""
		switch {
		case e.Kind == "kept":
			what = fmt.Sprintf("this host's side, kept by a resolution or an abort that did not finish (no record), is in %s", brief.ID(e.Commit))
		case e.Kind == "abort":
			what = fmt.Sprintf("--abort: this host's side of the conflict is in %s", brief.ID(e.Commit))
		case e.Side == "local":
			what = fmt.Sprintf("%s: %s; this host's side is in %s", e.Path, howText(e), brief.ID(e.Commit))
		default:
			what = fmt.Sprintf("%s: %s; the remote's side is in %s", e.Path, howText(e), brief.ID(e.Commit))
		}
		if e.Bookmark != "" {
			what += " (" + e.Bookmark + ")"
		}
		// The record is a file of the user's: its text is escaped (brief.Safe).
		io.Printf("%s  %s\n", when, brief.Safe(what))
		io.Printf("    see it:   %s\n", brief.Safe(e.Show))
		io.Printf("    bring it back: %s\n", brief.Safe(e.Restore))
	}
}

func howText(e HistoryEntry) string {
	switch e.How {
	case "keep-local":
		return "chezmoi-sync --keep-local kept this host's side"
	case "take-remote":
		return "chezmoi-sync --take-remote took the remote's side"
	}
	return "resolved without asking (" + e.Reason + ")"
}
