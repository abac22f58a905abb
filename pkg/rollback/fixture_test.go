package rollback_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// fixture is one NixOS machine with a flake repository (plain git or jj
// colocated) and a fake system root holding one profile generation per
// build, every build recorded in the history as rebuild-smart records it.
type fixture struct {
	t       *testing.T
	h       *testharness.Host
	kind    string // git or jj
	root    string // NIXDOTS_SYSTEM_ROOT
	repo    string
	commits []string            // commits[n-1] built generation n
	tops    []string            // tops[n-1] is generation n's toplevel
	trees   []map[string]string // trees[n-1] is the repository content of generation n
}

// newFixture builds gens generations; tools names the optional fakes (nh,
// nixos-rebuild) to put on PATH, so each test picks the switch method.
func newFixture(t *testing.T, kind string, gens int, tools ...string) *fixture {
	t.Helper()
	testharness.Require(t, "git", "nix-env")
	if kind == "jj" {
		testharness.Require(t, "jj")
	}
	h := testharness.NewHost(t, "alpha")
	f := &fixture{t: t, h: h, kind: kind, root: filepath.Join(h.Root, "sysroot"), repo: filepath.Join(h.Root, "nix-config")}

	// Only the binaries this test wants: nh or nixos-rebuild on PATH change
	// which switch method rebuild-rollback picks.
	built := testharness.Binaries(t)
	bin := filepath.Join(h.Root, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for _, b := range append([]string{"rebuild-rollback", "sudo", "fake-switch-to-configuration", "systemctl"}, tools...) {
		require.NoError(t, os.Symlink(filepath.Join(built, b), filepath.Join(bin, b)), b)
	}
	h.Setenv("PATH", bin+":"+h.Getenv("PATH"))
	h.Setenv("NIXDOTS_SYSTEM_ROOT", f.root)
	h.Setenv("NIXDOTS_SUDO", "always") // tests run as root; exercise the sudo path anyway

	h.Run("", "git", "init", "-q", "-b", "main", f.repo)
	f.write(".gitignore", "result\n")
	f.write("README.md", "my machines\n")
	profiles := filepath.Join(f.root, "nix", "var", "nix", "profiles")
	require.NoError(t, os.MkdirAll(profiles, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(f.root, "run"), 0o755))
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for n := 1; n <= gens; n++ {
		f.write("flake.nix", fmt.Sprintf("{ outputs = _: { generation = %d; }; }\n", n))
		f.write("hosts/alpha.nix", fmt.Sprintf("{ networking.hostName = \"alpha\"; build = %d; }\n", n))
		h.Run(f.repo, "git", "add", "-A")
		h.Run(f.repo, "git", "commit", "-q", "-m", fmt.Sprintf("config %d", n))
		f.commits = append(f.commits, h.Run(f.repo, "git", "rev-parse", "HEAD"))
		f.trees = append(f.trees, f.files())
		top := f.makeToplevel(n)
		require.NoError(t, os.Symlink(top, filepath.Join(profiles, fmt.Sprintf("system-%d-link", n))))
		f.appendHistory(history.Entry{
			Time: base.Add(time.Duration(n) * time.Hour), Host: "alpha", Flake: f.repo, Commit: f.commits[n-1],
			Generation: n, Toplevel: top, Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart",
		})
	}
	f.point(gens)
	if kind == "jj" {
		h.Run(f.repo, "jj", "git", "init", "--colocate")
	}
	return f
}

// makeToplevel creates a toplevel whose switch-to-configuration is the
// fake one (it moves <root>/run/current-system and records its action).
func (f *fixture) makeToplevel(n int) string {
	top := filepath.Join(f.h.Root, "store", fmt.Sprintf("%032d-nixos-system-alpha-%d", n, n))
	require.NoError(f.t, os.MkdirAll(filepath.Join(top, "bin"), 0o755))
	script := fmt.Sprintf("#!/bin/sh\nexec fake-switch-to-configuration --toplevel %s \"$@\"\n", top)
	require.NoError(f.t, os.WriteFile(filepath.Join(top, "bin", "switch-to-configuration"), []byte(script), 0o755))
	f.tops = append(f.tops, top)
	return top
}

// point makes generation n the profile's and the running one.
func (f *fixture) point(n int) {
	profile := filepath.Join(f.root, "nix", "var", "nix", "profiles", "system")
	_ = os.Remove(profile)
	require.NoError(f.t, os.Symlink(fmt.Sprintf("system-%d-link", n), profile))
	cur := filepath.Join(f.root, "run", "current-system")
	_ = os.Remove(cur)
	require.NoError(f.t, os.Symlink(f.tops[n-1], cur))
}

func (f *fixture) write(rel, content string) {
	p := filepath.Join(f.repo, rel)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, []byte(content), 0o644))
}

