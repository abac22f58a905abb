package reposave

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStatusZ(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		changes   int
		untracked []string
	}{
		{"clean", "", 0, nil},
		{"modified, staged, deleted", " M a.nix\x00M  b.nix\x00 D c.nix\x00", 3, nil},
		{"untracked with spaces", "?? new dir/file one.nix\x00", 1, []string{"new dir/file one.nix"}},
		{"rename skips its source", "R  new.nix\x00old.nix\x00?? x\x00", 2, []string{"x"}},
		{"intent-to-add", " A added.nix\x00", 1, nil},
	}
	for _, tc := range cases {
		n, u := ParseStatusZ([]byte(tc.in))
		require.Equal(t, tc.changes, n, tc.name)
		require.Equal(t, tc.untracked, u, tc.name)
	}
}

func TestParseJJState(t *testing.T) {
	st, err := ParseJJState("kxyz\tc0ffee\tfalse\tdescribed\tp1,p2\n")
	require.NoError(t, err)
	require.Equal(t, &State{Kind: JJ, Change: "kxyz", Head: "c0ffee", Described: true, Parents: []string{"p1", "p2"}}, st)
	require.True(t, st.Dirty())

	st, err = ParseJJState("kxyz\tc0ffee\ttrue\t-\tp1")
	require.NoError(t, err)
	require.False(t, st.Dirty())
	require.True(t, st.AtTarget("p1"))
	require.False(t, st.AtTarget("p2"))

	_, err = ParseJJState("Error: something\n")
	require.Error(t, err)
}

func TestGitStateAtTarget(t *testing.T) {
	st := &State{Kind: Git, Head: "abc"}
	require.True(t, st.AtTarget("abc"))
	st.Changes = 1
	require.False(t, st.AtTarget("abc"))
	require.True(t, st.Dirty())
	require.NoError(t, st.Check("/r"))
	st.InProgress = "rebase"
	require.ErrorContains(t, st.Check("/r"), "git rebase --abort")
}
