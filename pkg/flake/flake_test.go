package flake

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const lockJSON = `{
  "nodes": {
    "nixpkgs": {"locked": {"lastModified": 1577836800, "narHash": "sha256-a", "owner": "NixOS", "repo": "nixpkgs", "rev": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "type": "github"}},
    "nix-secrets": {"locked": {"lastModified": 1700000000, "narHash": "sha256-b", "rev": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "type": "git", "url": "ssh://git@example.test/secrets"}},
    "home-manager": {"inputs": {"nixpkgs": ["nixpkgs"]}, "locked": {"lastModified": 1763000000, "narHash": "sha256-c", "owner": "nix-community", "repo": "home-manager", "rev": "cccccccccccccccccccccccccccccccccccccccc", "type": "github"}},
    "root": {"inputs": {"nixpkgs": "nixpkgs", "nix-secrets": "nix-secrets", "home-manager": "home-manager", "lib": ["home-manager", "nixpkgs"]}}
  },
  "root": "root",
  "version": 7
}`

func TestParseLock(t *testing.T) {
	l, err := ParseLock([]byte(lockJSON))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Names(); !slices.Equal(got, []string{"home-manager", "lib", "nix-secrets", "nixpkgs"}) {
		t.Fatalf("names %v", got)
	}
	np := l.Inputs["nixpkgs"]
	if np.Rev != strings.Repeat("a", 40) || np.Type != "github" || !np.LastModified.Equal(time.Unix(1577836800, 0)) || np.URL != "github:NixOS/nixpkgs" {
		t.Fatalf("nixpkgs %+v", np)
	}
	if !l.Inputs["lib"].Follows || !l.Has("nix-secrets") || l.Has("nope") {
		t.Fatalf("follows/has wrong: %+v", l.Inputs["lib"])
	}
	for _, bad := range []string{"", "{", `{"nodes":{},"root":"root"}`} {
		if _, err := ParseLock([]byte(bad)); err == nil {
			t.Errorf("ParseLock(%q) accepted", bad)
		}
	}
}

func TestStale(t *testing.T) {
	l, _ := ParseLock([]byte(lockJSON))
	now := time.Unix(1763000000, 0).Add(24 * time.Hour)
	var names []string
	for _, in := range l.Stale(now, 30*24*time.Hour) {
		names = append(names, in.Name)
	}
	if !slices.Equal(names, []string{"nix-secrets", "nixpkgs"}) {
		t.Fatalf("stale %v", names)
	}
	if got := l.Stale(now, 100*365*24*time.Hour); len(got) != 0 {
		t.Fatalf("nothing is a century old: %v", got)
	}
}

func TestChangelog(t *testing.T) {
	old, _ := ParseLock([]byte(lockJSON))
	newer, _ := ParseLock([]byte(strings.Replace(strings.Replace(lockJSON, strings.Repeat("a", 40), strings.Repeat("d", 40), 1), "1577836800", "1600000000", 1)))
	delete(newer.Inputs, "home-manager")
	newer.Inputs["extra"] = Input{Name: "extra", Rev: "eeee"}
	ch := Changelog(old, newer)
	var lines []string
	for _, c := range ch {
		lines = append(lines, c.String())
	}
	want := []string{
		"extra: added at eeee (no date)",
		"home-manager: removed (was cccccccccccc)",
		"nixpkgs: aaaaaaaaaaaa (2020-01-01) → dddddddddddd (2020-09-13)",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("changelog\n got %q\nwant %q", lines, want)
	}
	if len(Changelog(old, old)) != 0 {
		t.Fatal("no change must give an empty changelog")
	}
}

func TestVersionAndUpdateArgs(t *testing.T) {
	cases := []struct {
		out    string
		want   Version
		inputs []string
		args   string
	}{
		{"nix (Nix) 2.8.0", Version{2, 8, 0}, []string{"nix-secrets"}, "flake lock --update-input nix-secrets"},
		{"nix (Nix) 2.18.9", Version{2, 18, 9}, []string{"a", "b"}, "flake lock --update-input a --update-input b"},
		{"nix (Nix) 2.19.0", Version{2, 19, 0}, []string{"a", "b"}, "flake update a b"},
		{"nix (Lix, like Nix) 2.91.1", Version{2, 91, 1}, []string{"a"}, "flake update a"},
		{"nix (Nix) 2.24.10pre", Version{2, 24, 10}, nil, "flake update"},
		{"nix (Nix) 2.8.0", Version{2, 8, 0}, nil, "flake update"},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.out)
		if err != nil || v != c.want {
			t.Errorf("ParseVersion(%q) = %v, %v", c.out, v, err)
		}
		if got := strings.Join(UpdateArgs(v, c.inputs), " "); got != c.args {
			t.Errorf("%s %v: %q, want %q", c.out, c.inputs, got, c.args)
		}
	}
	if _, err := ParseVersion("garbage"); err == nil {
		t.Error("garbage version accepted")
	}
}

func TestParseRef(t *testing.T) {
	cases := map[string]Ref{
		".":                              {Dir: "/cwd"},
		"cfg#alpha":                      {Dir: "/cwd/cfg", Host: "alpha"},
		"/etc/nixos":                     {Dir: "/etc/nixos"},
		"path:/srv/cfg#beta":             {Dir: "/srv/cfg", Host: "beta"},
		"git+file:///srv/cfg?ref=main#g": {Dir: "/srv/cfg", Host: "g"},
		"":                               {Dir: "/cwd"},
	}
	for in, want := range cases {
		if got := ParseRef(in, "/cwd"); got != want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", in, got, want)
		}
	}
}
