package corpus

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nixdots/nixdots/internal/soak"
	"github.com/nixdots/nixdots/internal/testharness"
)

// Fleet is one snapshot shared by several hosts through a bare remote.
type Fleet struct {
	t      testing.TB
	Snap   Snapshot
	Remote string
	Hosts  []*Host
	ledger []*Edit
	ext    *httptest.Server
	extOff atomic.Bool
}

// Host is one machine of the fleet.
type Host struct {
	*testharness.Host
	t     testing.TB
	f     *Fleet
	Stubs string // stub commands, first on PATH
	runs  []*Run
	seq   int // edits made, for unique markers
}

// stubNames are the commands the snapshots' run_ scripts and templates call
// that would install packages, change the system, prompt for a password or
// need the network. Each stub records its arguments in $CORPUS_STUB_LOG and
// succeeds; a few print what the caller parses (see stubScript).
var stubNames = []string{
	// liblaf
	"sudo", "systemctl", "fc-cache", "chsh", "rbw", "yq", "lspci", "pacman", "paru", "pacman-key",
	"arch-rate-mirrors.sh", "newgrp", "docker",
	// allaman
	"atuin", "gopass",
	// leomeinel
	"go", "cargo", "pipx", "rustup", "gup", "flatpak", "gsettings",
	// helderberto
	"brew",
}

const stubScript = `#!/bin/sh
n=$(basename "$0")
printf '%s %s\n' "$n" "$*" >> "${CORPUS_STUB_LOG:-/dev/null}"
d=$(dirname "$0")
if [ -f "$d/fail/$n" ]; then
	cat "$d/fail/$n" >&2
	exit 1
fi
case "$n" in
rbw)
	case "$1" in
	get) printf '{"id":"0","folder":null,"name":"%s","data":{"username":"corpus","password":"corpus-password","totp":null,"uris":[]},"fields":[],"notes":"Host corpus.example\\n  User corpus\\n","history":[]}\n' "$3" ;;
	--version) echo "rbw 1.13.2" ;;
	esac ;;
gopass)
	case "$1" in
	--version) echo "gopass 1.15.16" ;;
	*) echo "corpus-gopass-value" ;;
	esac ;;
lspci) echo "01:00.0 0300: 10de:2684 (rev a1)" ;;
brew) [ "$1" = --prefix ] && echo "$HOME/.homebrew" ;;
esac
exit 0
`

// NewFleet materialises snap as a bare remote and sets up one host per name:
// `chezmoi init` from the remote (as the snapshot's README does), then apply.
func NewFleet(t testing.TB, snap Snapshot, names ...string) *Fleet {
	t.Helper()
	testharness.RequireSync(t)
	f := &Fleet{t: t, Snap: snap}
	f.Remote = testharness.NewRemote(t, snap.Files(t))
	f.ext = httptest.NewServer(http.HandlerFunc(f.serveExternal))
	t.Cleanup(f.ext.Close)
	for _, name := range names {
		f.Hosts = append(f.Hosts, f.newHost(name))
	}
	return f
}

func (f *Fleet) newHost(name string) *Host {
	t := f.t
	t.Helper()
	h := &Host{Host: testharness.NewHost(t, name), t: t, f: f}
	h.Stubs = filepath.Join(h.Root, "stubs")
	must(t, os.MkdirAll(h.Stubs, 0o755))
	must(t, os.WriteFile(filepath.Join(h.Stubs, "stub"), []byte(stubScript), 0o755))
	for _, n := range stubNames {
		must(t, os.Symlink("stub", filepath.Join(h.Stubs, n)))
	}
	h.Setenv("PATH", h.Stubs+":"+suiteBin(t, h.Root)+":"+h.Getenv("PATH"))
	h.Setenv("CORPUS_STUB_LOG", filepath.Join(h.Root, "stub.log"))
	h.Setenv("CORPUS_EXTERNAL_URL", f.ext.URL)
	h.Setenv("XDG_RUNTIME_DIR", filepath.Join(h.Root, "run"))
	must(t, os.MkdirAll(filepath.Join(h.Root, "run"), 0o700))
	if u, err := user.Current(); err == nil {
		h.Setenv("USER", u.Username) // a login shell has it; scripts use it under `set -u`
	}
	if f.Snap.prepare != nil {
		f.Snap.prepare(h)
	}
	var args []string
	if f.Snap.initArgs != nil {
		args = f.Snap.initArgs(h)
	}
	if f.Snap.cloneFirst {
		h.Run("", "git", "clone", "-q", f.Remote, h.Tree())
		h.Run("", "chezmoi", append([]string{"init", "--no-tty"}, args...)...)
	} else {
		h.Run("", "chezmoi", append([]string{"init", "--no-tty"}, append(args, f.Remote)...)...)
	}
	if f.Snap.seed != nil {
		f.Snap.seed(h)
	}
	h.Run("", "chezmoi", "apply", "--no-tty")
	return h
}

