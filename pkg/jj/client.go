// Package jj is a small client for the jj (Jujutsu) command line, used by
// chezmoi-sync on the colocated chezmoi source directory. Every call goes
// through runner.Runner (so --verbose logs it and --dry-run skips the ones
// that change something); machine output comes from jj templates and is
// parsed by the pure functions in parse.go.
package jj

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// Client runs jj in one repository.
type Client struct {
	Runner runner.Runner
	Dir    string // the repository (the chezmoi source directory)
	// IgnoreWorkingCopy adds --ignore-working-copy to every command. jj
	// snapshots the working copy on almost any command, which records a new
	// operation; a dry run must not do that, so it reads the repository as
	// the last jj command left it.
	IgnoreWorkingCopy bool
	// Timeout bounds each local command; network commands get NetTimeout.
	Timeout    time.Duration
	NetTimeout time.Duration
	// MaxNewFileSize, when > 0, is passed as snapshot.max-new-file-size
	// (jj's default, 1 MiB, silently leaves bigger new files out of every
	// snapshot), and a command whose stderr says jj still refused to
	// snapshot a file fails with *SnapshotRefusedError instead of
	// succeeding with a file left behind.
	MaxNewFileSize int64
	// NoAutoTrack runs every command with snapshot.auto-track = none():
	// a file new in the working copy is never tracked (and so never
	// committed or pushed) unless tracked explicitly with Track. A stray
	// secret in the source directory stays out of the history.
	NoAutoTrack bool
	// Env is added to every command's environment (JJ_USER / JJ_EMAIL
	// when the identity comes from git's configuration).
	Env []string
}

// TerminalEnv is given to every jj command: without a terminal, jj 0.46
// asks `tput cols` and `tput lines` for the size of one (two processes per
// jj command, observed with strace); machine output does not wrap, so any
// size will do.
var TerminalEnv = []string{"COLUMNS=512", "LINES=64"}

// DefaultMaxNewFileSize is the snapshot limit chezmoi-sync uses: generous
// for dotfiles, still a guard against a stray disk image in the source
// directory.
const DefaultMaxNewFileSize = 64 << 20

// SnapshotRefusedError: jj left new files out of the snapshot because they
// are larger than snapshot.max-new-file-size.
type SnapshotRefusedError struct {
	Files []string // as jj names them, relative to the repository
	Limit int64
}

func (e *SnapshotRefusedError) Error() string {
	return fmt.Sprintf("jj refused to snapshot %d new file(s) larger than %d bytes (snapshot.max-new-file-size), so they would never be synced: %s",
		len(e.Files), e.Limit, joinQuoted(e.Files))
}

func (c *Client) cmd(mutates, network bool, args ...string) runner.Cmd {
	full := []string{"--no-pager", "--color=never"}
	if c.IgnoreWorkingCopy {
		full = append(full, "--ignore-working-copy")
	}
	if c.MaxNewFileSize > 0 {
		full = append(full, "--config", "snapshot.max-new-file-size="+strconv.FormatInt(c.MaxNewFileSize, 10))
	}
	if c.NoAutoTrack {
		full = append(full, "--config", "snapshot.auto-track=none()")
	}
	full = append(full, args...)
	t := c.Timeout
	if t == 0 {
		t = time.Minute
	}
	if network {
		t = c.NetTimeout
		if t == 0 {
			t = 3 * time.Minute
		}
	}
	return runner.Cmd{Name: "jj", Args: full, Dir: c.Dir, Timeout: t, Mutates: mutates, Env: append(append([]string(nil), TerminalEnv...), c.Env...)}
}

func (c *Client) run(ctx context.Context, mutates bool, args ...string) (runner.Result, error) {
	return c.exec(ctx, c.cmd(mutates, false, args...))
}

