// Read-only jj queries for chezmoi-status and chezmoi-show-conflicts.
//
// Every query runs with --ignore-working-copy: a status command must not
// snapshot the working copy (that would create a jj operation and could race
// a running chezmoi-sync), so it reads the repository as the last jj command
// left it. The names carry a Status prefix so that they never collide with
// the sync's own client in this package.

package jj

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/pkg/runner"
)

// StatusQuery runs read-only jj commands in one repository.
type StatusQuery struct {
	Runner runner.Runner
	Dir    string // the colocated repository (chezmoi source directory)
}

// HasStatusRepo reports whether dir holds a jj repository (.jj/ present).
func HasStatusRepo(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ".jj"))
	return err == nil && st.IsDir()
}

// StatusCommit is one commit as the status commands show it.
type StatusCommit struct {
	ChangeID    string    `json:"change_id"`
	CommitID    string    `json:"commit_id"`
	Parents     []string  `json:"parents"`
	Description string    `json:"description"` // first line
	Author      string    `json:"author"`
	Email       string    `json:"email"`
	Time        time.Time `json:"time"` // author timestamp
	Conflict    bool      `json:"conflict"`
	Empty       bool      `json:"empty"`
	WorkingCopy bool      `json:"working_copy"`
	Bookmarks   []string  `json:"bookmarks"` // local bookmarks pointing here
	// In holds, for Classified, the names of the classes containing it.
	In map[string]bool `json:"-"`
}

// StatusClass is a named revset; Classified tells for every commit whether
// it belongs to it, so one jj process answers several questions.
type StatusClass struct {
	Name   string
	Revset string
}

// statusTemplate extends the commit template with one contained_in()
// answer per class.
func statusTemplate(classes []StatusClass) string {
	if len(classes) == 0 {
		return statusCommitTemplate
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(statusCommitTemplate, ` ++ "}\n"`))
	b.WriteString(` ++ ",\"in\":{"`)
	for i, c := range classes {
		sep := ""
		if i > 0 {
			sep = ","
		}
		fmt.Fprintf(&b, ` ++ %s ++ json(self.contained_in(%s))`, statusQuote(sep+statusQuote(c.Name)+":"), statusQuote(c.Revset))
	}
	b.WriteString(` ++ "}}\n"`)
	return b.String()
}

// statusCommitTemplate prints one JSON object per line: jj's own json(self)
// plus the flags the status commands need, so no hand-made quoting is parsed.
const statusCommitTemplate = `"{\"commit\":" ++ json(self) ++ ",\"conflict\":" ++ json(conflict) ++ ",\"empty\":" ++ json(empty) ++ ",\"wc\":" ++ json(current_working_copy) ++ ",\"bookmarks\":" ++ json(local_bookmarks) ++ "}\n"`

