package rebuildsmart_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nixdots/nixdots/internal/fakes/testflake"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// env is one simulated machine with a nix-config repository, its remote and
// a fake system root.
type env struct {
	t      testing.TB
	h      *testharness.Host
	root   string // NIXDOTS_SYSTEM_ROOT
	remote string // bare git repository
	repo   string // the flake checkout
	bin    string
	// received is the last body the env's webhook receiver got (webhook()).
	received *atomic.Value
}

type opts struct {
	jj bool
	// inputs: name -> commit date (RFC 3339) of a local git repository
	// used as a flake input; the system depends on the inputs' revisions.
	inputs map[string]string
	// slow is the test flake's evaluation work (testflake.Options.Slow).
	slow int
}

func newEnv(t testing.TB, o opts) *env {
	t.Helper()
	testharness.Require(t, "git", "nix")
	if o.jj {
		testharness.Require(t, "jj")
	}
	h := testharness.NewHost(t, "alpha").WithBinaries()
	e := &env{t: t, h: h, root: filepath.Join(h.Root, "sysroot"), bin: testharness.Binaries(t)}
	must(t, os.MkdirAll(e.root, 0o755))
	h.Setenv(nixsys.RootEnv, e.root)
	h.Setenv("NIX_CONFIG", testflake.NixConfig)
	e.remote = filepath.Join(h.Root, "remote", "nix-config.git")
	h.Run("", "git", "init", "--quiet", "--bare", "--initial-branch=main", e.remote)
	seed := filepath.Join(h.Root, "seed")
	h.Run("", "git", "clone", "--quiet", e.remote, seed)
	inputs := map[string]string{}
	for n, date := range o.inputs {
		inputs[n] = "git+file://" + e.input(n, date)
	}
	must(t, testflake.WriteWith(seed, inputs, testflake.Options{Slow: o.slow}))
	h.Run(seed, "git", "add", ".")
	if len(o.inputs) > 0 {
		h.Run(seed, "nix", "flake", "lock")
		h.Run(seed, "git", "add", "flake.lock")
	}
	h.Run(seed, "git", "commit", "--quiet", "-m", "init")
	h.Run(seed, "git", "push", "--quiet", "origin", "HEAD:main")
	e.repo = filepath.Join(h.Root, "nix-config")
	if o.jj {
		h.Run("", "jj", "git", "clone", "--colocate", e.remote, e.repo)
	} else {
		h.Run("", "git", "clone", "--quiet", e.remote, e.repo)
	}
	return e
}

// input creates (or advances, with a new commit dated date) the local git
// repository of flake input name and returns its path.
func (e *env) input(name, date string) string {
	e.t.Helper()
	dir := filepath.Join(e.h.Root, "inputs", name)
	if _, err := os.Stat(dir); err != nil {
		e.h.Run("", "git", "init", "--quiet", "--initial-branch=main", dir)
		write(e.t, filepath.Join(dir, "flake.nix"), "{ outputs = _: { }; }\n")
	}
	write(e.t, filepath.Join(dir, "version"), date+"\n")
	e.h.Run(dir, "git", "add", ".")
	// nix's lastModified is the committer date.
	cmd := e.h.Command(context.Background(), dir, "git", "commit", "--quiet", "--allow-empty", "-m", "at "+date)
	cmd.Env = append(slices.Clone(cmd.Env), "GIT_COMMITTER_DATE="+date, "GIT_AUTHOR_DATE="+date)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("commit input %s: %v\n%s", name, err, out)
	}
	return dir
}

// inputRev is the commit of input name's repository.
func (e *env) inputRev(name string) string {
	return e.h.Run(filepath.Join(e.h.Root, "inputs", name), "git", "rev-parse", "HEAD")
}

// lockedRev is the revision flake.lock pins for input name.
func (e *env) lockedRev(name string) string {
	e.t.Helper()
	var lock struct {
		Nodes map[string]struct {
			Locked map[string]any `json:"locked"`
		} `json:"nodes"`
	}
	must(e.t, json.Unmarshal([]byte(read(e.t, filepath.Join(e.repo, "flake.lock"))), &lock))
	rev, _ := lock.Nodes[name].Locked["rev"].(string)
	return rev
}

// upstreamCommit pushes a commit changing path to the remote from another
// clone, as another machine would.
func (e *env) upstreamCommit(path, content string) {
	e.t.Helper()
	other := filepath.Join(e.h.Root, "other")
	if _, err := os.Stat(other); err != nil {
		e.h.Run("", "git", "clone", "--quiet", e.remote, other)
	} else {
		e.h.Run(other, "git", "pull", "--quiet", "--rebase")
	}
	write(e.t, filepath.Join(other, path), content)
	e.h.Run(other, "git", "add", ".")
	e.h.Run(other, "git", "commit", "--quiet", "-m", "upstream: "+path)
	e.h.Run(other, "git", "push", "--quiet", "origin", "HEAD:main")
}

func (e *env) rs(args ...string) testharness.Result {
	e.t.Helper()
	return e.h.Exec(e.repo, "rebuild-smart", args...)
}

// rsJSON runs rebuild-smart --json and decodes its record.
func (e *env) rsJSON(args ...string) (testharness.Result, map[string]any) {
	e.t.Helper()
	res := e.rs(append([]string{"--json"}, args...)...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		e.t.Fatalf("--json output is not one JSON document: %v\n%s", err, res)
	}
	return res, rep
}