// exec runs cmd and, with MaxNewFileSize set, turns jj's "Refused to
// snapshot" warning (the command itself exits 0) into an error.
func (c *Client) exec(ctx context.Context, cmd runner.Cmd) (runner.Result, error) {
	res, err := c.Runner.Run(ctx, cmd)
	if err != nil && cmd.Mutates && CommitExists(err) {
		// Redoing a command a killed run had already done (recovery) within
		// the same second writes the very same git commit (git keeps
		// seconds), and jj 0.46 fails with an internal error. One second
		// later the commit differs.
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(1100 * time.Millisecond):
		}
		res, err = c.Runner.Run(ctx, cmd)
	}
	if err == nil && c.MaxNewFileSize > 0 {
		if files := ParseRefusedSnapshot(string(res.Stderr)); len(files) > 0 {
			return res, &SnapshotRefusedError{Files: files, Limit: c.MaxNewFileSize}
		}
	}
	if err != nil && ctx.Err() == nil {
		if cause := ErrorLine(string(res.Stderr)); cause != "" {
			return res, &Error{Cause: cause, Err: err}
		}
	}
	return res, err
}

// Error is a failed jj command, named by jj's own error line (jj prints
// warnings before it and hints after it; the last lines of stderr are
// hints). Unwrap gives the *runner.ExitError.
type Error struct {
	Cause string
	Err   error
}

func (e *Error) Error() string { return e.Cause }

func (e *Error) Unwrap() error { return e.Err }

// ErrorLine is the first "Error:" line of jj's stderr (git's "fatal:" or
// "error:" when jj passes git's through), with a following "Caused by"
// line; "" when there is none.
func ErrorLine(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Error:") || strings.HasPrefix(l, "fatal:") || strings.HasPrefix(l, "error:") {
			if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "Caused by") {
				l += " " + strings.TrimSpace(lines[i+1])
			}
			return l
		}
	}
	return ""
}

// Log runs `jj log --no-graph -r revset -T template` and returns stdout.
func (c *Client) Log(ctx context.Context, revset, template string) (string, error) {
	res, err := c.run(ctx, false, "log", "--no-graph", "-r", revset, "-T", template)
	return string(res.Stdout), err
}

// Commits lists the commits of revset (newest first), each tagged with the
// names of the classes whose revsets contain it. One jj process answers
// several questions at once, which keeps the no-op sync path short.
func (c *Client) Commits(ctx context.Context, revset string, classes []Class) ([]Commit, error) {
	out, err := c.Log(ctx, revset, CommitTemplate(classes))
	if err != nil {
		return nil, err
	}
	return ParseCommits(out, classes)
}

// GitInit runs `jj git init --colocate` in Dir (an existing git clone).
func (c *Client) GitInit(ctx context.Context) error {
	_, err := c.run(ctx, true, "git", "init", "--colocate")
	return err
}

// GitClone clones url into dir, colocated, naming the remote. It runs in
// the parent directory; Dir is not used.
func (c *Client) GitClone(ctx context.Context, url, dir, remote string) error {
	cmd := c.cmd(true, true, "git", "clone", "--colocate", "--remote", remote, url, dir)
	cmd.Dir = ""
	_, err := c.Runner.Run(ctx, cmd)
	return err
}

// Track makes the local bookmark follow branch@remote (idempotent).
func (c *Client) Track(ctx context.Context, branch, remote string) error {
	_, err := c.run(ctx, true, "bookmark", "track", branch+"@"+remote)
	return err
}

// Commit describes the working-copy commit with message and starts a new
// empty one on top (jj commit).
func (c *Client) Commit(ctx context.Context, message string) error {
	_, err := c.run(ctx, true, "commit", "-m", message)
	return err
}

// Fetch fetches every bookmark of remote. Commits that are no longer on
// the remote are kept: with jj's default (git.abandon-unreachable-commits)
// a remote branch that was deleted or rewound makes jj abandon them,
// which moves the working copy and empties the source directory.
func (c *Client) Fetch(ctx context.Context, remote string) (runner.Result, error) {
	return c.exec(ctx, c.cmd(true, true, "--config", "git.abandon-unreachable-commits=false", "git", "fetch", "--remote", remote))
}

// Push pushes one bookmark (a deleted bookmark is deleted on the remote).
func (c *Client) Push(ctx context.Context, remote, bookmark string) (runner.Result, error) {
	return c.exec(ctx, c.cmd(true, true, "git", "push", "--remote", remote, "-b", "exact:"+bookmark))
}

