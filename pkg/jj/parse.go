package jj

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nixdots/nixdots/pkg/runner"
)

// Class names a revset a commit may belong to; Commits tags each commit
// with the classes that contain it (jj's contained_in template method).
type Class struct {
	Name   string
	Revset string
}

// Commit is one line of CommitTemplate output.
type Commit struct {
	CommitID    string
	ChangeID    string
	Empty       bool
	Conflict    bool
	Description string // first line
	In          map[string]bool
}

// Is reports whether the commit belongs to the named class.
func (c Commit) Is(class string) bool { return c.In[class] }

// TemplateString quotes s as a jj template string literal.
func TemplateString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Symbol quotes a bookmark or remote name for a revset, so names holding
// revset operators ("-", "/", "@") are read as one symbol.
func Symbol(s string) string { return TemplateString(s) }

// RemoteRef is the revset of branch at remote: "main"@"origin".
func RemoteRef(branch, remote string) string { return Symbol(branch) + "@" + Symbol(remote) }

// RemoteBookmarks is a revset that is empty (not an error) when the remote
// bookmark does not exist.
func RemoteBookmarks(name, remote string) string {
	return "remote_bookmarks(exact:" + TemplateString(name) + ", exact:" + TemplateString(remote) + ")"
}

// LocalBookmark is a revset that is empty when the local bookmark does not exist.
func LocalBookmark(name string) string { return "bookmarks(exact:" + TemplateString(name) + ")" }

// CommitTemplate prints, per commit, tab-separated: commit id, change id,
// empty, conflict, one 0/1 flag per class, and the JSON-quoted first line
// of the description last (it may hold tabs).
func CommitTemplate(classes []Class) string {
	parts := []string{"commit_id", "change_id", "empty", "conflict"}
	for _, c := range classes {
		parts = append(parts, `if(self.contained_in(`+TemplateString(c.Revset)+`), "1", "0")`)
	}
	parts = append(parts, "json(description.first_line())")
	return strings.Join(parts, ` ++ "\t" ++ `) + ` ++ "\n"`
}

// ParseCommits parses CommitTemplate output.
func ParseCommits(out string, classes []Class) ([]Commit, error) {
	var commits []Commit
	want := 5 + len(classes)
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.SplitN(line, "\t", want)
		if len(f) != want {
			return nil, fmt.Errorf("cannot parse jj log line %q: %d fields, want %d", line, len(f), want)
		}
		c := Commit{CommitID: f[0], ChangeID: f[1], In: map[string]bool{}}
		var err error
		if c.Empty, err = parseBool(f[2]); err != nil {
			return nil, fmt.Errorf("cannot parse jj log line %q: %w", line, err)
		}
		if c.Conflict, err = parseBool(f[3]); err != nil {
			return nil, fmt.Errorf("cannot parse jj log line %q: %w", line, err)
		}
		for i, cl := range classes {
			switch f[4+i] {
			case "1":
				c.In[cl.Name] = true
			case "0":
			default:
				return nil, fmt.Errorf("cannot parse jj log line %q: class flag %q", line, f[4+i])
			}
		}
		if err := json.Unmarshal([]byte(f[want-1]), &c.Description); err != nil {
			return nil, fmt.Errorf("cannot parse jj log line %q: description: %w", line, err)
		}
		commits = append(commits, c)
	}
	return commits, nil
}

func parseBool(s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// Filter returns the commits in class.
func Filter(commits []Commit, class string) []Commit {
	var out []Commit
	for _, c := range commits {
		if c.Is(class) {
			out = append(out, c)
		}
	}
	return out
}

// ParseLines splits output into its non-empty lines.
func ParseLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// ParseResolveList parses `jj resolve --list`: "path    2-sided conflict".
// The description follows the path after at least two spaces; a path may
// hold single spaces.
func ParseResolveList(out string) []string {
	var paths []string
	for _, line := range ParseLines(out) {
		line = strings.TrimRight(line, " ")
		if i := strings.LastIndex(line, "  "); i > 0 {
			line = strings.TrimRight(line[:i], " ")
		}
		paths = append(paths, line)
	}
	return paths
}

// NoConflicts reports whether err is `jj resolve --list` saying the
// revision has no conflicts (exit 2, not a failure).
func NoConflicts(err error) bool {
	var ee *runner.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Stderr, "No conflicts found")
}

// RemoteErrorKind classifies a failed fetch or push.
type RemoteErrorKind int

// Kinds of remote failures, from jj's (and git's) stderr.
const (
	RemoteOther       RemoteErrorKind = iota
	RemoteStale                       // push race: the remote moved since our fetch
	RemoteUnreachable                 // network, DNS, missing repository, auth
	RemoteUnknown                     // no git remote of that name
	RemoteNotTracking                 // local bookmark does not track <branch>@<remote>
	RemoteConflicted                  // jj refuses to push conflicted commits
)

func (k RemoteErrorKind) String() string {
	return [...]string{"other", "stale", "unreachable", "unknown-remote", "not-tracking", "conflicted"}[k]
}

