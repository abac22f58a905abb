package mergetext

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hunk builds a file of one conflicting hunk between a common head and tail,
// labelled as jj labels a rebase (side 1 the destination).
func hunk(side1, base, side2 string) string {
	return "head\n" +
		"<<<<<<< abc 123 \"remote\" (rebase destination)\n" + side1 +
		"||||||| def 456 \"base\" (parents of rebased revision)\n" + base +
		"=======\n" + side2 +
		">>>>>>> ghi 789 \"local\" (rebased revision)\n" +
		"tail\n"
}

func TestParseAndChoose(t *testing.T) {
	f, err := Parse(hunk("B-remote\n", "b\n", "B-local\n"))
	require.NoError(t, err)
	require.Equal(t, 1, f.Conflicts())
	require.Equal(t, 0, f.SideWith("(rebase destination)"))
	require.Equal(t, 1, f.SideWith("(rebased revision)"))
	require.Equal(t, "head\nB-remote\ntail\n", f.Choose(0))
	require.Equal(t, "head\nB-local\ntail\n", f.Choose(1))
	_, ok := f.Trivial()
	require.False(t, ok, "a real conflict needs a person")
}

func TestParseKeepsWhatBothSidesAgreeOn(t *testing.T) {
	text := "a\n<<<<<<< x\n1\n||||||| b\n0\n=======\n2\n>>>>>>> y\nmiddle\n<<<<<<< x\n3\n||||||| b\n0\n=======\n4\n>>>>>>> y\nz"
	f, err := Parse(text)
	require.NoError(t, err)
	require.Equal(t, 2, f.Conflicts())
	require.False(t, f.FinalNewline)
	require.Equal(t, "a\n2\nmiddle\n4\nz", f.Choose(1))
}

func TestLongerMarkers(t *testing.T) {
	// jj lengthens markers when the file holds lines that look like them.
	text := "<<<<<<<<<<< x\n======= not a marker\n||||||||||| b\nb\n===========\n>>>>>>> nor this\n>>>>>>>>>>> y\n"
	f, err := Parse(text)
	require.NoError(t, err)
	require.Equal(t, []string{"======= not a marker"}, f.Regions[0].Sides[0])
	require.Equal(t, []string{">>>>>>> nor this"}, f.Regions[0].Sides[1])
}

func TestNotTwoSided(t *testing.T) {
	for name, text := range map[string]string{
		"jj style": "<<<<<<< conflict 1 of 1\n%%%%%%% diff from: a\n\\\\\\\\\\\\\\        to: b\n-x\n+y\n+++++++ c\nz\n>>>>>>> conflict 1 of 1 ends\n",
		"unended":  "<<<<<<< x\na\n||||||| b\n",
		"no base":  "<<<<<<< x\na\n=======\nb\n>>>>>>> y\n",
	} {
		_, err := Parse(text)
		require.ErrorIs(t, err, ErrNotTwoSided, name)
	}
}

func TestTrivial(t *testing.T) {
	for _, tc := range []struct {
		name, side1, base, side2, want, reason string
		dropped                                [2]bool
	}{
		{"same change", "x\n", "b\n", "x\n", "x\n", SameChange, [2]bool{}},
		{"only side 2", "b\n", "b\n", "y\n", "y\n", OnlyOneSide, [2]bool{}},
		{"only side 1", "y\n", "b\n", "b\n", "y\n", OnlyOneSide, [2]bool{}},
		{"side 2 whitespace", "alias ll='ls -la'\n", "alias ll='ls -l'\n", "alias ll='ls -l'  \n", "alias ll='ls -la'\n", WhitespaceOnly, [2]bool{false, true}},
		{"side 1 whitespace", "b\t\n", "b\n", "c\n", "c\n", WhitespaceOnly, [2]bool{true, false}},
		{"different lines", "A1\nb2\n", "b1\nb2\n", "b1\nB2\n", "A1\nB2\n", DifferentLines, [2]bool{}},
	} {
		f, err := Parse(hunk(tc.side1, tc.base, tc.side2))
		require.NoError(t, err, tc.name)
		o, ok := f.Trivial()
		require.True(t, ok, tc.name)
		require.Equal(t, "head\n"+tc.want+"tail\n", o.Text, tc.name)
		require.Equal(t, []string{tc.reason}, o.Reasons, tc.name)
		require.Equal(t, tc.dropped, o.Dropped, tc.name)
	}
	for name, h := range map[string][3]string{
		"same line both":    {"x\n", "b\n", "y\n"},
		"different lengths": {"x\ny\n", "b\n", "b\nz\n"},
		"whitespace both":   {"b \nx\n", "b\nc\n", "b\ty\n"},
	} {
		f, err := Parse(hunk(h[0], h[1], h[2]))
		require.NoError(t, err, name)
		_, ok := f.Trivial()
		require.False(t, ok, name)
	}
}

// Parsing never panics and a file without markers comes back unchanged.
func FuzzParse(f *testing.F) {
	f.Add(hunk("a\n", "b\n", "c\n"))
	f.Add("plain\ntext")
	f.Add("<<<<<<<\n|||||||\n=======\n>>>>>>>\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse(s)
		if err != nil {
			return
		}
		if file.Conflicts() == 0 && !strings.Contains(s, "<<<<<<<") {
			require.Equal(t, s, file.Choose(0))
		}
		_, _ = file.Trivial()
	})
}

// HasConflict: the rule chezmoi-sync applies to home files before
// capturing them (a complete block, opened and later closed).
func TestHasConflict(t *testing.T) {
	for text, want := range map[string]bool{
		"a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n": true,
		"<<<<<<<\nx\n>>>>>>>":                  true,
		"x\r\n<<<<<<< a\r\ny\r\n>>>>>>> b\r\n": true,
		"<<<<<<< only an opening line\nx\n":    false,
		">>>>>>> b\n<<<<<<< a\n":               false,
		"<<<<<<<<< nine\nx\n>>>>>>>>> nine\n":  false,
		"  <<<<<<< indented\nx\n>>>>>>> b\n":   false,
		"<<<<<<< a\n\x00\n>>>>>>> b\n":         false,
		"plain text\n":                         false,
	} {
		if got := HasConflict([]byte(text)); got != want {
			t.Errorf("HasConflict(%q) = %v, want %v", text, got, want)
		}
	}
}

// HasMarkerLines: any line that starts like a marker, as --continue checks.
func TestHasMarkerLines(t *testing.T) {
	for text, want := range map[string]bool{
		"a\n>>>>>>> conflict 1 of 1 ends\n": true,
		"%%%%%%% diff from: x\n":            true,
		"x\n+++++++\n":                      true,
		"\\\\\\\\\\\\\\        to: y\n":     true,
		"||||||| base\r\n":                  true,
		"<<<<<<<<<<\n":                      true,
		"=======\n-------\n":                false,
		"<<<<<<<x\n":                        false,
		" <<<<<<< indented\n":               false,
		"<<<<<<< a\n\x00":                   true, // jj's markers in a binary file
		"resolved\n":                        false,
	} {
		if got := HasMarkerLines([]byte(text)); got != want {
			t.Errorf("HasMarkerLines(%q) = %v, want %v", text, got, want)
		}
	}
}