// RebaseBranch runs `jj rebase -b rev -d dest`: rev and every ancestor not
// already in dest's history move onto dest.
func (c *Client) RebaseBranch(ctx context.Context, rev, dest string) error {
	_, err := c.run(ctx, true, "rebase", "-b", rev, "-d", dest)
	return err
}

// RebaseSource runs `jj rebase -s src -d dest` (src and its descendants).
func (c *Client) RebaseSource(ctx context.Context, src, dest string) error {
	_, err := c.run(ctx, true, "rebase", "-s", src, "-d", dest)
	return err
}

// Abandon abandons the commits of revset (their descendants are rebased
// onto their parents).
func (c *Client) Abandon(ctx context.Context, revset string) error {
	_, err := c.run(ctx, true, "abandon", revset)
	return err
}

// BookmarkSet points bookmark name at rev, backwards or sideways if needed.
func (c *Client) BookmarkSet(ctx context.Context, name, rev string) error {
	_, err := c.run(ctx, true, "bookmark", "set", name, "-r", rev, "--allow-backwards")
	return err
}

// BookmarkDelete deletes the local bookmark; the next push of it deletes it
// on the remote too.
func (c *Client) BookmarkDelete(ctx context.Context, name string) error {
	_, err := c.run(ctx, true, "bookmark", "delete", "exact:"+name)
	return err
}

// DiffNames lists the paths that differ between the trees of from and to.
func (c *Client) DiffNames(ctx context.Context, from, to string) ([]string, error) {
	res, err := c.run(ctx, false, "diff", "--from", from, "--to", to, "--name-only")
	if err != nil {
		return nil, err
	}
	return ParseLines(string(res.Stdout)), nil
}

// ConflictPaths lists the conflicted files of rev; none yields nil.
func (c *Client) ConflictPaths(ctx context.Context, rev string) ([]string, error) {
	res, err := c.run(ctx, false, "resolve", "--list", "-r", rev)
	if err != nil {
		if NoConflicts(err) {
			return nil, nil
		}
		return nil, err
	}
	return ParseResolveList(string(res.Stdout)), nil
}

// New starts a new empty working-copy commit on top of @ (keeping @'s
// description as it is).
func (c *Client) New(ctx context.Context) error {
	_, err := c.run(ctx, true, "new")
	return err
}

// UpdateStale runs `jj workspace update-stale`: after a jj command was
// killed between recording its operation and rewriting the files, it
// brings the files to the recorded working-copy commit (a no-op, without a
// new operation, when the working copy is not stale).
func (c *Client) UpdateStale(ctx context.Context) (runner.Result, error) {
	return c.run(ctx, true, "workspace", "update-stale")
}

// RestoreFrom gives the working-copy commit the content of rev for the
// given repository-relative paths (`jj restore --from rev`).
func (c *Client) RestoreFrom(ctx context.Context, rev string, paths []string) error {
	args := []string{"restore", "--from", rev, "--"}
	for _, p := range paths {
		args = append(args, RootFile(p))
	}
	_, err := c.run(ctx, true, args...)
	return err
}

// RootFile is the fileset of exactly one repository-relative path, quoted
// so any character in the name is literal.
func RootFile(path string) string { return "root-file:" + TemplateString(path) }

// TrackFiles starts tracking the given repository-relative files (idempotent;
// a path that does not exist is ignored by jj).
func (c *Client) TrackFiles(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	args := []string{"file", "track", "--"}
	for _, p := range paths {
		args = append(args, RootFile(p))
	}
	_, err := c.run(ctx, true, args...)
	return err
}

// Untracked lists the files jj leaves untracked in the working copy (with
// NoAutoTrack: every new file), from `jj status`.
func (c *Client) Untracked(ctx context.Context) ([]string, error) {
	res, err := c.run(ctx, false, "status")
	if err != nil {
		return nil, err
	}
	return ParseUntracked(string(res.Stdout)), nil
}

// Identity returns jj's user.name and user.email ("" when unset).
func (c *Client) Identity(ctx context.Context) (name, email string, err error) {
	res, err := c.run(ctx, false, "config", "list", "user")
	if err != nil {
		return "", "", err
	}
	return ParseIdentity(string(res.Stdout))
}