// ClassifyRemoteError maps the stderr of `jj git fetch` / `jj git push` to
// a kind. The strings are jj 0.46's and git 2.53's (see the facts file);
// anything unrecognised is RemoteOther and treated as a plain failure.
func ClassifyRemoteError(stderr string) RemoteErrorKind {
	s := strings.ToLower(stderr)
	switch {
	case strings.Contains(s, "no git remote named"), strings.Contains(s, "no matching remotes"),
		strings.Contains(s, "no git remotes to fetch from"):
		return RemoteUnknown
	case strings.Contains(s, "non-tracking remote bookmark"):
		return RemoteNotTracking
	case strings.Contains(s, "since it has conflicts"):
		return RemoteConflicted
	case strings.Contains(s, "stale info"), strings.Contains(s, "fetch first"),
		strings.Contains(s, "non-fast-forward"), strings.Contains(s, "[rejected]"),
		strings.Contains(s, "unexpectedly moved on the remote"),
		// Two pushes landing at the same instant: the remote's ref update
		// lost the race inside git (receive-pack's compare-and-swap), seen
		// as one of these rather than "stale info". The remote moved, so
		// it is a push race like the others: fetch, rebase, push again.
		strings.Contains(s, "incorrect old value provided"), strings.Contains(s, "cannot lock ref"):
		return RemoteStale
	case strings.Contains(s, "could not find repository"), strings.Contains(s, "could not read from remote"),
		strings.Contains(s, "could not resolve host"), strings.Contains(s, "unable to access"),
		strings.Contains(s, "connection refused"), strings.Contains(s, "connection timed out"),
		strings.Contains(s, "network is unreachable"), strings.Contains(s, "does not appear to be a git repository"),
		strings.Contains(s, "permission denied"), strings.Contains(s, "no route to host"),
		strings.Contains(s, "timed out"):
		return RemoteUnreachable
	}
	return RemoteOther
}

// RemoteKind classifies the failure err of Fetch or Push from its whole
// stderr (the error itself keeps only the last lines).
func RemoteKind(res runner.Result, err error) RemoteErrorKind {
	var ee *runner.ExitError
	if !errors.As(err, &ee) {
		return RemoteOther
	}
	if ee.TimedOut {
		return RemoteUnreachable
	}
	return ClassifyRemoteError(string(res.Stderr) + "\n" + ee.Stderr)
}

// MissingRevision reports whether err says a revision (such as
// main@origin) does not exist.
func MissingRevision(err error) bool {
	var ee *runner.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Stderr, "doesn't exist")
}

// ParseRefusedSnapshot lists the files of jj's warning
//
//	Warning: Refused to snapshot some files:
//	  big: 1.9MiB (2000000 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)
//
// (jj 0.46); no warning yields nil.
func ParseRefusedSnapshot(stderr string) []string {
	var files []string
	in := false
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.Contains(line, "Refused to snapshot"):
			in = true
		case in && strings.HasPrefix(line, "  "):
			entry := strings.TrimSpace(line)
			// The path is followed by ": <size> (<n> bytes); ...": cut at
			// the last ": " before "(" so a path holding ": " survives.
			if i := strings.Index(entry, " bytes)"); i > 0 {
				head := entry[:i]
				if j := strings.LastIndex(head, ": "); j > 0 {
					entry = head[:j]
				}
			}
			files = append(files, entry)
		default:
			in = false
		}
	}
	return files
}

func joinQuoted(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = fmt.Sprintf("%q", f)
	}
	return strings.Join(q, ", ")
}

// CommitExists reports jj's internal error "Newly-created commit <id>
// already exists": the command created a commit identical, timestamp
// included, to one already in the store.
func CommitExists(err error) bool {
	var ee *runner.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Stderr, "Newly-created commit") && strings.Contains(ee.Stderr, "already exists")
}

// ParseUntracked reads the "Untracked paths:" section of `jj status`
// (jj 0.46: "? path" lines).
func ParseUntracked(out string) []string {
	var paths []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "Untracked paths:":
			in = true
		case in && strings.HasPrefix(line, "? "):
			paths = append(paths, strings.TrimPrefix(line, "? "))
		default:
			in = false
		}
	}
	return paths
}

// ParseIdentity reads `jj config list user`: `user.name = "..."` lines
// (TOML values).
func ParseIdentity(out string) (name, email string, err error) {
	for _, line := range ParseLines(out) {
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal([]byte(strings.TrimSpace(v)), &s) != nil {
			s = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		switch strings.TrimSpace(k) {
		case "user.name":
			name = s
		case "user.email":
			email = s
		}
	}
	return name, email, nil
}

// ParseResolveDetails reads `jj resolve --list`: path -> jj's description
// of the conflict ("2-sided conflict including 1 deletion").
func ParseResolveDetails(out string) map[string]string {
	m := map[string]string{}
	for _, line := range ParseLines(out) {
		line = strings.TrimRight(line, " ")
		path, desc := line, ""
		if i := strings.LastIndex(line, "  "); i > 0 {
			path, desc = strings.TrimRight(line[:i], " "), strings.TrimSpace(line[i:])
		}
		m[path] = desc
	}
	return m
}