func (f *fixture) appendHistory(e history.Entry) {
	require.NoError(f.t, history.Append(f.h.StateDir(), e))
}

func (f *fixture) history() []history.Entry {
	es, err := history.Load(f.h.StateDir())
	require.NoError(f.t, err)
	return es
}

// run runs the built rebuild-rollback in the repository.
func (f *fixture) run(args ...string) testharness.Result {
	f.t.Helper()
	return f.h.Exec(f.repo, "rebuild-rollback", args...)
}

func (f *fixture) mustRun(args ...string) testharness.Result {
	f.t.Helper()
	r := f.run(args...)
	f.t.Logf("rebuild-rollback %s\n%s", strings.Join(args, " "), r)
	require.Equal(f.t, 0, r.Code, "rebuild-rollback %v: %s", args, r)
	return r
}

// files is the repository's content (not .git, not .jj).
func (f *fixture) files() map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(f.repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.repo, p)
		if d.IsDir() && (rel == ".git" || rel == ".jj") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(data)
		return nil
	})
	require.NoError(f.t, err)
	return out
}

// profileGen is the generation the profile points at.
func (f *fixture) profileGen() string {
	l, err := os.Readlink(filepath.Join(f.root, "nix", "var", "nix", "profiles", "system"))
	require.NoError(f.t, err)
	return l
}

func (f *fixture) running() string {
	l, err := os.Readlink(filepath.Join(f.root, "run", "current-system"))
	require.NoError(f.t, err)
	return l
}

// requireAt checks the system runs generation n.
func (f *fixture) requireAt(n int) {
	f.t.Helper()
	require.Equal(f.t, fmt.Sprintf("system-%d-link", n), f.profileGen())
	require.Equal(f.t, f.tops[n-1], f.running())
}

type call struct {
	Tool string   `json:"tool"`
	Argv []string `json:"argv"`
}

// calls reads the fakes' call log.
func (f *fixture) calls() []call {
	data, err := os.ReadFile(filepath.Join(f.root, "fake-calls.jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(f.t, err)
	var out []call
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c call
		require.NoError(f.t, json.Unmarshal([]byte(l), &c))
		out = append(out, c)
	}
	return out
}

func (f *fixture) callLines() []string {
	var out []string
	for _, c := range f.calls() {
		out = append(out, c.Tool+" "+strings.Join(c.Argv, " "))
	}
	return out
}

// headCommit is the commit the repository's working copy stands on.
func (f *fixture) headCommit() string {
	if f.kind == "jj" {
		return f.h.Run(f.repo, "jj", "log", "--ignore-working-copy", "--no-graph", "-r", "@-", "-T", "commit_id")
	}
	return f.h.Run(f.repo, "git", "rev-parse", "HEAD")
}

// snapshot dumps everything a rollback could change: the repository (files,
// refs, HEAD, index, jj operations), the fake system (every link and file)
// and the history. "Nothing changed" is snapshot equality.
func (f *fixture) snapshot() string {
	f.t.Helper()
	var b strings.Builder
	files := f.files()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "file %s %q\n", k, files[k])
	}
	b.WriteString(f.h.Run(f.repo, "git", "--no-optional-locks", "for-each-ref", "--format=%(refname) %(objectname)") + "\n")
	b.WriteString("HEAD " + f.h.Run(f.repo, "git", "--no-optional-locks", "rev-parse", "HEAD") + "\n")
	b.WriteString(f.h.Run(f.repo, "git", "--no-optional-locks", "ls-files", "-s") + "\n")
	if f.kind == "jj" {
		b.WriteString(f.h.Run(f.repo, "jj", "op", "log", "--ignore-working-copy", "--no-graph", "-T", `id ++ "\n"`) + "\n")
	}
	_ = filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if l, err := os.Readlink(p); err == nil {
			fmt.Fprintf(&b, "link %s -> %s\n", p, l)
		} else if !d.IsDir() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "sys %s %q\n", p, data)
		}
		return nil
	})
	hist, _ := os.ReadFile(filepath.Join(f.h.StateDir(), history.FileName))
	fmt.Fprintf(&b, "history %q\n", hist)
	return b.String()
}

var restoreRe = regexp.MustCompile(`to get it back: (.+)`)

// restoreCmd is the command rebuild-rollback printed for getting the saved
// work back.
func restoreCmd(t *testing.T, out string) string {
	m := restoreRe.FindStringSubmatch(out)
	require.NotNil(t, m, "no restore command in output:\n%s", out)
	return strings.TrimSpace(m[1])
}
