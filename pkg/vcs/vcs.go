// Package vcs keeps the nix-config repository in step with its remote for
// rebuild-smart, in plain git or colocated jj, and never loses uncommitted
// work: git rebases with --autostash and aborts a conflicting rebase (the
// tree goes back exactly as it was); jj rebases its working-copy commit and,
// on conflict, moves the local commits back onto their old base.
package vcs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// ErrNotRepo is wrapped when a directory is neither a git nor a jj repository.
var ErrNotRepo = errors.New("not a git or jj repository")

// Kinds.
const (
	Git = "git"
	JJ  = "jj"
)

// SyncResult says what an upstream sync did.
type SyncResult struct {
	Fetched  bool   `json:"fetched"`
	Incoming int    `json:"incoming"` // upstream commits now under the local state
	Rebased  bool   `json:"rebased"`
	Conflict bool   `json:"conflict"` // the rebase conflicted; the local state was kept
	Detail   string `json:"detail,omitempty"`
}

// Repo is the repository side rebuild-smart needs.
type Repo interface {
	Kind() string
	Dir() string
	// Head is the commit the build is made from (git HEAD, jj @'s parent
	// when @ is empty, else @).
	Head(ctx context.Context) (string, error)
	// RemoteURL returns the URL of the remote, "" when there is none.
	RemoteURL(ctx context.Context) (string, error)
	// Sync fetches and rebases local work onto the remote branch.
	Sync(ctx context.Context) (SyncResult, error)
	// Pending lists, repository-relative, the untracked files nix would not
	// see (git only: jj tracks new files itself) and the tracked paths whose
	// working copy differs from Head (git: against HEAD, intent-to-add
	// entries and deletions included; jj: @'s changes when @ holds the
	// build), in one query.
	Pending(ctx context.Context) (untracked, modified []string, err error)
	// IntentToAdd makes files visible to nix without staging content.
	IntentToAdd(ctx context.Context, files []string) error
	// Changed reports which of paths differ from the last commit.
	Changed(ctx context.Context, paths []string) ([]string, error)
	// Commit records exactly paths with msg and returns the new commit.
	Commit(ctx context.Context, msg string, paths []string) (string, error)
	// Push publishes the branch.
	Push(ctx context.Context) error
	// Tag names rev (annotated-less, local) and pushes nothing.
	Tag(ctx context.Context, name, rev string) error
}

// Options tune Open.
type Options struct {
	Remote string // default "origin"
	Branch string // default: git's upstream of the current branch; jj: main, then master
	// ReadOnly makes jj queries use --ignore-working-copy, so a dry run
	// does not even snapshot the working copy (which writes an operation).
	ReadOnly bool
}

// Open finds the repository holding dir (dir itself or the nearest parent
// with .jj or .git; jj wins when both exist, as in a colocated repository)
// and returns it. Repo.Dir is the repository's top directory.
func Open(dir string, r runner.Runner, o Options) (Repo, error) {
	if o.Remote == "" {
		o.Remote = "origin"
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		b := base{dir: d, r: r, remote: o.Remote, branch: o.Branch, readOnly: o.ReadOnly}
		if _, err := os.Stat(filepath.Join(d, ".jj")); err == nil {
			return &jjRepo{b}, nil
		}
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return &gitRepo{b}, nil
		}
		if d == filepath.Dir(d) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotRepo)
		}
	}
}

type base struct {
	dir      string
	r        runner.Runner
	remote   string
	branch   string
	readOnly bool
}

func (b *base) Dir() string { return b.dir }

func (b *base) run(ctx context.Context, mutates bool, name string, args ...string) (runner.Result, error) {
	if name == "git" && !mutates {
		// A query must not even refresh the index: dry runs change nothing.
		args = append([]string{"--no-optional-locks"}, args...)
	}
	return b.r.Run(ctx, runner.Cmd{Name: name, Args: args, Dir: b.dir, Mutates: mutates, Timeout: 2 * time.Minute})
}

func (b *base) RemoteURL(ctx context.Context) (string, error) {
	res, err := b.run(ctx, false, "git", "remote", "get-url", b.remote)
	if err != nil {
		var ee *runner.ExitError
		if errors.As(err, &ee) && ee.Code > 0 {
			return "", nil // no such remote
		}
		return "", err
	}
	return res.Out(), nil
}

func (b *base) Tag(ctx context.Context, name, rev string) error {
	_, err := b.run(ctx, true, "git", "tag", "-f", name, rev)
	return err
}

// lines splits command output into non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
