package jj_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/jj"
)

// The fuzz tests below feed the parsers of jj's template output arbitrary
// text (a jj upgrade, a truncated pipe, a description holding anything):
// they must return an error or a value, never panic, and what they accept
// must satisfy the invariants the sync relies on. The seeds run in every
// `go test`; `go test -fuzz FuzzX ./pkg/jj` explores further.

var fuzzClasses = []jj.Class{{Name: "local", Revset: "main@origin..@"}, {Name: "incoming", Revset: "@..main@origin"}}

func FuzzParseCommits(f *testing.F) {
	f.Add("abc123\tzzxy\tfalse\ttrue\t1\t0\t\"chore(h): sync dotfiles\"\n")
	f.Add("a\tb\ttrue\tfalse\t0\t0\t\"tab\\there\"\n\n")
	f.Add("a\tb\ttrue\tfalse\t0\t0\t\"unterminated\n")
	f.Add("a\tb\tmaybe\tfalse\t0\t0\t\"\"\n")
	f.Add("a\tb\ttrue\tfalse\t2\t0\t\"\"\n")
	f.Add("\t\t\t\t\t\t\n")
	f.Fuzz(func(t *testing.T, out string) {
		commits, err := jj.ParseCommits(out, fuzzClasses)
		if err != nil {
			if commits != nil {
				t.Fatalf("error %v with commits %v", err, commits)
			}
			return
		}
		if len(commits) > strings.Count(out, "\n")+1 {
			t.Fatalf("%d commits from %d lines", len(commits), strings.Count(out, "\n")+1)
		}
		for _, c := range commits {
			if strings.ContainsAny(c.CommitID+c.ChangeID, "\t\n") {
				t.Fatalf("id holds a separator: %q %q", c.CommitID, c.ChangeID)
			}
			for k := range c.In {
				if k != "local" && k != "incoming" {
					t.Fatalf("unknown class %q", k)
				}
			}
		}
	})
}

// FuzzCommitTemplateRoundTrip writes one line the way CommitTemplate makes
// jj print it and checks that ParseCommits gives back exactly those fields,
// whatever the description holds (tabs, quotes, newlines, invalid UTF-8).
func FuzzCommitTemplateRoundTrip(f *testing.F) {
	f.Add("0123abcd", "qpvuntsm", true, false, true, false, "chore(a;b $(x) c): sync dotfiles")
	f.Add("f", "k", false, true, false, true, "tab\there \"quoted\" \\ back")
	f.Add("f", "k", false, false, false, false, "\xff\xfe invalid utf8")
	f.Fuzz(func(t *testing.T, commitID, changeID string, empty, conflict, local, incoming bool, desc string) {
		if commitID == "" || changeID == "" || strings.ContainsAny(commitID+changeID, "\t\n\r") ||
			strings.TrimSpace(commitID) == "" {
			return // jj ids are hex / reverse-hex, never empty or with separators
		}
		desc, _, _ = strings.Cut(desc, "\n") // description.first_line()
		quoted, err := json.Marshal(desc)
		if err != nil {
			t.Fatal(err)
		}
		var want string // what a JSON round trip keeps (invalid UTF-8 becomes U+FFFD)
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatal(err)
		}
		flag := func(b bool) string {
			if b {
				return "1"
			}
			return "0"
		}
		line := strings.Join([]string{commitID, changeID, boolStr(empty), boolStr(conflict), flag(local), flag(incoming), string(quoted)}, "\t") + "\n"
		commits, err := jj.ParseCommits(line, fuzzClasses)
		if err != nil {
			t.Fatalf("ParseCommits(%q): %v", line, err)
		}
		if len(commits) != 1 {
			t.Fatalf("ParseCommits(%q) = %d commits", line, len(commits))
		}
		c := commits[0]
		if c.CommitID != commitID || c.ChangeID != changeID || c.Empty != empty || c.Conflict != conflict ||
			c.Is("local") != local || c.Is("incoming") != incoming || c.Description != want {
			t.Fatalf("round trip of %q gave %+v", line, c)
		}
	})
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// FuzzParseResolveList: `jj resolve --list` prints "path<spaces>N-sided
// conflict"; a path with single spaces must come back whole.
func FuzzParseResolveList(f *testing.F) {
	f.Add("dot_bashrc", "2-sided conflict")
	f.Add("dot_config/my app/conf file.toml", "3-sided conflict including 1 deletion")
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, path, desc string) {
		got := jj.ParseResolveList(path + "    " + desc + "\n")
		for _, p := range got {
			if strings.Contains(p, "\n") {
				t.Fatalf("path with a newline: %q", p)
			}
		}
		if strings.ContainsAny(path, "\n\r") || strings.Contains(path, "  ") || strings.TrimSpace(path) == "" ||
			strings.HasSuffix(path, " ") || strings.ContainsAny(desc, "\n\r") || strings.TrimSpace(desc) == "" ||
			strings.Contains(desc, "  ") || strings.HasPrefix(desc, " ") {
			return
		}
		if len(got) != 1 || got[0] != path {
			t.Fatalf("ParseResolveList(%q) = %q, want [%q]", path+"    "+desc, got, path)
		}
	})
}

