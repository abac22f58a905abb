package showconflicts

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMarkers(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    Markers
	}{
		{"none", "a\nb\n", Markers{}},
		{"jj diff and snapshot", `line1
<<<<<<< conflict 1 of 1
%%%%%%% diff from: rpprquly 5334b522 "init" (parents of rebased revision)
\\\\\\\        to: ltspqwmq c338b9f0 "a edit" (rebase destination)
-line2
+A edit
+++++++ zmwzqwru dde5366e "b edit" (rebased revision)
B edit
>>>>>>> conflict 1 of 1 ends
line3
`, Markers{Hunks: 1, Sides: []Side{
			{Label: `ltspqwmq c338b9f0 "a edit" (rebase destination)`, Lines: 1, Preview: "A edit"},
			{Label: `zmwzqwru dde5366e "b edit" (rebased revision)`, Lines: 1, Preview: "B edit"},
		}}},
		{"jj snapshots with base, two hunks", `<<<<<<< conflict 1 of 2
+++++++ side one
x
y
------- base
b
+++++++ side two
z
>>>>>>> conflict 1 of 2 ends
mid
<<<<<<<< conflict 2 of 2
++++++++ side one
q
++++++++ side two
>>>>>>>> conflict 2 of 2 ends
`, Markers{Hunks: 2, Sides: []Side{
			{Label: "side one", Lines: 3, Preview: "x"},
			{Label: "side two", Lines: 1, Preview: "z"},
		}}},
		{"git diff3", `<<<<<<< main@origin
theirs
||||||| base
old
=======
ours
ours2
>>>>>>> sync/b
`, Markers{Hunks: 1, Sides: []Side{
			{Label: "main@origin", Lines: 1, Preview: "theirs"},
			{Label: "sync/b", Lines: 2, Preview: "ours"},
		}}},
		{"marker-like text is not a marker", "<<<<<<<x\n=======\n", Markers{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ParseMarkers(tt.content))
		})
	}
}

func TestShortenPreview(t *testing.T) {
	long := ""
	for i := 0; i < 100; i++ {
		long += "x"
	}
	got := ParseMarkers("<<<<<<< a\n" + long + "\n=======\ny\n>>>>>>> b\n")
	require.Len(t, []rune(got.Sides[0].Preview), previewMax)
}
