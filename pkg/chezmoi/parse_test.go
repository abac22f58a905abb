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

func TestDiffering(t *testing.T) {
	changes, err := ParseChanges("MM /h/.bashrc\n M /h/.plain\nMM /h/.tpl\n A /h/.new\nD  /h/.gone\n R /h/run.sh\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := Differing(changes); !reflect.DeepEqual(got, []string{"/h/.bashrc", "/h/.plain", "/h/.tpl", "/h/.new"}) {
		t.Errorf("Differing: %q", got)
	}
}

func TestParseApplyErrors(t *testing.T) {
	// chezmoi 2.73: a conflict, then a failing script between its own
	// output and a later script's.
	stderr := "chezmoi: .priv: exit status 1\na: failing now\n/tmp/3375.a_fail.sh: 4: nonexistent-cmd-xyz: not found\nchezmoi: a_fail.sh: exit status 127\nlater-b\nchezmoi: warning: config file template has changed, run chezmoi init to regenerate config file\n"
	got := ParseApplyErrors(stderr)
	want := []ApplyFailure{
		{Target: ".priv", Reason: "exit status 1"},
		{Target: "a_fail.sh", Reason: "exit status 127", Context: "/tmp/3375.a_fail.sh: 4: nonexistent-cmd-xyz: not found"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if w := ParseWarnings(stderr); len(w) != 1 || w[0] != "config file template has changed, run chezmoi init to regenerate config file" {
		t.Fatalf("warnings %q", w)
	}
}

func TestParseSourceName(t *testing.T) {
	for name, want := range map[string]Attrs{
		"dot_bashrc":                            {},
		"private_readonly_dot_netrc":            {Private: true, Readonly: true},
		"exact_private_dot_config":              {Exact: true, Private: true},
		"home/exact_dot_ex":                     {Exact: true},
		"symlink_dot_vimrc.tmpl":                {Symlink: true, Template: true},
		"modify_dot_profile":                    {Modify: true},
		"create_dot_hushlogin":                  {Create: true},
		"remove_dot_old":                        {Remove: true},
		"empty_dot_keep":                        {Empty: true},
		"encrypted_private_dot_secret.age":      {Encrypted: true, Private: true},
		"run_once_before_install.sh":            {Script: "once"},
		"run_onchange_after_x.sh.tmpl":          {Script: "onchange", Template: true},
		".chezmoiscripts/run_setup.sh":          {Script: "always"},
		"literal_run_me":                        {},
		"executable_dot_local/bin/x":            {},
		"dot_private_x":                         {},
		"executable_literal_private_dot_x.tmpl": {Executable: true, Template: true},
	} {
		if got := ParseSourceName(name); got != want {
			t.Errorf("%s: got %+v want %+v", name, got, want)
		}
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
  "/home/a/.config": {"mode": 2147484141, "type": "dir"},
  "/home/a/.link": {"contentsSHA256": "a299c491", "type": "symlink"},
  "/home/a/.ex/new": {"type": "remove"},
  "/home/a/.chezmoiscripts/cs.sh": {"contentsSHA256": "68e9f39c", "type": "script"}
}`
	got, err := ParseEntryState([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/home/a/.bashrc": "87428fc5", "/home/a/.config": "", "/home/a/.link": "a299c491"}
	if !reflect.DeepEqual(got, want) {
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
