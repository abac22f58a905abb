package vcs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParsePorcelainZ(t *testing.T) {
	in := " M flake.nix\x00?? hosts/new file.nix\x00R  new.nix\x00old.nix\x00A  flake.lock\x00"
	want := []string{"flake.nix", "hosts/new file.nix", "new.nix", "flake.lock"}
	if got := parsePorcelainZ(in); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := parsePorcelainZ(""); got != nil {
		t.Fatalf("empty: %q", got)
	}
}

func TestOpenFindsRepositoryAbove(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "nixos")
	if err := os.MkdirAll(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Open(sub, nil, Options{})
	if err != nil || r.Kind() != Git || r.Dir() != root {
		t.Fatalf("Open: %v %v", r, err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".jj"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r, _ := Open(sub, nil, Options{}); r.Kind() != JJ {
		t.Fatal("colocated repository must be jj")
	}
	if _, err := Open(t.TempDir(), nil, Options{}); !errors.Is(err, ErrNotRepo) {
		t.Fatalf("not a repo: %v", err)
	}
}
