// Package testharness is what every test of the suite stands on: the real
// tools (git >= 2.42, jj, chezmoi, nix, just) found or failed loudly under
// CI, simulated hosts with their own HOME, XDG directories, identities and
// host names, a bare repository as the shared remote, and the suite's
// binaries built once per test process.
package testharness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ToolsPrefix is where scripts/install-tools.sh caches the tools.
func ToolsPrefix() string {
	if p := os.Getenv("NIXDOTS_TOOLS_PREFIX"); p != "" {
		return p
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		base = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	return filepath.Join(base, "nixdots", "tools")
}

// BaseEnv is the environment tests give children: this process's, with the
// cached tools first on PATH and nix set up for flakes without a daemon.
func BaseEnv() []string {
	env := os.Environ()
	prefix := ToolsPrefix()
	set := map[string]string{
		"NIX_CONFIG": "experimental-features = nix-command flakes",
		"NIX_REMOTE": "local",
		"LANG":       "C.UTF-8",
		"TZ":         "UTC",
	}
	path := os.Getenv("PATH")
	if st, err := os.Stat(filepath.Join(prefix, "usr", "bin")); err == nil && st.IsDir() {
		path = filepath.Join(prefix, "usr", "bin") + ":" + path
		set["GIT_EXEC_PATH"] = filepath.Join(prefix, "usr", "lib", "git-core")
	}
	set["PATH"] = path
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

func lookEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Look finds a tool on the PATH of BaseEnv.
func Look(tool string) (string, error) {
	for _, dir := range strings.Split(lookEnv(BaseEnv(), "PATH"), ":") {
		if dir == "" {
			continue
		}
		if p, err := exec.LookPath(filepath.Join(dir, tool)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH (run scripts/install-tools.sh)", tool)
}

var (
	checkMu    sync.Mutex
	checkCache = map[string]error{}
)

// check verifies one tool once per process.
func check(tool string) error {
	checkMu.Lock()
	defer checkMu.Unlock()
	if err, ok := checkCache[tool]; ok {
		return err
	}
	p, err := Look(tool)
	if err == nil && tool == "git" {
		err = checkGitVersion(p)
	}
	checkCache[tool] = err
	return err
}

var gitVersionRe = regexp.MustCompile(`git version (\d+)\.(\d+)`)

// jj needs git >= 2.42 for `git fetch --porcelain`; bookworm has 2.39.
func checkGitVersion(path string) error {
	cmd := exec.Command(path, "--version")
	cmd.Env = BaseEnv()
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git --version: %w", err)
	}
	m := gitVersionRe.FindStringSubmatch(string(out))
	if m == nil {
		return fmt.Errorf("cannot read git version from %q", out)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 2 || major == 2 && minor < 42 {
		return fmt.Errorf("git %s.%s at %s is older than 2.42, which jj needs (run scripts/install-tools.sh)", m[1], m[2], path)
	}
	return nil
}

// InCI reports whether missing tools must fail tests instead of skipping.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips the test (locally) or fails it (CI=true) unless every tool
// is installed and usable.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if err := check(tool); err != nil {
			if InCI() {
				t.Fatalf("required tool missing under CI=true: %v", err)
			}
			t.Skipf("skipping: %v", err)
		}
	}
}

// RequireSync is Require for the tools a dotfile sync uses.
func RequireSync(t testing.TB) { Require(t, "git", "jj", "chezmoi") }
