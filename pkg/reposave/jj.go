package reposave

import (
	"context"
	"fmt"
	"strings"
)

// jjStateTemplate prints @ as one tab-separated line; ParseJJState reads it.
const jjStateTemplate = `change_id ++ "\t" ++ commit_id ++ "\t" ++ empty ++ "\t" ++ if(description, "described", "-") ++ "\t" ++ parents.map(|c| c.commit_id()).join(",") ++ "\n"`

// ParseJJState parses one line of jjStateTemplate output.
func ParseJJState(out string) (*State, error) {
	f := strings.Split(strings.TrimRight(out, "\n"), "\t")
	if len(f) != 5 || f[0] == "" || f[1] == "" {
		return nil, fmt.Errorf("unexpected jj output %q", out)
	}
	st := &State{Kind: JJ, Change: f[0], Head: f[1], Empty: f[2] == "true", Described: f[3] == "described"}
	for _, p := range strings.Split(f[4], ",") {
		if p != "" {
			st.Parents = append(st.Parents, p)
		}
	}
	return st, nil
}

func (r *Repo) inspectJJ(ctx context.Context, snapshot bool) (*State, error) {
	res, err := r.jjRun(ctx, !snapshot, snapshot, "log", "--no-graph", "-r", "@", "-T", jjStateTemplate)
	if err != nil {
		return nil, fmt.Errorf("read the working copy of %s: %w", r.Root, err)
	}
	return ParseJJState(res.Out())
}

// moveJJ starts a new working-copy change on target. The old change keeps
// its content and stays visible (jj abandons only an empty, undescribed
// working-copy change, which holds nothing), so the work is where it was.
func (r *Repo) moveJJ(ctx context.Context, target string) (*Result, error) {
	// This read snapshots the working copy: the edits are recorded in @
	// before anything moves.
	st, err := r.inspectJJ(ctx, true)
	if err != nil {
		return nil, err
	}
	out := &Result{Kind: JJ, Root: r.Root, From: st.Head, To: target}
	if st.AtTarget(target) {
		return out, nil
	}
	if st.Dirty() {
		// The commit id, not the change id, names it in the hint: a change
		// id can become ambiguous (divergent), a commit id cannot.
		out.SavedTo, out.SavedCommit = st.Change, st.Head
		out.Restore = "jj edit " + Short(st.Head)
	}
	hidden, err := r.hidden(ctx, target)
	if err != nil {
		return out, err
	}
	if hidden {
		// The build was made from a working-copy commit that has been
		// rewritten since (rebuild-smart records a non-empty @). `jj new`
		// on it would make it visible again next to its rewritten
		// successor: a divergent change. A new change on its parents with
		// its exact content is the same tree without that.
		parents, err := r.jj(ctx, false, "log", "--no-graph", "-r", target, "-T", `parents.map(|c| c.commit_id()).join(" ")`)
		if err != nil {
			return out, err
		}
		if _, err := r.jj(ctx, true, append([]string{"new"}, strings.Fields(parents.Out())...)...); err != nil {
			return out, fmt.Errorf("jj new on the parents of %s in %s: %w", Short(target), r.Root, err)
		}
		out.Moved = true
		if _, err := r.jj(ctx, true, "restore", "--from", target, "--into", "@"); err != nil {
			return out, fmt.Errorf("jj restore --from %s in %s: %w", Short(target), r.Root, err)
		}
	} else {
		if _, err := r.jj(ctx, true, "new", target); err != nil {
			return out, fmt.Errorf("jj new %s in %s: %w", Short(target), r.Root, err)
		}
		out.Moved = true
	}
	now, err := r.inspectJJ(ctx, false)
	if err == nil {
		out.NewChange = now.Change
	}
	if out.SavedTo != "" {
		// The saved commit must still be visible; if jj ever hid it, the
		// commit id still reaches it, and `jj new` brings it back.
		if h, err := r.hidden(ctx, st.Head); err == nil && h {
			out.Restore = "jj new " + Short(st.Head)
		}
	}
	return out, nil
}

// hidden reports whether commit is no longer visible (rewritten or
// abandoned; still reachable by its id through the operation log).
func (r *Repo) hidden(ctx context.Context, commit string) (bool, error) {
	res, err := r.jj(ctx, false, "log", "--no-graph", "-r", commit+" & ::visible_heads()", "-T", "commit_id")
	if err != nil {
		return false, fmt.Errorf("jj log %s in %s: %w", Short(commit), r.Root, err)
	}
	return res.Out() == "", nil
}
