package testharness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Host is one simulated machine: its own HOME, XDG directories, git and jj
// identity and host name, sharing nothing with other hosts but the remote.
type Host struct {
	Name string
	Root string // everything of this host lives under here
	Home string
	Env  []string
	t    testing.TB
}

// NewHost creates a host under t.TempDir(). The suite's binaries (built on
// demand) are first on its PATH, then the cached real tools.
func NewHost(t testing.TB, name string) *Host {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	h := &Host{Name: name, Root: root, Home: filepath.Join(root, "home"), t: t}
	dirs := map[string]string{
		"XDG_CONFIG_HOME": filepath.Join(h.Home, ".config"),
		"XDG_DATA_HOME":   filepath.Join(h.Home, ".local", "share"),
		"XDG_STATE_HOME":  filepath.Join(h.Home, ".local", "state"),
		"XDG_CACHE_HOME":  filepath.Join(h.Home, ".cache"),
	}
	for _, d := range dirs {
		must(t, os.MkdirAll(d, 0o700))
	}
	gitconfig := filepath.Join(root, "gitconfig")
	must(t, os.WriteFile(gitconfig, []byte(fmt.Sprintf(`[user]
	name = %s
	email = %s@example.test
[init]
	defaultBranch = main
[protocol "file"]
	allow = always
[advice]
	detachedHead = false
`, name, name)), 0o600))
	jjconfig := filepath.Join(root, "jjconfig.toml")
	must(t, os.WriteFile(jjconfig, []byte(fmt.Sprintf(`[user]
name = %q
email = "%s@example.test"
[ui]
paginate = "never"
color = "never"
`, name, name)), 0o600))

	env := BaseEnv()
	keep := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "GIT_") && k != "GIT_EXEC_PATH",
			strings.HasPrefix(k, "JJ_"), strings.HasPrefix(k, "CHEZMOI"), strings.HasPrefix(k, "REBUILD_SMART"),
			strings.HasPrefix(k, "NIXDOTS_"), k == "HOME", k == "STATE_DIRECTORY", k == "NH_FLAKE", k == "NH_OS_FLAKE",
			k == "JOURNAL_STREAM", k == "INVOCATION_ID", k == "NO_COLOR":
			continue
		}
		keep = append(keep, kv)
	}
	keep = append(keep,
		"HOME="+h.Home,
		"GIT_CONFIG_GLOBAL="+gitconfig,
		"GIT_CONFIG_NOSYSTEM=1",
		"JJ_CONFIG="+jjconfig,
		"CHEZMOI_SYNC_HOSTNAME="+name,
		"REBUILD_SMART_HOST="+name,
		"NIXDOTS_HOSTNAME="+name,
		"EDITOR=true",
	)
	for k, v := range dirs {
		keep = append(keep, k+"="+v)
	}
	h.Env = keep
	return h
}

// WithBinaries puts the suite's built binaries first on the host's PATH.
func (h *Host) WithBinaries() *Host {
	h.t.Helper()
	h.Setenv("PATH", Binaries(h.t)+":"+lookEnv(h.Env, "PATH"))
	return h
}

// Setenv sets (or replaces) one variable of the host's environment.
func (h *Host) Setenv(k, v string) {
	out := h.Env[:0:0]
	for _, kv := range h.Env {
		if key, _, _ := strings.Cut(kv, "="); key != k {
			out = append(out, kv)
		}
	}
	h.Env = append(out, k+"="+v)
}

// Getenv reads one variable of the host's environment.
func (h *Host) Getenv(k string) string { return lookEnv(h.Env, k) }

// SourceDir is the chezmoi source directory of this host.
func (h *Host) SourceDir() string { return filepath.Join(h.Home, ".local", "share", "chezmoi") }

// StateDir is the suite's default state directory of this host.
func (h *Host) StateDir() string { return filepath.Join(h.Home, ".local", "state", "nixdots") }

// Result of a command run on a host.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Exec runs name with args in dir and returns its output and exit code; it
// fails the test only when the program cannot be started at all.
func (h *Host) Exec(dir, name string, args ...string) Result {
	h.t.Helper()
	return h.ExecInput(dir, nil, name, args...)
}

// ExecInput is Exec with stdin.
func (h *Host) ExecInput(dir string, stdin []byte, name string, args ...string) Result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, dir, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		h.t.Fatalf("%s %v: %v", name, args, err)
	}
	checkContract(h.t, cmd.Path, h.Env, args, res)
	return res
}

// Command prepares name to run on this host (for tests that need to start
// it in the background and signal it).
func (h *Host) Command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	path := name
	if !strings.Contains(name, "/") {
		for _, d := range strings.Split(lookEnv(h.Env, "PATH"), ":") {
			if p, err := exec.LookPath(filepath.Join(d, name)); err == nil && d != "" {
				path = p
				break
			}
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = h.Home
	}
	cmd.Env = h.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// Run runs a command that must succeed and returns its trimmed stdout.
func (h *Host) Run(dir, name string, args ...string) string {
	h.t.Helper()
	r := h.Exec(dir, name, args...)
	if r.Code != 0 {
		h.t.Fatalf("[%s] %s %s: %s", h.Name, name, strings.Join(args, " "), r)
	}
	return strings.TrimSpace(r.Stdout)
}

// WriteHome writes a file relative to HOME.
func (h *Host) WriteHome(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.Home, rel)
	must(h.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(h.t, os.WriteFile(p, []byte(content), 0o644))
}

// ReadHome reads a file relative to HOME ("" when missing).
func (h *Host) ReadHome(rel string) string {
	data, _ := os.ReadFile(filepath.Join(h.Home, rel))
	return string(data)
}

// ReadSource reads a file relative to the chezmoi source directory.
func (h *Host) ReadSource(rel string) string {
	data, _ := os.ReadFile(filepath.Join(h.SourceDir(), rel))
	return string(data)
}

// CloneDotfiles clones remote into the chezmoi source directory with plain
// git and applies it, as a user does with `chezmoi init --apply URL`.
func (h *Host) CloneDotfiles(remote string) {
	h.t.Helper()
	must(h.t, os.MkdirAll(filepath.Dir(h.SourceDir()), 0o755))
	h.Run("", "git", "clone", "-q", remote, h.SourceDir())
	h.Run("", "chezmoi", "apply", "--force")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
