package chezmoi

import (
	"io/fs"
	"os"
	"reflect"
	"testing"
	"time"
)

type fakeInfo struct {
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return "x" }
func (f fakeInfo) Size() int64        { return 1 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

// Every source attribute the sync treats on purpose, one status line each.
func TestClassify(t *testing.T) {
	changes, err := ParseChanges(`MM /h/.bashrc
MM /h/.tpl
MM /h/.secret
MM /h/.mod
M  /h/.mod-same
MM /h/.priv
MM /h/.priv-tight
MM /h/.link
MM /h/.ssh
DA /h/.deleted
 M /h/.plain
 M /h/.firstrun
 D /h/.ex/new
 D /h/.ex/dropped
 D /h/.ex/edited
 D /h/.gone
 D /h/.removeme
 R /h/once.sh
 R /h/always.sh
MM /h/.unknown
`)
	if err != nil {
		t.Fatal(err)
	}
	src := func(rel string) Managed { return Managed{Source: "/s/" + rel, Relative: rel} }
	in := Input{
		Changes: changes,
		Managed: map[string]Managed{
			"/h/.bashrc": src("dot_bashrc"), "/h/.tpl": src("dot_tpl.tmpl"), "/h/.secret": src("encrypted_dot_secret.age"),
			"/h/.mod": src("modify_dot_mod"), "/h/.mod-same": src("modify_dot_mod-same"),
			"/h/.priv": src("private_dot_priv"), "/h/.priv-tight": src("private_dot_priv-tight"),
			"/h/.link": src("symlink_dot_link"), "/h/.ssh": src("private_dot_ssh"), "/h/.deleted": src("dot_deleted"),
			"/h/.plain": src("dot_plain"), "/h/.firstrun": src("dot_firstrun"),
			"/h/.ex": src("exact_dot_ex"), "/h/.ex/new": {Source: "/s"}, "/h/.ex/dropped": {Source: "/s"}, "/h/.ex/edited": {Source: "/s"},
			"/h/.gone": src("remove_dot_gone"), "/h/.removeme": {Source: "/s"},
			"/h/once.sh": src("run_onchange_once.sh"), "/h/always.sh": src("run_always.sh"),
		},
		Written: map[string]string{"/h/.plain": "p", "/h/.ex/dropped": "d", "/h/.ex/edited": "e", "/h/.ex": ""},
		Lstat: func(p string) (fs.FileInfo, error) {
			switch p {
			case "/h/.priv", "/h/.plain", "/h/.firstrun", "/h/.gone", "/h/.removeme", "/h/.ex/new", "/h/.ex/dropped":
				return fakeInfo{0o644}, nil
			case "/h/.priv-tight":
				return fakeInfo{0o600}, nil
			case "/h/.ssh":
				return fakeInfo{fs.ModeDir | 0o700}, nil
			}
			return nil, os.ErrNotExist
		},
		Hash: func(p string) (string, error) {
			return map[string]string{"/h/.ex/dropped": "d", "/h/.ex/edited": "changed"}[p], nil
		},
	}
	got := Classify(in)
	kinds := map[string]string{}
	for _, w := range got.Waiting {
		kinds[w.Path] = w.Kind
		if w.Next == "" {
			t.Errorf("%s: no next step", w.Path)
		}
	}
	wantKinds := map[string]string{
		"/h/.tpl": WaitTemplate, "/h/.secret": WaitEncrypted, "/h/.mod": WaitModify, "/h/.priv": WaitLoosened,
		"/h/.ssh": WaitDirMode, "/h/.deleted": WaitDeleted, "/h/.ex/new": WaitExtra, "/h/.ex/edited": WaitExtra,
		"/h/.unknown": WaitUnknown,
	}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("waiting: got %v\nwant %v", kinds, wantKinds)
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q want %q", name, got, want)
		}
	}
	check("capture", got.Capture, []string{"/h/.bashrc", "/h/.priv-tight"})
	check("links", got.Links, []string{"/h/.link"})
	check("pending", got.Pending, []string{"/h/.plain", "/h/.firstrun", "/h/.ex/dropped", "/h/.gone", "/h/.removeme"})
	check("scripts", got.Scripts, []string{"/h/once.sh"})
	check("removals", got.Removals, []string{"/h/.ex/dropped", "/h/.gone", "/h/.removeme"})
	check("backup", got.Backup, []string{"/h/.firstrun", "/h/.gone", "/h/.removeme"})
	if len(got.Protected) != len(got.Waiting) {
		t.Errorf("protected %q", got.Protected)
	}
}
