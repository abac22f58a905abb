package jj

import (
	"errors"
	"reflect"
	"testing"

	"github.com/nixdots/nixdots/pkg/runner"
)

func TestCommitTemplateAndParse(t *testing.T) {
	classes := []Class{{"wc", "@"}, {"remote", `"main"@"origin"`}}
	tmpl := CommitTemplate(classes)
	want := `commit_id ++ "\t" ++ change_id ++ "\t" ++ empty ++ "\t" ++ conflict ++ "\t" ++ if(self.contained_in("@"), "1", "0") ++ "\t" ++ if(self.contained_in("\"main\"@\"origin\""), "1", "0") ++ "\t" ++ json(description.first_line()) ++ "\n"`
	if tmpl != want {
		t.Fatalf("template\n got %s\nwant %s", tmpl, want)
	}
	out := "c1\tk1\ttrue\tfalse\t1\t0\t\"\"\n" +
		"c2\tk2\tfalse\ttrue\t0\t1\t\"chore(a): sync\\twith tab\"\n\n"
	got, err := ParseCommits(out, classes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d commits", len(got))
	}
	if !got[0].Empty || got[0].Conflict || !got[0].Is("wc") || got[0].Is("remote") || got[0].Description != "" {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Empty || !got[1].Conflict || got[1].Is("wc") || !got[1].Is("remote") || got[1].Description != "chore(a): sync\twith tab" {
		t.Errorf("second: %+v", got[1])
	}
	if f := Filter(got, "remote"); len(f) != 1 || f[0].CommitID != "c2" {
		t.Errorf("Filter: %+v", f)
	}
}

func TestParseCommitsRejectsGarbage(t *testing.T) {
	classes := []Class{{"wc", "@"}}
	for _, out := range []string{
		"c1\tk1\ttrue\n",                      // too few fields
		"c1\tk1\tmaybe\tfalse\t1\t\"\"\n",     // not a bool
		"c1\tk1\ttrue\tfalse\tx\t\"\"\n",      // bad class flag
		"c1\tk1\ttrue\tfalse\t1\tnot-json\n",  // description not JSON
		"Error: Revision `x` doesn't exist\n", // an error on stdout
	} {
		if _, err := ParseCommits(out, classes); err == nil {
			t.Errorf("ParseCommits(%q) accepted garbage", out)
		}
	}
}

func TestRevsetQuoting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{RemoteRef("main", "origin"), `"main"@"origin"`},
		{RemoteRef(`we"ird`, "up-stream"), `"we\"ird"@"up-stream"`},
		{LocalBookmark("sync/a-b"), `bookmarks(exact:"sync/a-b")`},
		{RemoteBookmarks("sync/a", "origin"), `remote_bookmarks(exact:"sync/a", exact:"origin")`},
		{TemplateString(`a\b`), `"a\\b"`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s want %s", tc.got, tc.want)
		}
	}
}

func TestParseResolveList(t *testing.T) {
	out := "dot_bashrc    2-sided conflict\ndot_config/my app/x.toml    3-sided conflict including 1 deletion\n\n"
	want := []string{"dot_bashrc", "dot_config/my app/x.toml"}
	if got := ParseResolveList(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := ParseResolveList(""); got != nil {
		t.Fatalf("empty output: %q", got)
	}
	details := ParseResolveDetails(out)
	if !reflect.DeepEqual(details, map[string]string{"dot_bashrc": "2-sided conflict", "dot_config/my app/x.toml": "3-sided conflict including 1 deletion"}) {
		t.Fatalf("details: %q", details)
	}
}

func TestClassifyRemoteError(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   RemoteErrorKind
	}{
		{"Changes to push to origin:\n  Move forward bookmark main from 1 to 2\nError: Failed to push some bookmarks\nHint: The following references unexpectedly moved on the remote:\n  refs/heads/main (reason: stale info)\n", RemoteStale},
		{" ! [rejected]        main -> main (fetch first)", RemoteStale},
		{"Error: Could not find repository at '/tmp/x/remote.git'", RemoteUnreachable},
		{"ssh: Could not resolve hostname github.invalid\nfatal: Could not read from remote repository.", RemoteUnreachable},
		{"fatal: unable to access 'https://x/': Could not resolve host: x", RemoteUnreachable},
		{"Error: No git remote named 'upstream'", RemoteUnknown},
		{"Warning: No matching remotes for names: upstream\nError: No git remotes to fetch from", RemoteUnknown},
		{"Error: Non-tracking remote bookmark main@origin exists\nHint: Run `jj bookmark track main@origin`", RemoteNotTracking},
		{"Error: Won't push commit 0123 since it has conflicts", RemoteConflicted},
		// Two hosts pushing at the same instant (seen in the fleet soak).
		{"Changes to push to origin:\n  Move forward bookmark main from 1 to 2\nError: Failed to push some bookmarks\nHint: The following references unexpectedly moved on the remote:\n  refs/heads/main (reason: incorrect old value provided)\n", RemoteStale},
		{"remote: error: cannot lock ref 'refs/heads/main': is at 1111 but expected 2222\nError: Failed to push some bookmarks", RemoteStale},
		{"error: failed to push some refs: refs/heads/main (reason: Incorrect Old Value Provided)", RemoteStale},
		{"Error: something new", RemoteOther},
	} {
		if got := ClassifyRemoteError(tc.stderr); got != tc.want {
			t.Errorf("ClassifyRemoteError(%q) = %s, want %s", tc.stderr, got, tc.want)
		}
	}
}

