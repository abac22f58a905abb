package chezmoi_test

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/chezmoi"
)

// FuzzParseChanges feeds `chezmoi status` parsing arbitrary text: an error
// or entries, never a panic; accepted output prints back to itself, and the
// classifier puts every home edit in exactly one bucket.
func FuzzParseChanges(f *testing.F) {
	f.Add(" M /home/a/.bashrc\nMM /home/a/.config/app/config.toml\nA  /home/a/new\n")
	f.Add("D  /home/a/dir with space/ünïcode\r\n R /home/a/.script\n")
	f.Add("?? /x\n")
	f.Add("MM\n")
	f.Add("\n\n \n")
	f.Fuzz(func(t *testing.T, out string) {
		entries, err := chezmoi.ParseChanges(out)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, e := range entries {
			if e.Path == "" || strings.Contains(e.Path, "\n") {
				t.Fatalf("bad path %q", e.Path)
			}
			b.WriteString(string([]byte{e.Actual, e.Target, ' '}) + e.Path + "\n")
		}
		again, err := chezmoi.ParseChanges(b.String())
		if err != nil || len(again) != len(entries) {
			t.Fatalf("reprinted output does not parse back: %v (%d vs %d)", err, len(again), len(entries))
		}
		for i := range again {
			if again[i] != entries[i] {
				t.Fatalf("entry %d: %+v vs %+v", i, again[i], entries[i])
			}
		}
		c := chezmoi.Classify(chezmoi.Input{Changes: entries})
		edits := 0
		for _, e := range entries {
			if e.Target != 'R' && (e.Actual == 'D' || e.Actual != ' ' && e.Target != ' ') {
				edits++
			}
		}
		if got := len(c.Capture) + len(c.Links) + len(c.Waiting); got != edits {
			t.Fatalf("%d home edits, %d captured or waiting", edits, got)
		}
	})
}

// FuzzParseManagedNul: NUL-separated paths (a path may hold a newline).
func FuzzParseManagedNul(f *testing.F) {
	f.Add("/home/a/.bashrc\x00/home/a/with\nnewline\x00")
	f.Add("\x00\x00\n\x00")
	f.Fuzz(func(t *testing.T, out string) {
		paths := chezmoi.ParseManagedNul(out)
		for _, p := range paths {
			if p == "" || strings.Contains(p, "\x00") {
				t.Fatalf("bad path %q", p)
			}
		}
		if len(paths) > strings.Count(out, "\x00")+1 {
			t.Fatalf("%d paths from %d separators", len(paths), strings.Count(out, "\x00"))
		}
	})
}
