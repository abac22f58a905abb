package soak

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestResolveKeepsWhatTheDocsSay: the soak's simulated user resolves a jj
// conflict (jj 0.46's default "diff" markers, also the snapshot and git
// styles) the way docs/chezmoi-sync.md says: the lines each side added
// stay, a line a side removed stays removed (a token from a deleted line
// is not brought back: that would hide a revert), the markers go.
func TestResolveKeepsWhatTheDocsSay(t *testing.T) {
	names := []string{"host0", "host1"}
	conflicted := RenderHot([]string{"tok-r1-host0-1"}) + `<<<<<<< conflict 1 of 1
%%%%%%% diff from: abc "base" (parents of rebased revision)
\\\\\\\        to: def "mine" (rebased revision)
+tok-r2-host1-2
-tok-r0-host1-0
+++++++ ghi "theirs" (rebase destination)
tok-r2-host0-3
>>>>>>> conflict 1 of 1 ends
`
	got, err := Resolve(HotFile, names, conflicted)
	if err != nil {
		t.Fatal(err)
	}
	want := RenderHot([]string{"tok-r1-host0-1", "tok-r2-host1-2", "tok-r2-host0-3"})
	if got != want {
		t.Fatalf("hot.conf resolved to\n%s\nwant\n%s", got, want)
	}
	shared := strings.Replace(RenderShared(names, map[string][]string{"host0": {"tok-r1-host0-1"}}), "[end host1]", "<<<<<<<\n+tok-r3-host1-4\n>>>>>>>\n[end host1]", 1)
	got, err = Resolve(SharedFile, names, shared)
	if err != nil {
		t.Fatal(err)
	}
	if want := RenderShared(names, map[string][]string{"host0": {"tok-r1-host0-1"}, "host1": {"tok-r3-host1-4"}}); got != want {
		t.Fatalf("shared.conf resolved to\n%s\nwant\n%s", got, want)
	}
	for style, text := range map[string]string{
		"snapshot": "a\n<<<<<<< conflict 1 of 1\n+++++++ side 1\nb\nc\n------- base\nb\nr\n+++++++ side 2\nb\nr\nd\n>>>>>>> conflict 1 of 1 ends\ne\n",
		"git":      "a\n<<<<<<< side 1\nb\nc\n||||||| base\nb\nr\n=======\nb\nr\nd\n>>>>>>> side 2\ne\n",
		"diff":     "a\n<<<<<<< conflict 1 of 1\n%%%%%%% diff from: base\n\\\\\\\\\\\\\\        to: side 1\n b\n-r\n+c\n+++++++ side 2\nb\nr\nd\n>>>>>>> conflict 1 of 1 ends\ne\n",
	} {
		got, err := KeepBothSides(text)
		if err != nil || got != "a\nb\nc\nd\ne\n" {
			t.Fatalf("%s style: %q %v (want side 1's c and side 2's d, not the r side 1 removed)", style, got, err)
		}
	}
	if _, err := KeepBothSides("<<<<<<< conflict\n+++++++ x\na\n"); err == nil {
		t.Fatal("a conflict without its end was accepted")
	}
	if _, err := Resolve(".bashrc", names, "x"); err == nil {
		t.Fatal("Resolve accepted a file it has no rule for")
	}
	if got := Tokens("a tok-r1-host0-1 b tok-r1-host0-1 tok-r12-host7-30"); !reflect.DeepEqual(got, []string{"tok-r1-host0-1", "tok-r12-host7-30"}) {
		t.Fatalf("Tokens = %v", got)
	}
	if SourcePath(".config/fleet/hot.conf") != "dot_config/fleet/hot.conf" || homeRel("dot_config/fleet/hot.conf") != ".config/fleet/hot.conf" {
		t.Fatal("source/home path mapping")
	}
}

// TestKeepBothSidesFollowsTheDocs: the example of docs/chezmoi-sync.md
// ("Reading jj's conflict markers") resolves to the lines the docs say.
func TestKeepBothSidesFollowsTheDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "chezmoi-sync.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "**Reading jj's conflict markers**")
	if start < 0 {
		t.Fatal("docs/chezmoi-sync.md has no \"Reading jj's conflict markers\" paragraph")
	}
	block := doc[start:]
	block = block[strings.Index(block, "```text\n")+len("```text\n"):]
	block = block[:strings.Index(block, "```")]
	got, err := KeepBothSides(block)
	if err != nil {
		t.Fatal(err)
	}
	want := "alias ll='ls -l'\nexport EDITOR=nvim\nalias gs='git status'\n"
	if got != want {
		t.Fatalf("the docs' example resolves to\n%s\nwant (what the docs say)\n%s", got, want)
	}
	if !strings.Contains(doc[start:], "`alias ll='ls -l'`, `export EDITOR=nvim`, `alias gs='git status'`") {
		t.Fatal("the docs no longer name the resolved lines this test expects")
	}
}
