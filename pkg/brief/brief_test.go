package brief

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLine(t *testing.T) {
	require.Equal(t, "error: a | hint: b c", Line("  error: a\nhint:  b\tc\n"))
	require.Equal(t, "", Line(" \n "))
}

func TestFirst(t *testing.T) {
	require.Equal(t, "error: a", First("\n error: a  \nmore"))
	require.Equal(t, "one", First("one"))
}

func TestID(t *testing.T) {
	require.Equal(t, "0123456789ab", ID("0123456789abcdef"))
	require.Equal(t, "abc", ID("abc"))
}

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode ✓":        "plain text, ünïcode ✓",
		"\x1b]0;pwned\a title":         `\x1b]0;pwned\x07 title`,
		"clear\x1b[2Jscreen":           `clear\x1b[2Jscreen`,
		"c1 \u009b31m csi":             `c1 \u009b31m csi`,
		"tab\tand\nnewline\x7f":        `tab\x09and\x0anewline\x7f`,
		"bad utf8 \xff\xfe end":        `bad utf8 \xff\xfe end`,
		"real replacement char \ufffd": "real replacement char \ufffd",
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}