func TestRemoteKindUsesWholeStderrAndTimeouts(t *testing.T) {
	// The error keeps only the tail; the stale-info line is earlier.
	res := runner.Result{Stderr: []byte("refs/heads/main (reason: stale info)\nline\nline\nline\n")}
	err := &runner.ExitError{Code: 1, Stderr: "line | line | line"}
	if got := RemoteKind(res, err); got != RemoteStale {
		t.Errorf("got %s", got)
	}
	if got := RemoteKind(runner.Result{}, &runner.ExitError{Code: -1, TimedOut: true}); got != RemoteUnreachable {
		t.Errorf("timeout: got %s", got)
	}
	if got := RemoteKind(runner.Result{}, errors.New("plain")); got != RemoteOther {
		t.Errorf("plain error: got %s", got)
	}
}

func TestNoConflictsAndMissingRevision(t *testing.T) {
	if !NoConflicts(&runner.ExitError{Code: 2, Stderr: "Error: No conflicts found at this revision"}) {
		t.Error("NoConflicts missed jj's message")
	}
	if NoConflicts(&runner.ExitError{Code: 1, Stderr: "Error: other"}) {
		t.Error("NoConflicts matched another error")
	}
	if !MissingRevision(&runner.ExitError{Code: 1, Stderr: "Error: Revision `\"trunk\"@\"origin\"` doesn't exist"}) {
		t.Error("MissingRevision missed jj's message")
	}
	if MissingRevision(errors.New("Revision doesn't exist")) {
		t.Error("MissingRevision matched a non-exec error")
	}
}

func TestParseRefusedSnapshot(t *testing.T) {
	// jj 0.46's warning, verbatim, for two files (one with ": " in its name).
	stderr := "Warning: Refused to snapshot some files:\n" +
		"  big: 1.9MiB (2000000 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)\n" +
		"  dot_a: b blob: 20.0MiB (20971520 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)\n" +
		"Hint: This is to prevent large files from being added by accident. To fix this:\n" +
		"  * Add the file(s) to `.gitignore`\n"
	got := ParseRefusedSnapshot(stderr)
	want := []string{"big", "dot_a: b blob"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ParseRefusedSnapshot = %q, want %q", got, want)
	}
	if got := ParseRefusedSnapshot("Working copy changes:\nM  a\n"); got != nil {
		t.Fatalf("no warning: got %q", got)
	}
}

func TestCommitExists(t *testing.T) {
	// jj 0.46, redoing a killed rebase within the same second.
	err := &runner.ExitError{Code: 255, Stderr: "Internal error: Unexpected error from backend | Caused by: Newly-created commit 5914e89fb8d2 already exists"}
	if !CommitExists(err) {
		t.Error("CommitExists missed jj's message")
	}
	if CommitExists(&runner.ExitError{Code: 1, Stderr: "Error: Revision already exists"}) || CommitExists(errors.New("Newly-created commit x already exists")) {
		t.Error("CommitExists matched something else")
	}
}

// jj's own error line leads, not the hints after it (jj 0.46 output).
func TestErrorLine(t *testing.T) {
	stderr := "Warning: Failed to resolve `revset-aliases.trunk()`\nError: Won't push commit 197a18abc504 since it has no author and/or committer set\nHint: Rejected commit: olypqzyy 197a18ab main*\n"
	if got := ErrorLine(stderr); got != "Error: Won't push commit 197a18abc504 since it has no author and/or committer set" {
		t.Fatalf("got %q", got)
	}
	if got := ErrorLine("Error: Failed to import refs\nCaused by: 1: boom\n"); got != "Error: Failed to import refs Caused by: 1: boom" {
		t.Fatalf("got %q", got)
	}
	if got := ErrorLine("Hint: nothing\n"); got != "" {
		t.Fatalf("got %q", got)
	}
}
