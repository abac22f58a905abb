package nixsys

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDiffClosures(t *testing.T) {
	out := "firefox: 120.0 → 121.0, +1234.5 KiB\n" +
		"hello: ∅ → 2.12, +50.0 KiB\n" +
		"oldtool: 1.0 → ∅, -10.0 KiB\n" +
		"linux: 6.6.1 → 6.1.9\n" +
		"etc: +0.3 KiB\n" +
		"\x1b[1mbash\x1b[0m: 5.2-p15 → 5.2-p21\n" +
		"garbage line\n"
	got := ParseDiffClosures(out)
	require.Len(t, got, 6)
	require.Equal(t, PackageChange{Name: "firefox", Kind: ChangeUpgraded, Old: []string{"120.0"}, New: []string{"121.0"}, SizeDeltaBytes: 1264128}, got[0])
	require.Equal(t, ChangeAdded, got[1].Kind)
	require.Equal(t, ChangeRemoved, got[2].Kind)
	require.Equal(t, int64(-10240), got[2].SizeDeltaBytes)
	require.Equal(t, ChangeDowngraded, got[3].Kind)
	require.Equal(t, PackageChange{Name: "etc", Kind: ChangeChanged, SizeDeltaBytes: 307}, got[4])
	require.Equal(t, "bash", got[5].Name)
	require.Equal(t, ChangeUpgraded, got[5].Kind)
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "1.1", -1}, {"1.10", "1.9", 1}, {"2.0pre1", "2.0", -1},
		{"1.0", "1.0.1", -1}, {"1.0a", "1.0", 1}, {"6.6.1", "6.1.9", 1}, {"5.2-p15", "5.2-p21", -1},
	} {
		require.Equal(t, c.want, CompareVersions(c.a, c.b), "%s vs %s", c.a, c.b)
	}
}
