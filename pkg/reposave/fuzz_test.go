package reposave_test

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/reposave"
)

// FuzzParseStatusZ: `git status --porcelain=v1 -z` output, whatever the
// file names hold; never a panic, and every untracked path is counted.
func FuzzParseStatusZ(f *testing.F) {
	f.Add([]byte(" M a.nix\x00?? new file.nix\x00R  to\x00from\x00"))
	f.Add([]byte("R  x\x00"))
	f.Add([]byte("??\x00?? \x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		changes, untracked := reposave.ParseStatusZ(out)
		if changes < len(untracked) || changes > strings.Count(string(out), "\x00")+1 {
			t.Fatalf("%d changes, %d untracked from %q", changes, len(untracked), out)
		}
		for _, p := range untracked {
			if p == "" || strings.Contains(p, "\x00") {
				t.Fatalf("bad untracked path %q", p)
			}
		}
	})
}

// FuzzParseJJState: one line of the working-copy template.
func FuzzParseJJState(f *testing.F) {
	f.Add("qpvuntsm\tabc123\tfalse\tdescribed\tp1,p2\n")
	f.Add("x\ty\ttrue\t-\t\n")
	f.Add("\t\t\t\t")
	f.Fuzz(func(t *testing.T, out string) {
		st, err := reposave.ParseJJState(out)
		if err != nil {
			return
		}
		if st.Change == "" || st.Head == "" {
			t.Fatalf("accepted without ids: %+v", st)
		}
		for _, p := range st.Parents {
			if p == "" || strings.Contains(p, ",") {
				t.Fatalf("bad parent %q", p)
			}
		}
	})
}
