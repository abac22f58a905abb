package rebuildsmart

import (
	"context"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/ui"
)

// ---- 2. Upstream sync ----

type upstream struct{}

func (upstream) Name() string { return "Upstream sync" }
func (upstream) Skip(r *Run) string {
	switch {
	case r.Cmd.SkipUpstream:
		return "--skip-upstream"
	case !r.VCS.Online:
		return r.VCS.OfflineReason
	}
	return ""
}

func (upstream) Run(ctx context.Context, r *Run) (Outcome, error) {
	if r.VCS.RemoteURL == "" {
		return Outcome{Status: ui.Skipped, Detail: "the repository has no remote"}, nil
	}
	res, err := r.VCS.Repo.Sync(ctx)
	r.VCS.Upstream = &res
	if r.App.DryRun && err == nil {
		// The fetch was not run: what we know is as of the last fetch.
		return Outcome{Detail: "would fetch and rebase; as of the last fetch: " + res.Detail}, nil
	}
	if err != nil {
		r.Warn("building on stale upstream: %v", err)
		return Outcome{Status: ui.Warn, Detail: "building on stale upstream: " + brief.First(err.Error())}, nil
	}
	if res.Conflict {
		r.Warn("upstream: %s; resolve it by hand when convenient (git: `git rebase <upstream>`; jj: `jj rebase -b @ -d <bookmark>@origin`)", res.Detail)
		return Outcome{Status: ui.Warn, Detail: res.Detail}, nil
	}
	return Outcome{Detail: res.Detail}, nil
}
