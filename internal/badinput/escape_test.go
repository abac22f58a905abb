package badinput

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
)

// evil is what a file or repository someone else controls may hold: an OSC
// that retitles the terminal, a screen clear and a C1 CSI.
const evil = "\x1b]0;pwned\a\x1b[2J\u009b31m"

// Strings others control reach the terminal with their control characters
// escaped; the JSON document keeps them exact; completion never offers a
// candidate a shell would act on.
func TestTerminalEscapesAreEscaped(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "git")
	h := testharness.NewHost(t, "alpha").WithBinaries()
	dir := filepath.Join(h.Root, "flake"+evil)
	must(t, os.MkdirAll(dir, 0o755))

	requireEscaped := func(what, stderr string) {
		t.Helper()
		if strings.ContainsAny(stderr, "\x1b\a\u009b") {
			t.Errorf("%s: a control character reached the terminal: %q", what, stderr)
		}
		if !strings.Contains(stderr, `\x1b]0;pwned\x07\x1b[2J\u009b31m`) {
			t.Errorf("%s: the escaped text is not there: %q", what, stderr)
		}
	}
	r := h.Exec("", "rebuild-smart", "--skip-dotfiles", "--flake", dir)
	requireEscaped("rebuild-smart error line", r.Stderr)

	r = h.Exec("", "rebuild-smart", "--json", "--skip-dotfiles", "--flake", dir)
	requireEscaped("rebuild-smart --json stderr", r.Stderr)
	var doc struct {
		Error string `json:"error"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &doc))
	if !strings.Contains(doc.Error, evil) {
		t.Errorf("the JSON error is not exact: %q", doc.Error)
	}

	r = h.Exec("", "chezmoi-sync", "--source-dir", dir)
	requireEscaped("chezmoi-sync error line", r.Stderr)

	// A history others may write offers only safe completions.
	state := h.StateDir()
	must(t, os.MkdirAll(state, 0o700))
	good := strings.Repeat("ab12", 10)
	lines := []string{
		`{"time":"2026-11-01T00:00:00Z","host":"alpha","flake":"/x","commit":"$(touch ` + filepath.Join(h.Root, "pwned") + `)","toplevel":"/nix/store/a","action":"switch","outcome":"success","source":"rebuild-smart","generation":1}`,
		`{"time":"2026-11-02T00:00:00Z","host":"alpha","flake":"/x","commit":"` + good + `","toplevel":"/nix/store/b","action":"switch","outcome":"success","source":"rebuild-smart","generation":2}`,
		`{"time":"2026-11-03T00:00:00Z","host":"alpha","flake":"/x","commit":` + quoteJSON("x"+evil) + `,"toplevel":"/nix/store/c","action":"switch","outcome":"success","source":"rebuild-smart","generation":3}`,
	}
	must(t, os.WriteFile(filepath.Join(state, "rebuild-history.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	r = h.Exec("", "rebuild-rollback", "__complete", "to-commit")
	if r.Code != 0 || !strings.Contains(r.Stdout, good[:12]+"\t") {
		t.Fatalf("the safe commit is not offered:\n%s", r)
	}
	if strings.Contains(r.Stdout, "$(") || strings.ContainsAny(r.Stdout, "\x1b\a\u009b") {
		t.Errorf("an unsafe candidate was offered: %q", r.Stdout)
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Shared flags kong accepts but no run can use are usage errors in every
// binary: one line, exit 2, nothing created.
func TestUnusableGlobalFlags(t *testing.T) {
	t.Parallel()
	h := testharness.NewHost(t, "alpha").WithBinaries()
	for _, bin := range []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"} {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--wait=-1s"}, "--wait -1s: a time to wait cannot be negative"},
			{[]string{"--state-dir", ""}, "--state-dir is empty"},
			{[]string{"--state-dir=" + filepath.Join(h.Root, "a\nb")}, "holds a control character"},
		} {
			r := h.Exec(h.Root, bin, c.args...)
			if r.Code != 2 || !strings.Contains(r.Stderr, c.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Errorf("%s %q: want exit 2 and one line with %q:\n%s", bin, c.args, c.want, r)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(h.Root, "a\nb")); err == nil {
		t.Error("a state directory named with a newline was made")
	}
}
