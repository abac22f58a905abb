// Package reposave moves a flake repository (plain git, or jj colocated with
// git) to an earlier commit without losing anything: uncommitted work is
// first put somewhere named — a new `rollback/<time>` branch in git, the
// current change left visible in jj — and the caller is told where it went
// and how to get it back.
//
// Reads (Open, Resolve, Inspect) change nothing: git runs with
// --no-optional-locks so `git status` does not rewrite the index, and jj
// runs with --ignore-working-copy so no snapshot operation is recorded.
// Move is the only call that changes the repository.
package reposave

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
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

// Kind is the version-control system that owns the working copy.
type Kind string

// Kinds.
const (
	Git Kind = "git"
	JJ  Kind = "jj"
)

// Repo is one repository.
type Repo struct {
	Kind Kind
	Root string
	R    runner.Runner
}

// NotRepoError reports a directory that is in neither a git nor a jj
// repository. It is bad input (exit 2).
type NotRepoError struct{ Dir string }

func (e *NotRepoError) Error() string {
	return fmt.Sprintf("%s is not in a git or jj repository", e.Dir)
}

// ExitCode implements exitcode.Coder.
func (e *NotRepoError) ExitCode() int { return exitcode.Usage }

// Open finds the repository holding dir by walking up to the first
// directory with .jj (jj wins in a colocated repository: git's HEAD is
// detached there and jj owns the working copy) or .git.
func Open(dir string, r runner.Runner) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, exitcode.UsageError(fmt.Errorf("flake repository %s does not exist or is not a directory", abs))
	}
	for d := abs; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, ".jj")) {
			return &Repo{Kind: JJ, Root: d, R: r}, nil
		}
		if exists(filepath.Join(d, ".git")) {
			return &Repo{Kind: Git, Root: d, R: r}, nil
		}
		if filepath.Dir(d) == d {
			return nil, &NotRepoError{Dir: abs}
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// UnknownRevError reports a revision the repository does not have (bad
// input, exit 2).
type UnknownRevError struct {
	Rev, Root string
	Detail    string
}

func (e *UnknownRevError) Error() string {
	s := fmt.Sprintf("%s is not a commit in %s", e.Rev, e.Root)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// ExitCode implements exitcode.Coder.
func (e *UnknownRevError) ExitCode() int { return exitcode.Usage }

// Resolve turns rev (a commit id, a prefix, a branch, a jj revset naming one
// commit) into a full commit id without changing anything.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if strings.TrimSpace(rev) == "" || strings.HasPrefix(rev, "-") {
		return "", &UnknownRevError{Rev: fmt.Sprintf("%q", rev), Root: r.Root}
	}
	jjSaid := ""
	if r.Kind == JJ {
		res, err := r.jj(ctx, false, "log", "--no-graph", "-r", rev, "-T", `commit_id ++ "\n"`)
		if err == nil {
			ids := strings.Fields(res.Out())
			if len(ids) == 1 {
				return ids[0], nil
			}
			if len(ids) > 1 {
				return "", &UnknownRevError{Rev: rev, Root: r.Root, Detail: fmt.Sprintf("it names %d commits, not one", len(ids))}
			}
		}
		if runner.IsNotFound(err) {
			return "", err
		}
		// Not a jj revset: git syntax (HEAD~1, main^) still works in a
		// colocated repository. If git does not know it either, jj's
		// reason is the one to give.
		if ee := (*runner.ExitError)(nil); errors.As(err, &ee) && ee.Stderr != "" {
			jjSaid = "jj: " + brief.First(ee.Stderr)
		}
	}
	res, err := r.git(ctx, false, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	var ee *runner.ExitError
	switch {
	case err == nil:
		return res.Out(), nil
	case errors.As(err, &ee) && ee.Code == 1:
		// --verify --quiet: exit 1, silently, is "no such commit".
		return "", &UnknownRevError{Rev: rev, Root: r.Root, Detail: jjSaid}
	case runner.IsNotFound(err):
		return "", err
	default:
		// git could not read the repository at all (not a repository any
		// more, "detected dubious ownership", a permission): that is the
		// cause to report, not an unknown commit.
		return "", &ReadError{Root: r.Root, Err: err}
	}
}

// ReadError is a repository git or jj could not read: the message is the
// tool's own reason.
type ReadError struct {
	Root string
	Err  error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("cannot read the repository %s: %v", e.Root, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// State is what Inspect saw.
type State struct {
	Kind Kind
	// Head is the commit the working copy is based on: git HEAD; in jj the
	// working-copy commit @ itself.
	Head string
	// git
	Branch      string   // checked-out branch, "" when HEAD is detached
	Changes     int      // paths that differ from HEAD (staged, unstaged, untracked)
	Untracked   []string // untracked, not ignored
	Unreachable bool     // HEAD is detached and on no branch, tag or remote ref
	InProgress  string   // merge, rebase, cherry-pick, revert, bisect
	// jj
	Change    string   // change id of @
	Empty     bool     // @ changes nothing
	Described bool     // @ has a description
	Parents   []string // commit ids of @'s parents
}

// Dirty reports whether there is uncommitted work to save.
func (s *State) Dirty() bool {
	if s.Kind == JJ {
		return !s.Empty || s.Described
	}
	return s.Changes > 0
}

// AtTarget reports whether the working copy already is target, clean.
func (s *State) AtTarget(target string) bool {
	if s.Kind == JJ {
		return s.Empty && !s.Described && len(s.Parents) == 1 && s.Parents[0] == target || s.Head == target && s.Empty
	}
	return s.Head == target && s.Changes == 0
}

// Inspect reads the working copy's state. With snapshot false it changes
// nothing (in jj the working copy is read as the last jj command left it).
func (r *Repo) Inspect(ctx context.Context, snapshot bool) (*State, error) {
	if r.Kind == JJ {
		return r.inspectJJ(ctx, snapshot)
	}
	return r.inspectGit(ctx)
}

// BlockedError means the repository is in the middle of something (a merge,
// a rebase) that the user has to finish first.
// Next, when set, replaces "run rebuild-rollback again; nothing was
// changed": after the system switched, running it again would go back
// one more generation.
type BlockedError struct{ Root, What, Hint, Next string }

func (e *BlockedError) Error() string {
	if e.Next != "" {
		return fmt.Sprintf("a %s is in progress in %s: %s, then %s", e.What, e.Root, e.Hint, e.Next)
	}
	return fmt.Sprintf("a %s is in progress in %s: %s, then run rebuild-rollback again; nothing was changed", e.What, e.Root, e.Hint)
}

// Check refuses states a move must not run over.
func (s *State) Check(root string) error {
	if s.InProgress == "" {
		return nil
	}
	hint := map[string]string{
		"merge":       "finish it (git merge --continue) or abort it (git merge --abort)",
		"rebase":      "finish it (git rebase --continue) or abort it (git rebase --abort)",
		"cherry-pick": "finish it (git cherry-pick --continue) or abort it (git cherry-pick --abort)",
		"revert":      "finish it (git revert --continue) or abort it (git revert --abort)",
		"bisect":      "end it (git bisect reset)",
	}[s.InProgress]
	return &BlockedError{Root: root, What: s.InProgress, Hint: hint}
}

// Result says what Move did.
type Result struct {
	Kind Kind   `json:"kind"`
	Root string `json:"path"`
	From string `json:"from"` // commit the working copy was on
	To   string `json:"to"`   // the target commit
	// SavedTo is where uncommitted work went: a branch (git) or a change id
	// (jj); "" when there was nothing to save.
	SavedTo     string `json:"saved_to,omitempty"`
	SavedCommit string `json:"saved_commit,omitempty"`
	// Restore is the command that brings the saved work back.
	Restore string `json:"restore,omitempty"`
	// Branch is the branch that was checked out (git); it still points where
	// it did.
	Branch string `json:"branch,omitempty"`
	Moved  bool   `json:"moved"`
	// NewChange is jj's new working-copy change on the target.
	NewChange string `json:"new_change,omitempty"`
}

// Move saves uncommitted work and moves the working copy to target (a full
// commit id from Resolve). now names the git branch.
func (r *Repo) Move(ctx context.Context, target string, now time.Time) (*Result, error) {
	if r.Kind == JJ {
		return r.moveJJ(ctx, target)
	}
	return r.moveGit(ctx, target, now)
}

func (r *Repo) git(ctx context.Context, mutates bool, args ...string) (runner.Result, error) {
	return r.R.Run(ctx, runner.Cmd{Name: "git", Args: append([]string{"--no-optional-locks"}, args...), Dir: r.Root, Mutates: mutates, Timeout: 2 * time.Minute})
}

func (r *Repo) gitEnv(ctx context.Context, env []string, args ...string) (runner.Result, error) {
	return r.R.Run(ctx, runner.Cmd{Name: "git", Args: append([]string{"--no-optional-locks"}, args...), Dir: r.Root, Env: env, Mutates: true, Timeout: 2 * time.Minute})
}

// jj runs jj; a read (mutates false) never snapshots the working copy.
func (r *Repo) jj(ctx context.Context, mutates bool, args ...string) (runner.Result, error) {
	return r.jjRun(ctx, !mutates, mutates, args...)
}

func (r *Repo) jjRun(ctx context.Context, ignoreWorkingCopy, mutates bool, args ...string) (runner.Result, error) {
	full := []string{"--no-pager", "--color=never"}
	if ignoreWorkingCopy {
		full = append(full, "--ignore-working-copy")
	}
	return r.R.Run(ctx, runner.Cmd{Name: "jj", Args: append(full, args...), Dir: r.Root, Mutates: mutates, Timeout: 2 * time.Minute})
}

// Short abbreviates a commit or change id for messages.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
