package nixsys

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/runner"
)

// tree lays out a fake machine: generations 1, 2 and 4 (3 was collected),
// the profile at 2, the running system generation 1's toplevel.
func tree(t *testing.T) (*System, map[int]string) {
	t.Helper()
	root := t.TempDir()
	store := filepath.Join(root, "store")
	prof := filepath.Join(root, "nix", "var", "nix", "profiles")
	for _, d := range []string{store, prof, filepath.Join(root, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tops := map[int]string{}
	for _, n := range []int{1, 2, 4} {
		top := filepath.Join(store, "sys"+string(rune('0'+n)))
		bin := filepath.Join(top, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		// exits 4 for "test" (units failed), records its action otherwise.
		script := "#!/bin/sh\necho \"$1\" >> " + filepath.Join(root, "actions") + "\n[ \"$1\" = test ] && exit 4\nexit 0\n"
		if err := os.WriteFile(filepath.Join(bin, "switch-to-configuration"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(top, filepath.Join(prof, LinkName(n))); err != nil {
			t.Fatal(err)
		}
		tops[n] = top
	}
	if err := os.Symlink("system-2-link", filepath.Join(prof, "system")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tops[1], filepath.Join(root, "run", "current-system")); err != nil {
		t.Fatal(err)
	}
	return &System{Root: root, Runner: &runner.Exec{Env: []string{"PATH=/usr/bin:/bin"}}}, tops
}

func TestGenerations(t *testing.T) {
	s, tops := tree(t)
	gens, err := s.Generations()
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, g := range gens {
		nums = append(nums, g.Number)
		if g.Toplevel != tops[g.Number] || g.Time.IsZero() || g.Current != (g.Number == 2) {
			t.Errorf("generation %+v", g)
		}
	}
	if !slices.Equal(nums, []int{1, 2, 4}) {
		t.Fatalf("numbers %v", nums)
	}
	cur, err := s.CurrentGeneration()
	if err != nil || cur.Number != 2 {
		t.Fatalf("current generation %+v %v", cur, err)
	}
	if sys, err := s.CurrentSystem(); err != nil || sys != tops[1] {
		t.Fatalf("current system %q %v", sys, err)
	}
	if g, ok := s.GenerationOf(tops[4]); !ok || g.Number != 4 {
		t.Fatalf("GenerationOf %+v", g)
	}
	if _, err := s.Generation(3); !errors.Is(err, ErrNoGeneration) || !strings.Contains(err.Error(), "garbage-collected") {
		t.Fatalf("missing generation: %v", err)
	}
	if _, err := s.BootedSystem(); err == nil {
		t.Fatal("no booted-system link exists")
	}
	empty := &System{Root: t.TempDir()}
	if g, err := empty.Generations(); err != nil || len(g) != 0 {
		t.Fatalf("empty machine: %v %v", g, err)
	}
}

func TestLinkNames(t *testing.T) {
	for name, want := range map[string]int{"system-1-link": 1, "system-42-link": 42, "system": 0, "system-x-link": 0, "system-0-link": 0, "system-3-link.tmp": 0} {
		n, ok := ParseLinkName(name)
		if n != want || ok != (want > 0) {
			t.Errorf("ParseLinkName(%q) = %d %v", name, n, ok)
		}
	}
}

func TestSwitchAndActivate(t *testing.T) {
	s, tops := tree(t)
	ctx := context.Background()
	if _, err := s.Switch(ctx, tops[4], "switch"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Switch(ctx, tops[4], "test")
	var uf *UnitsFailedError
	if !errors.As(err, &uf) || !IsUnitsFailed(err) {
		t.Fatalf("exit 4 must be UnitsFailedError, got %v", err)
	}
	if _, err := s.Switch(ctx, tops[4], "reboot"); err == nil {
		t.Fatal("unknown action accepted")
	}
	b, _ := os.ReadFile(filepath.Join(s.Root, "actions"))
	if string(b) != "switch\ntest\n" {
		t.Fatalf("actions %q", b)
	}
	// Activate through sudo under dry run: the plan is nix-env then the switch.
	rec := &runner.DryRun{Inner: s.Runner}
	s2 := &System{Root: s.Root, Runner: rec, Sudo: true}
	if _, err := s2.Activate(ctx, 4, ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if len(rec.Planned) != 2 || rec.Planned[0].Name != "sudo" ||
		!slices.Equal(rec.Planned[0].Args, []string{"nix-env", "--profile", s.ProfilePath(), "--switch-generation", "4"}) ||
		!slices.Equal(rec.Planned[1].Args, []string{filepath.Join(tops[4], "bin", "switch-to-configuration"), "switch"}) {
		t.Fatalf("planned %+v", rec.Planned)
	}
	if _, err := s2.Activate(ctx, 3, ActionSwitch); !errors.Is(err, ErrNoGeneration) {
		t.Fatalf("activating a collected generation: %v", err)
	}
	if len(rec.Planned) != 2 {
		t.Fatal("a failed Activate must change nothing")
	}
}

func TestNew(t *testing.T) {
	env := map[string]string{RootEnv: "/tmp/x", SudoEnv: "always"}
	s := New(func(k string) string { return env[k] }, nil)
	if s.Root != "/tmp/x" || !s.Sudo || s.ProfilePath() != "/tmp/x/nix/var/nix/profiles/system" {
		t.Fatalf("%+v", s)
	}
	env = map[string]string{SudoEnv: "never"}
	s = New(func(k string) string { return env[k] }, nil)
	if s.Root != "/" || s.Sudo || s.CurrentSystemPath() != "/run/current-system" {
		t.Fatalf("%+v", s)
	}
}

// DeleteGenerations asks nix-env for exactly the numbers given, sorted,
// through sudo when the system says so; and trusts only the result: a
// command that exited 0 but left a link is an error naming it.
func TestDeleteGenerationsChecksTheResult(t *testing.T) {
	s, _ := tree(t)
	// A wrapper that exits 0 and changes nothing (here: every changing
	// command is only recorded).
	noop := &runner.DryRun{Inner: s.Runner}
	s.Runner, s.Sudo = noop, true
	_, err := s.DeleteGenerations(context.Background(), []int{4, 1})
	if err == nil || !strings.Contains(err.Error(), "generation(s) 1, 4 are still there") {
		t.Fatalf("a deletion that deleted nothing: %v", err)
	}
	if len(noop.Planned) != 1 || noop.Planned[0].String() != "sudo nix-env --profile "+s.ProfilePath()+" --delete-generations 1 4" {
		t.Fatalf("commands %v", noop.Planned)
	}
	// One generation left behind is as much an error as several.
	if _, err := s.DeleteGenerations(context.Background(), []int{4}); err == nil || !strings.Contains(err.Error(), "generation(s) 4 are still there") {
		t.Fatalf("a deletion that left its one generation: %v", err)
	}
	if _, err := s.DeleteGenerations(context.Background(), nil); err != nil || len(noop.Planned) != 2 {
		t.Fatalf("nothing to delete runs nothing: %v %v", err, noop.Planned)
	}
}
