package nixsys

import (
	"fmt"
	"testing"
)

// FuzzParseLinkName: entries of /nix/var/nix/profiles. An accepted name is
// exactly system-<N>-link for a positive N.
func FuzzParseLinkName(f *testing.F) {
	for _, s := range []string{"system-41-link", "system-0-link", "system--1-link", "system-1-link-link", "system", "system-99999999999999999999-link", "system-+5-link"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, ok := ParseLinkName(name)
		if !ok {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseLinkName(%q) = %d", name, n)
		}
		if back, ok2 := ParseLinkName(fmt.Sprintf("system-%d-link", n)); !ok2 || back != n {
			t.Fatalf("generation %d does not round-trip (from %q)", n, name)
		}
	})
}
