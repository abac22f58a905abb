package soak

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestHashTreeSeesEveryChange: the "nothing changed" checks of the sweep
// and the fault tests are only as good as this hash.
func TestHashTreeSeesEveryChange(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/b.txt", "one")
	write("skip/me", "x")
	skip := SkipUnder("skip")
	before, err := HashTree(root, skip)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := HashTree(root, skip)
	if d := Diff(before, same); len(d) != 0 {
		t.Fatalf("unchanged tree differs: %v", d)
	}
	write("a/b.txt", "two")                                           // content
	write("new", "")                                                  // added
	write("skip/me", "ignored")                                       // skipped
	if err := os.Chmod(filepath.Join(root, "a"), 0o700); err != nil { // mode
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(root, "ln")); err != nil {
		t.Fatal(err)
	}
	after, _ := HashTree(root, skip)
	want := []string{"+ln", "+new", "~a", "~a/b.txt"}
	if got := Diff(before, after); !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %v, want %v", got, want)
	}
	if err := os.Remove(filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	again, _ := HashTree(root, skip)
	if got := Diff(after, again); !reflect.DeepEqual(got, []string{"-new"}) {
		t.Fatalf("removal: %v", got)
	}
	if tr, err := HashTree(filepath.Join(root, "missing"), nil); err != nil || len(tr) != 0 {
		t.Fatalf("missing root: %v %v", tr, err)
	}
}
