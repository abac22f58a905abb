package flake_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nixdots/nixdots/pkg/flake"
)

const seedLock = `{
  "nodes": {
    "nixpkgs": {"locked": {"lastModified": 1700000000, "narHash": "sha256-x", "owner": "NixOS", "repo": "nixpkgs", "rev": "0123456789abcdef", "type": "github"}, "original": {}},
    "nix-secrets": {"locked": {"lastModified": 1710000000, "rev": "fedcba", "type": "git", "url": "git+file:///tmp/s"}},
    "hm": {"inputs": {"nixpkgs": ["nixpkgs"]}, "locked": {"type": "path", "path": "/x"}},
    "root": {"inputs": {"nixpkgs": "nixpkgs", "nix-secrets": "nix-secrets", "home-manager": "hm", "follower": ["nixpkgs"]}}
  },
  "root": "root",
  "version": 7
}`

// FuzzParseLock feeds flake.lock parsing arbitrary bytes: an error or a
// lock, never a panic. An accepted lock must be usable by everything
// rebuild-smart does with it: names, the stale list, a changelog against
// itself (empty) and against nothing (all added), and its JSON form (the
// --json output carries inputs and changelog dates).
func FuzzParseLock(f *testing.F) {
	f.Add([]byte(seedLock))
	f.Add([]byte(`{"nodes":{"root":{}},"root":"root"}`))
	f.Add([]byte(`{"nodes":{"root":{"inputs":{"a":"missing"}}},"root":"root"}`))
	f.Add([]byte(`{"nodes":{"r":{"inputs":{"a":"a"}},"a":{"locked":{"lastModified":"soon","rev":5}}},"root":"r"}`))
	f.Add([]byte(`{"nodes":null,"root":""}`))
	f.Add([]byte(`{"nodes":{"r":{"inputs":{"a":"a"}},"a":{"locked":{"lastModified":1e15,"rev":"x"}}},"root":"r"}`)) // year > 9999
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := flake.ParseLock(data)
		if err != nil {
			return
		}
		names := l.Names()
		if len(names) != len(l.Inputs) {
			t.Fatalf("Names %v vs %d inputs", names, len(l.Inputs))
		}
		for _, n := range names {
			if l.Inputs[n].Name != n || !l.Has(n) {
				t.Fatalf("input %q named %q", n, l.Inputs[n].Name)
			}
		}
		now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		for _, in := range l.Stale(now, 24*time.Hour) {
			if in.Follows || in.LastModified.IsZero() {
				t.Fatalf("stale input without a date: %+v", in)
			}
		}
		if ch := flake.Changelog(l, l); len(ch) != 0 {
			t.Fatalf("changelog of a lock against itself: %v", ch)
		}
		empty := &flake.Lock{Inputs: map[string]flake.Input{}}
		for _, c := range flake.Changelog(empty, l) {
			if !c.Added {
				t.Fatalf("not added: %+v", c)
			}
			_ = c.String()
		}
		if _, err := json.Marshal(flake.Changelog(empty, l)); err != nil {
			t.Fatalf("the changelog of an accepted flake.lock cannot be written as JSON: %v", err)
		}
	})
}

// FuzzParseVersion: `nix --version` output; an accepted version prints and
// parses back to itself.
func FuzzParseVersion(f *testing.F) {
	f.Add("nix (Nix) 2.8.0")
	f.Add("nix (Lix, like Nix) 2.91.1")
	f.Add("nix (Nix) 2.24.10pre20240101_dirty")
	f.Add("nix (Nix) 99999999999999999999.1")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		v, err := flake.ParseVersion(out)
		if err != nil {
			return
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Fatalf("negative version %v from %q", v, out)
		}
		again, err := flake.ParseVersion(fmt.Sprintf("nix (Nix) %s", v))
		if err != nil || again != v {
			t.Fatalf("%v does not parse back: %v %v", v, again, err)
		}
		args := flake.UpdateArgs(v, []string{"nix-secrets"})
		if len(args) < 3 {
			t.Fatalf("UpdateArgs(%v) = %v", v, args)
		}
	})
}

// FuzzParseRef: a flake reference from a flag or NH_FLAKE.
func FuzzParseRef(f *testing.F) {
	f.Add("git+file:///etc/nixos?ref=main#host")
	f.Add("path:.#")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r := flake.ParseRef(s, "/home/u")
		if r.Dir == "" || r.Dir[0] != '/' {
			t.Fatalf("ParseRef(%q).Dir = %q, not absolute", s, r.Dir)
		}
	})
}