func FuzzParseStatusCommits(f *testing.F) {
	f.Add(`{"commit":{"commit_id":"abc","parents":["def"],"change_id":"xyz","description":"line one\nline two\n","author":{"name":"a","email":"a@x","timestamp":"2026-01-02T03:04:05+01:00"}},"conflict":false,"empty":true,"wc":true,"bookmarks":[{"name":"main"}]}` + "\n")
	f.Add(`{"commit":{"parents":null},"in":{"local":true}}`)
	f.Add(`{"commit":{"author":{"timestamp":"not a time"}}}`)
	f.Add("{\n")
	f.Fuzz(func(t *testing.T, out string) {
		commits, err := jj.ParseStatusCommits(out)
		if err != nil {
			return
		}
		for _, c := range commits {
			if c.Parents == nil || c.Bookmarks == nil {
				t.Fatalf("nil slice in %+v (the JSON schema promises arrays)", c)
			}
			if strings.Contains(c.Description, "\n") {
				t.Fatalf("description is not one line: %q", c.Description)
			}
		}
	})
}

func FuzzParseStatusBookmarks(f *testing.F) {
	f.Add("main\t\tabc\tfalse\tfalse\nmain\torigin\tabc\tfalse\ttrue\nmain\tgit\tabc\tfalse\ttrue\n")
	f.Add("sync/a;b $(x) c\torigin\t\ttrue\tfalse\n")
	f.Add("a\tb\n")
	f.Fuzz(func(t *testing.T, out string) {
		bms, err := jj.ParseStatusBookmarks(out)
		if err != nil {
			return
		}
		for _, b := range bms {
			if b.Remote == "git" {
				t.Fatalf("the git pseudo-remote was kept: %+v", b)
			}
			if strings.ContainsAny(b.Name+b.Remote+b.CommitID, "\t\n") {
				t.Fatalf("field holds a separator: %+v", b)
			}
		}
	})
}

func FuzzClassifyRemoteError(f *testing.F) {
	f.Add("Error: Could not find repository at '/tmp/x'")
	f.Add("refs/heads/main (reason: stale info)\nError: Failed to push some bookmarks")
	f.Add("Error: Won't push commit abc since it has conflicts")
	f.Add("")
	f.Fuzz(func(t *testing.T, stderr string) {
		k := jj.ClassifyRemoteError(stderr)
		if k.String() == "" {
			t.Fatalf("kind %d has no name", k)
		}
		// The classification reads the text case-insensitively (as its
		// strings.ToLower sees it: not strings.EqualFold, whose Unicode
		// folding is wider).
		upperLowered, lowered := strings.ToLower(strings.ToUpper(stderr)), strings.ToLower(stderr)
		if k2 := jj.ClassifyRemoteError(strings.ToUpper(stderr)); k2 != k && upperLowered == lowered {
			t.Fatalf("case changes the kind of %q: %v vs %v", stderr, k, k2)
		}
	})
}
