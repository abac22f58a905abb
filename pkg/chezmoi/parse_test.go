package chezmoi

import (
	"reflect"
	"testing"
)

func TestParseChanges(t *testing.T) {
	out := "MM /h/.bashrc\n M /h/.plain\nMM /h/.tpl\n A /h/.new file\nD  /h/.gone\n R /h/.local/run.sh\n\n"
	got, err := ParseChanges(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{'M', 'M', "/h/.bashrc"}, {' ', 'M', "/h/.plain"}, {'M', 'M', "/h/.tpl"},
		{' ', 'A', "/h/.new file"}, {'D', ' ', "/h/.gone"}, {' ', 'R', "/h/.local/run.sh"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"MM", "XY /h/x", "MM/h/x", "chezmoi: error\n"} {
		if _, err := ParseChanges(bad); err == nil {
			t.Errorf("ParseChanges(%q) accepted garbage", bad)
		}
	}
}

func TestPlanCapture(t *testing.T) {
	changes, err := ParseChanges("MM /h/.bashrc\n M /h/.plain\nMM /h/.tpl\n A /h/.new\nD  /h/.gone\n R /h/run.sh\n")
	if err != nil {
		t.Fatal(err)
	}
	p := PlanCapture(changes, []string{"/h/.tpl", "/h/.other-tpl"})
	want := Plan{
		Capture:      []string{"/h/.bashrc"},
		Uncapturable: []string{"/h/.tpl"},
		Pending:      []string{"/h/.plain", "/h/.new"},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if !NeedsTemplates(changes) {
		t.Error("NeedsTemplates: home edits present")
	}
	if NeedsTemplates(changes[1:2]) {
		t.Error("NeedsTemplates: a source-side change needs no template list")
	}
	if got := Differing(changes); !reflect.DeepEqual(got, []string{"/h/.bashrc", "/h/.plain", "/h/.tpl", "/h/.new"}) {
		t.Errorf("Differing: %q", got)
	}
}

func TestParseManagedNul(t *testing.T) {
	got := ParseManagedNul("/h/.a\x00/h/with\nnewline\x00\x00")
	if !reflect.DeepEqual(got, []string{"/h/.a", "/h/with\nnewline"}) {
		t.Fatalf("got %q", got)
	}
	if ParseManagedNul("") != nil {
		t.Fatal("empty output")
	}
}

func TestParseEntryState(t *testing.T) {
	// chezmoi 2.73's output, trimmed.
	out := `{
  "/home/a/.bashrc": {"contentsSHA256": "87428fc5", "mode": 420, "type": "file"},
  "/home/a/.config": {"mode": 2147484141, "type": "dir"}
}`
	got, err := ParseEntryState([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["/home/a/.bashrc"] != "87428fc5" {
		t.Fatalf("got %v", got)
	}
	if _, err := ParseEntryState([]byte("{garbage")); err == nil {
		t.Fatal("garbage parsed")
	}
	if got, err := ParseEntryState(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

func TestParseManagedPaths(t *testing.T) {
	got, err := ParseManagedPaths([]byte(`{".a": {"absolute": "/h/.a", "sourceAbsolute": "/s/dot_a", "sourceRelative": "dot_a"},
 ".x": {"absolute": "/h/.x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["/h/.a"] != "/s/dot_a" {
		t.Fatalf("got %v", got)
	}
	if _, err := ParseManagedPaths([]byte("not json")); err == nil {
		t.Fatal("garbage accepted")
	}
}