func (e *env) sys() *nixsys.System { return &nixsys.System{Root: e.root} }

func (e *env) current() string {
	e.t.Helper()
	cur, err := e.sys().CurrentSystem()
	if err != nil {
		return ""
	}
	return cur
}

func (e *env) generations() []nixsys.Generation {
	e.t.Helper()
	g, err := e.sys().Generations()
	must(e.t, err)
	return g
}

func (e *env) history() []history.Entry {
	e.t.Helper()
	h, err := history.Load(e.h.StateDir())
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	return h
}

type call struct {
	Tool string   `json:"tool"`
	Argv []string `json:"argv"`
}

// calls reads the fakes' call log.
func (e *env) calls() []call {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.root, "fake-calls.jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	must(e.t, err)
	defer f.Close()
	var out []call
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c call
		must(e.t, json.Unmarshal(sc.Bytes(), &c))
		out = append(out, c)
	}
	return out
}

func (e *env) called(tool string) []call {
	var out []call
	for _, c := range e.calls() {
		if c.Tool == tool {
			out = append(out, c)
		}
	}
	return out
}

func (e *env) git(args ...string) string {
	e.t.Helper()
	return e.h.Run(e.repo, "git", args...)
}

// pathWithout returns a PATH where the suite's bin dir is replaced by a copy
// (symlinks) lacking the named programs, and dirs holding `drop` tools are
// left out entirely when dropDirs is set.
func (e *env) hideTools(names ...string) {
	e.t.Helper()
	dir := filepath.Join(e.h.Root, "bin-subset")
	must(e.t, os.MkdirAll(dir, 0o755))
	entries, err := os.ReadDir(e.bin)
	must(e.t, err)
	for _, en := range entries {
		skip := false
		for _, n := range names {
			skip = skip || en.Name() == n
		}
		if !skip {
			must(e.t, os.Symlink(filepath.Join(e.bin, en.Name()), filepath.Join(dir, en.Name())))
		}
	}
	e.h.Setenv("PATH", strings.Replace(e.h.Getenv("PATH"), e.bin, dir, 1))
}

// fakeChezmoiSync puts a chezmoi-sync first on PATH that prints a record
// with status word and exits with code (the real one lands later).
func (e *env) fakeChezmoiSync(status string, code int) {
	e.t.Helper()
	dir := filepath.Join(e.h.Root, "fake-chezmoi-sync")
	must(e.t, os.MkdirAll(dir, 0o755))
	script := fmt.Sprintf(`#!/bin/sh
echo "$@" >> %q
printf '{"version":1,"status":"%s","host":"alpha","pushed":false,"pending_push":0,"incoming":0,"conflicts":[],"skipped_files":[],"uncaptured_templates":[],"error":"%s","next_step":"check the network"}\n'
exit %d
`, filepath.Join(e.h.Root, "chezmoi-sync.calls"), status, map[bool]string{true: "", false: "fetch failed"}[code == 0], code)
	write(e.t, filepath.Join(dir, "chezmoi-sync"), script)
	must(e.t, os.Chmod(filepath.Join(dir, "chezmoi-sync"), 0o755))
	e.h.Setenv("PATH", dir+":"+e.h.Getenv("PATH"))
}

func (e *env) chezmoiSyncCalls() string {
	b, _ := os.ReadFile(filepath.Join(e.h.Root, "chezmoi-sync.calls"))
	return string(b)
}

// repoState is the repository as a person sees it: the work tree (files
// and content), the index entries, HEAD and refs. (The index file's bytes
// change when git merely refreshes its stat cache.)
func repoState(t *testing.T, e *env) string {
	t.Helper()
	return treeHash(t, e.repo, ".git") + e.git("ls-files", "--stage") + "|" + e.git("status", "--porcelain") + "|" + e.git("show-ref", "--head")
}

// treeHash hashes every path, mode, symlink target and file content under
// dir (not times): equal hashes mean nothing was changed.
func treeHash(t testing.TB, dir string, skip ...string) string {
	t.Helper()
	hsh := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(hsh, "%s %v\n", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(hsh, "-> %s\n", target)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			hsh.Write(b)
		}
		return nil
	})
	must(t, err)
	return hex.EncodeToString(hsh.Sum(nil))
}

func write(t testing.TB, path, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func phase(rep map[string]any, name string) map[string]any {
	for _, p := range rep["phases"].([]any) {
		m := p.(map[string]any)
		if m["name"] == name {
			return m
		}
	}
	return nil
}

// built writes conf as hosts/alpha.conf (unless "") and builds it: a
// machine with generation 1 running.
func (e *env) built(conf string) {
	e.t.Helper()
	if conf != "" {
		write(e.t, filepath.Join(e.repo, "hosts", "alpha.conf"), conf)
	}
	if res := e.rs("--skip-dotfiles"); res.Code != 0 {
		e.t.Fatal(res)
	}
}

// unreachableSSH puts an ssh first on PATH that cannot reach anything (no
// network in tests): a remote target's system is never read.
func (e *env) unreachableSSH() {
	e.t.Helper()
	dir := filepath.Join(e.h.Root, "fake-ssh")
	write(e.t, filepath.Join(dir, "ssh"), "#!/bin/sh\necho 'ssh: connect to host: Network is unreachable' >&2\nexit 255\n")
	must(e.t, os.Chmod(filepath.Join(dir, "ssh"), 0o755))
	e.h.Setenv("PATH", dir+":"+e.h.Getenv("PATH"))
}