// ParseStatusCommits parses the output of statusCommitTemplate.
func ParseStatusCommits(out string) ([]StatusCommit, error) {
	var commits []StatusCommit
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var raw struct {
			Commit struct {
				CommitID    string   `json:"commit_id"`
				Parents     []string `json:"parents"`
				ChangeID    string   `json:"change_id"`
				Description string   `json:"description"`
				Author      struct {
					Name      string    `json:"name"`
					Email     string    `json:"email"`
					Timestamp time.Time `json:"timestamp"`
				} `json:"author"`
			} `json:"commit"`
			Conflict  bool            `json:"conflict"`
			Empty     bool            `json:"empty"`
			WC        bool            `json:"wc"`
			In        map[string]bool `json:"in"`
			Bookmarks []struct {
				Name string `json:"name"`
			} `json:"bookmarks"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			return nil, fmt.Errorf("cannot parse jj log output %q: %w", line, err)
		}
		c := StatusCommit{
			ChangeID: raw.Commit.ChangeID, CommitID: raw.Commit.CommitID, Parents: raw.Commit.Parents,
			Description: statusFirstLine(raw.Commit.Description), Author: raw.Commit.Author.Name,
			Email: raw.Commit.Author.Email, Time: raw.Commit.Author.Timestamp.UTC(),
			Conflict: raw.Conflict, Empty: raw.Empty, WorkingCopy: raw.WC, Bookmarks: []string{}, In: raw.In,
		}
		if c.Parents == nil {
			c.Parents = []string{}
		}
		for _, b := range raw.Bookmarks {
			c.Bookmarks = append(c.Bookmarks, b.Name)
		}
		commits = append(commits, c)
	}
	return commits, nil
}

func statusFirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// run executes one read-only jj command and returns its stdout.
func (q *StatusQuery) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--ignore-working-copy", "--no-pager", "--color=never"}, args...)
	res, err := q.Runner.Run(ctx, runner.Cmd{Name: "jj", Args: full, Dir: q.Dir, Timeout: statusTimeout, Env: TerminalEnv})
	if err != nil {
		return "", err
	}
	return string(res.Stdout), nil
}

// Commits returns the commits of revset, newest first; limit 0 means all.
func (q *StatusQuery) Commits(ctx context.Context, revset string, limit int) ([]StatusCommit, error) {
	args := []string{"log", "--no-graph", "-r", revset, "-T", statusCommitTemplate}
	if limit > 0 {
		args = append(args, "--limit", fmt.Sprint(limit))
	}
	out, err := q.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	return ParseStatusCommits(out)
}

// Classified returns the commits of revset, newest first, each with the
// names of the classes (revsets) that contain it.
func (q *StatusQuery) Classified(ctx context.Context, revset string, classes []StatusClass) ([]StatusCommit, error) {
	out, err := q.run(ctx, "log", "--no-graph", "-r", revset, "-T", statusTemplate(classes))
	if err != nil {
		return nil, err
	}
	return ParseStatusCommits(out)
}

// StatusBookmark is one bookmark, local (Remote "") or remote.
type StatusBookmark struct {
	Name     string `json:"name"`
	Remote   string `json:"remote,omitempty"`
	CommitID string `json:"commit_id"` // "" when the bookmark is conflicted
	Conflict bool   `json:"conflict"`  // the bookmark itself points at several commits (name??)
	Tracked  bool   `json:"tracked"`
}

const statusBookmarkTemplate = `name ++ "\t" ++ if(remote, remote, "") ++ "\t" ++ if(normal_target, normal_target.commit_id(), "") ++ "\t" ++ conflict ++ "\t" ++ tracked ++ "\n"`

// ParseStatusBookmarks parses the output of statusBookmarkTemplate. The
// pseudo-remote "git" of colocated repositories is dropped.
func ParseStatusBookmarks(out string) ([]StatusBookmark, error) {
	var bms []StatusBookmark
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("cannot parse jj bookmark list output %q", line)
		}
		if f[1] == "git" {
			continue
		}
		bms = append(bms, StatusBookmark{Name: f[0], Remote: f[1], CommitID: f[2], Conflict: f[3] == "true", Tracked: f[4] == "true"})
	}
	return bms, nil
}

// Bookmarks lists local and remote bookmarks matching the glob pattern.
func (q *StatusQuery) Bookmarks(ctx context.Context, glob string) ([]StatusBookmark, error) {
	out, err := q.run(ctx, "bookmark", "list", "--all-remotes", "-T", statusBookmarkTemplate, "glob:"+glob)
	if err != nil {
		return nil, err
	}
	return ParseStatusBookmarks(out)
}

// ConflictedPaths lists the conflicted files of rev ("jj resolve --list",
// through the sync's Client); a revision without conflicts yields nil.
func (q *StatusQuery) ConflictedPaths(ctx context.Context, rev string) ([]string, error) {
	return q.client().ConflictPaths(ctx, rev)
}

// client is the sync's Client, set up to read only.
func (q *StatusQuery) client() *Client {
	return &Client{Runner: q.Runner, Dir: q.Dir, IgnoreWorkingCopy: true, Timeout: statusTimeout, NetTimeout: 2 * time.Minute}
}

const statusTimeout = 30 * time.Second

// FileShow returns the content of path (relative to the repository root) at
// rev, conflict markers included.
func (q *StatusQuery) FileShow(ctx context.Context, rev, path string) (string, error) {
	return q.run(ctx, "file", "show", "-r", rev, "root-file:"+statusQuote(path))
}

func statusQuote(p string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}

// StatusRevsetString quotes s as a jj string literal for revsets.
func StatusRevsetString(s string) string { return statusQuote(s) }

// Fetch refreshes the remote-tracking bookmarks (chezmoi-status --fetch)
// through the sync's Client: marked Mutates (it changes the repository's
// view of the remote), yet still ignoring the working copy (no snapshot).
func (q *StatusQuery) Fetch(ctx context.Context, remote string) error {
	_, err := q.client().Fetch(ctx, remote)
	return err
}