// suiteBin is a directory holding only the suite's commands (cmd/*): the
// build directory also holds rebuild-smart's fakes (sudo, systemctl, ...),
// which must not stand in for the tools the dotfiles' scripts call.
func suiteBin(t testing.TB, root string) string {
	t.Helper()
	built := testharness.Binaries(t)
	cmds, err := os.ReadDir(filepath.Join(testharness.ModuleRoot(), "cmd"))
	must(t, err)
	dir := filepath.Join(root, "bin")
	must(t, os.MkdirAll(dir, 0o755))
	for _, c := range cmds {
		if _, err := os.Stat(filepath.Join(built, c.Name())); err == nil {
			must(t, os.Symlink(filepath.Join(built, c.Name()), filepath.Join(dir, c.Name())))
		}
	}
	return dir
}

// serveExternal serves the snapshot's externals (testdata/<name>/externals,
// tar.gz archives built on demand from a directory of the same name). While
// the fleet is offline it drops the connection, as an unreachable host does.
func (f *Fleet) serveExternal(w http.ResponseWriter, r *http.Request) {
	if f.extOff.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "offline", http.StatusServiceUnavailable)
		return
	}
	base := filepath.Join(testdata(), f.Snap.Name, "externals")
	p := filepath.Join(base, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/")))
	if !strings.HasPrefix(p, base+string(os.PathSeparator)) {
		http.NotFound(w, r)
		return
	}
	if dir, ok := strings.CutSuffix(p, ".tar.gz"); ok {
		if err := writeTarGz(w, dir); err != nil {
			http.NotFound(w, r)
		}
		return
	}
	http.ServeFile(w, r, p)
}

// ExternalsOffline makes every external URL unreachable (or reachable
// again).
func (f *Fleet) ExternalsOffline(off bool) { f.extOff.Store(off) }

// RemoteOffline moves the bare remote away (the network is down for git)
// and returns the function that brings it back.
func (f *Fleet) RemoteOffline() (restore func()) {
	f.t.Helper()
	away := f.Remote + ".offline"
	must(f.t, os.Rename(f.Remote, away))
	return func() { must(f.t, os.Rename(away, f.Remote)) }
}

// Host returns the host called name.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	f.t.Fatalf("no host %q", name)
	return nil
}

// Tree is the host's git work tree (the jj repository).
func (h *Host) Tree() string { return filepath.Join(h.Home, filepath.FromSlash(h.f.Snap.WorkTree)) }

// Source is the chezmoi source directory (inside the work tree when the
// repository has a .chezmoiroot).
func (h *Host) Source() string {
	if h.f.Snap.Root == "" {
		return h.Tree()
	}
	return filepath.Join(h.Tree(), h.f.Snap.Root)
}

// WriteTree writes a file relative to the work tree.
func (h *Host) WriteTree(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.Tree(), filepath.FromSlash(rel))
	must(h.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(h.t, os.WriteFile(p, []byte(content), 0o644))
}

