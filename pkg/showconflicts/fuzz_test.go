package showconflicts_test

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/showconflicts"
)

// FuzzParseMarkers reads any file content (a conflicted dotfile can hold
// anything, markers included as plain text): never a panic, and the
// summary is sane.
func FuzzParseMarkers(f *testing.F) {
	f.Add("a\n<<<<<<< conflict 1 of 1\n%%%%%%% diff from: base\n\\\\\\\\\\\\\\        to: side #1\n-old\n+new\n+++++++ side #2\nother\n>>>>>>> conflict 1 of 1 ends\nb\n")
	f.Add("<<<<<<< ours\nx\n||||||| base\ny\n=======\nz\n>>>>>>> theirs\n")
	f.Add("<<<<<<<\n<<<<<<<\n>>>>>>>\n")
	f.Add("<<<<<<< a\n")
	f.Add(">>>>>>> only end\n=======\n")
	f.Fuzz(func(t *testing.T, content string) {
		m := showconflicts.ParseMarkers(content)
		if m.Hunks < 0 || m.Hunks > strings.Count(content, "<<<<<<<") {
			t.Fatalf("%d hunks from %d start markers", m.Hunks, strings.Count(content, "<<<<<<<"))
		}
		if m.Hunks == 0 && len(m.Sides) != 0 {
			t.Fatalf("sides without hunks: %+v", m.Sides)
		}
		for _, s := range m.Sides {
			if s.Lines < 0 || strings.Contains(s.Preview, "\n") {
				t.Fatalf("bad side %+v", s)
			}
		}
	})
}