// Squash moves the changes of the commits in from into into, with message.
func (c *Client) Squash(ctx context.Context, from, into, message string) error {
	_, err := c.run(ctx, true, "squash", "--from", from, "--into", into, "-m", message)
	return err
}

// Reidentify rewrites the commits in revset with the configured identity
// as committer (and, with author, as author too): commits made without an
// identity cannot be pushed. --force-rewrite: without it jj skips a
// commit whose author already matches.
func (c *Client) Reidentify(ctx context.Context, revset string, author bool) error {
	args := []string{"metaedit", "--force-rewrite"}
	if author {
		args = append(args, "--update-author")
	}
	_, err := c.run(ctx, true, append(args, "-r", revset)...)
	return err
}

// Operation returns the id of the current jj operation, without a
// snapshot (the basis for undoing what a run did).
func (c *Client) Operation(ctx context.Context) (string, error) {
	cmd := c.cmd(false, false, "--ignore-working-copy", "op", "log", "-n", "1", "--no-graph", "-T", `id ++ "\n"`)
	res, err := c.exec(ctx, cmd)
	if err != nil {
		return "", err
	}
	return res.Out(), nil
}

// ConfigSetRepo sets a repository-level jj setting.
func (c *Client) ConfigSetRepo(ctx context.Context, key, value string) error {
	_, err := c.run(ctx, true, "config", "set", "--repo", key, value)
	return err
}

// Conflicts lists the conflicted files of rev with jj's description of each
// ("2-sided conflict", "2-sided conflict including 1 deletion", ...); none
// yields an empty map.
func (c *Client) Conflicts(ctx context.Context, rev string) (map[string]string, error) {
	res, err := c.run(ctx, false, "resolve", "--list", "-r", rev)
	if err != nil {
		if NoConflicts(err) {
			return map[string]string{}, nil
		}
		return nil, err
	}
	return ParseResolveDetails(string(res.Stdout)), nil
}

// ConflictText is the file at rev with its conflict materialised in git's
// diff3 style (<<<<<<< side 1, ||||||| base, =======, >>>>>>> side 2), which
// jj writes for two-sided conflicts; the side labels name the commits and
// say "(rebase destination)" or "(rebased revision)" after a rebase.
func (c *Client) ConflictText(ctx context.Context, rev, path string) ([]byte, error) {
	res, err := c.run(ctx, false, "--config", "ui.conflict-marker-style=git", "file", "show", "-r", rev, "--", RootFile(path))
	return res.Stdout, err
}

// FileShow is the content of path at rev.
func (c *Client) FileShow(ctx context.Context, rev, path string) ([]byte, error) {
	res, err := c.run(ctx, false, "file", "show", "-r", rev, "--", RootFile(path))
	return res.Stdout, err
}

// ResolveWith resolves the conflicted paths of rev with one of jj's
// built-in tools (":ours" takes side 1, ":theirs" side 2, whole files: a
// deletion, an executable bit, a binary file). No paths: every conflicted
// file of rev.
func (c *Client) ResolveWith(ctx context.Context, rev, tool string, paths []string) error {
	args := []string{"resolve", "-r", rev, "--tool", tool}
	if len(paths) > 0 {
		args = append(args, "--")
		for _, p := range paths {
			args = append(args, RootFile(p))
		}
	}
	_, err := c.run(ctx, true, args...)
	return err
}

// RestoreAll gives into (a revision) the files of from, every path
// (`jj restore --from from --into into`).
func (c *Client) RestoreAll(ctx context.Context, from, into string) error {
	_, err := c.run(ctx, true, "restore", "--from", from, "--into", into)
	return err
}

// NewAt creates an empty commit with message on parent without moving
// the working copy (`jj new --no-edit`).
func (c *Client) NewAt(ctx context.Context, parent, message string) error {
	_, err := c.run(ctx, true, "new", "--no-edit", parent, "-m", message)
	return err
}

// NewOn moves the working copy to a new empty commit on rev (`jj new rev`).
func (c *Client) NewOn(ctx context.Context, rev string) error {
	_, err := c.run(ctx, true, "new", rev)
	return err
}
