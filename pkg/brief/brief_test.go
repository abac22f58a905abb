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