// ReadTree reads a file relative to the work tree ("" when missing).
func (h *Host) ReadTree(rel string) string {
	data, _ := os.ReadFile(filepath.Join(h.Tree(), filepath.FromSlash(rel)))
	return string(data)
}

// WriteHomeMode writes a home file with a mode.
func (h *Host) WriteHomeMode(rel, content string, mode os.FileMode) {
	h.t.Helper()
	p := filepath.Join(h.Home, filepath.FromSlash(rel))
	must(h.t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(h.t, os.WriteFile(p, []byte(content), mode))
	must(h.t, os.Chmod(p, mode))
}

// StubCalls is what the stub commands were asked on this host, one call a line.
func (h *Host) StubCalls() string {
	data, _ := os.ReadFile(h.Getenv("CORPUS_STUB_LOG"))
	return string(data)
}

// FailStub makes a stub command print message on stderr and exit 1, the
// way the real tool fails on this machine (no stub is ever removed: the real
// command may exist here, and it must not run).
func (h *Host) FailStub(cmd, message string) {
	h.t.Helper()
	must(h.t, os.MkdirAll(filepath.Join(h.Stubs, "fail"), 0o755))
	must(h.t, os.WriteFile(filepath.Join(h.Stubs, "fail", cmd), []byte(message+"\n"), 0o644))
}

// Run is one chezmoi-sync run.
type Run struct {
	Host   string
	Args   []string
	Code   int
	Output string         // the human lines (stderr)
	JSON   string         // the record printed by --json (stdout)
	Record map[string]any // JSON parsed; nil when none was printed
	// Removed lists the home files (HOME-relative) that existed before the
	// run and not after it.
	Removed []string
}

// Sync runs the built chezmoi-sync with --json the way a user would and
// remembers the run for Check.
func (h *Host) Sync(args ...string) *Run {
	h.t.Helper()
	before := h.homeTree()
	r := h.Exec("", "chezmoi-sync", append([]string{"--json"}, args...)...)
	run := &Run{Host: h.Name, Args: args, Code: r.Code, Output: r.Stderr, JSON: r.Stdout}
	if strings.TrimSpace(r.Stdout) != "" {
		if err := json.Unmarshal([]byte(r.Stdout), &run.Record); err != nil {
			h.t.Errorf("[%s] chezmoi-sync --json printed something that is not JSON (%v):\n%s", h.Name, err, r.Stdout)
		}
	}
	for _, d := range soak.Diff(before, h.homeTree()) {
		if p, ok := strings.CutPrefix(d, "-"); ok && !strings.HasPrefix(before[p], "dir ") {
			run.Removed = append(run.Removed, p)
		}
	}
	h.runs = append(h.runs, run)
	h.t.Logf("[%s] chezmoi-sync %s: exit %d\n%s", h.Name, strings.Join(args, " "), r.Code, indent(r.Stderr))
	return run
}

// LastRun is the host's last chezmoi-sync run (nil before the first).
func (h *Host) LastRun() *Run {
	if len(h.runs) == 0 {
		return nil
	}
	return h.runs[len(h.runs)-1]
}

// homeTree hashes the home directory without what belongs to the tools:
// the source work tree, chezmoi's and the suite's state and caches.
func (h *Host) homeTree() soak.Tree {
	h.t.Helper()
	skip := soak.SkipUnder(h.f.Snap.WorkTree, ".local/state", ".cache/chezmoi", ".config/chezmoi")
	tree, err := soak.HashTree(h.Home, skip)
	must(h.t, err)
	return tree
}

// Status word of the run ("" when no record was printed).
func (r *Run) Status() string {
	s, _ := r.Record["status"].(string)
	return s
}

// Names reports whether the run names path (HOME-relative) both in its
// human output and in its record.
func (r *Run) Names(path string) bool {
	return strings.Contains(r.Output, path) && strings.Contains(r.JSON, path)
}

func (r *Run) String() string {
	return fmt.Sprintf("[%s] chezmoi-sync %s: exit %d, status %q\n%s", r.Host, strings.Join(r.Args, " "), r.Code, r.Status(), indent(r.Output))
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
