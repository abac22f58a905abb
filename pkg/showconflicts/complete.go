package showconflicts

import (
	"context"
	"sort"
	"strings"

	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/hostkey"
	"github.com/nixdots/nixdots/pkg/jj"
	"github.com/nixdots/nixdots/pkg/runner"
)

// CompleteFlags implements cli.Completer for every command embedding
// SyncFlags: --hostname completes the hosts that share the dotfiles.
func (f *SyncFlags) CompleteFlags() []string { return []string{"hostname"} }

// Complete lists the known hosts (KnownHosts) of the source directory.
func (f *SyncFlags) Complete(ctx context.Context, app *cli.App, _ string) ([]cli.Candidate, error) {
	loc, err := f.Resolve(ctx, app)
	if err != nil {
		return nil, err
	}
	if loc.SourceErr != nil {
		return nil, loc.SourceErr
	}
	return KnownHosts(ctx, app.Exec, loc.SourceDir, loc.Host)
}

// syncCommits finds the commits chezmoi-sync made ("chore(<host>): sync
// dotfiles - <time>"); their hosts are the ones that share the dotfiles.
const syncCommits = `description(glob:"chore(*): sync dotfiles*")`

// KnownHosts are the hosts this repository knows: this one, the ones that
// parked a sync/<host> bookmark, and the ones named in the last sync
// commits. It only reads (jj --ignore-working-copy).
func KnownHosts(ctx context.Context, r runner.Runner, sourceDir, self string) ([]cli.Candidate, error) {
	why := map[string]string{hostkey.Sanitize(self): "this host"}
	q := &jj.StatusQuery{Runner: r, Dir: sourceDir}
	bms, err := q.Bookmarks(ctx, hostkey.ParkPrefix+"*")
	if err != nil {
		return nil, err
	}
	for _, b := range bms {
		h := strings.TrimPrefix(b.Name, hostkey.ParkPrefix)
		if why[h] == "" {
			why[h] = "parked " + b.Name
		}
	}
	commits, err := q.Commits(ctx, syncCommits, 200)
	if err != nil {
		return nil, err
	}
	for _, c := range commits {
		rest, ok := strings.CutPrefix(c.Description, "chore(")
		h, _, found := strings.Cut(rest, ")")
		if ok && found && h != "" && why[h] == "" {
			why[h] = "synced " + c.Time.UTC().Format("2006-01-02")
		}
	}
	out := make([]cli.Candidate, 0, len(why))
	for h, d := range why {
		out = append(out, cli.Candidate{Value: h, Description: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}
