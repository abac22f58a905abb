// Package e2e runs the built binaries the way a user does: every --help,
// --version and a bad flag, for all five.
package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/gendocs"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var binaries = []string{"chezmoi-sync", "chezmoi-status", "chezmoi-show-conflicts", "rebuild-smart", "rebuild-rollback"}

func TestEveryBinaryHelpVersionAndBadFlag(t *testing.T) {
	h := testharness.NewHost(t, "e2e").WithBinaries()
	for _, b := range binaries {
		r := h.Exec("", b, "--help")
		require.Equal(t, 0, r.Code, "%s --help: %s", b, r)
		require.Contains(t, r.Stdout, "Usage: "+b)
		require.Contains(t, r.Stdout, "Exit codes")
		require.Contains(t, r.Stdout, "--state-dir")

		r = h.Exec("", b, "--version")
		require.Equal(t, 0, r.Code, b)
		require.True(t, strings.HasPrefix(r.Stdout, b+" "), r.Stdout)

		r = h.Exec("", b, "--definitely-not-a-flag")
		require.Equal(t, 2, r.Code, "%s: unknown flag must exit 2: %s", b, r)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "%s: one-line error: %q", b, r.Stderr)
		require.Contains(t, r.Stderr, b+": unknown flag --definitely-not-a-flag")
		require.NotContains(t, r.Stderr, "goroutine", "no stack trace")
	}
}

// specs are the binaries' declarations, as the docs generator reads them.
func specs(t *testing.T) map[string]cli.Spec {
	bins, err := gendocs.Binaries()
	require.NoError(t, err)
	out := map[string]cli.Spec{}
	for _, b := range bins {
		out[b.Spec.Name] = b.Spec
	}
	return out
}

// Every --help, as a user sees it: a description paragraph, every flag in a
// named group (the common ones last), examples of the common cases, and
// exactly the exit codes the binary declares (no other binary's).
func TestEveryHelpHasGroupsExamplesAndItsOwnExitCodes(t *testing.T) {
	h := testharness.NewHost(t, "e2e").WithBinaries()
	codeLine := regexp.MustCompile(`(?m)^\s+(\d+)  \S`)
	declared := specs(t)
	require.Len(t, declared, len(binaries))
	for _, b := range binaries {
		out := h.Run("", b, "--help")
		spec := declared[b]
		require.Contains(t, out, strings.Fields(spec.Description)[0], b)
		require.NotRegexp(t, `(?m)^Flags:$`, out, "%s: a flag outside every group", b)
		common := strings.Index(out, "Common flags:")
		examples := strings.Index(out, "Examples:")
		codes := strings.Index(out, "Exit codes")
		require.True(t, common > 0 && common < examples && examples < codes, "%s:\n%s", b, out)
		require.GreaterOrEqual(t, strings.Count(out[examples:codes], "\n  "+b), 3, "%s: examples of the common cases", b)
		var listed []int
		for _, m := range codeLine.FindAllStringSubmatch(out[codes:], -1) {
			n, _ := strconv.Atoi(m[1])
			listed = append(listed, n)
		}
		var want []int
		for _, u := range spec.Codes() {
			want = append(want, u.Code)
		}
		require.Equal(t, want, listed, b)
		for _, other := range binaries {
			if other != b && other != "chezmoi-sync" && other != "rebuild-rollback" {
				require.NotContains(t, out[codes:], other+" --", "%s lists another binary's codes", b)
			}
		}
	}
	out := h.Run("", "rebuild-smart", "--help")
	require.NotContains(t, out, "chezmoi-status --check", "rebuild-smart cannot return 6 or 7")
}

// --json with a usage error: one JSON error object on stdout, the same
// message on stderr, exit 2 unchanged.
func TestJSONUsageErrorIsOneDocument(t *testing.T) {
	h := testharness.NewHost(t, "e2e").WithBinaries()
	for _, b := range binaries {
		r := h.Exec("", b, "--json", "--definitely-not-a-flag")
		require.Equal(t, 2, r.Code, "%s: %s", b, r)
		var doc cli.ErrorJSON
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), "%s: %s", b, r)
		require.Equal(t, cli.ErrorJSON{Program: b, Error: "unknown flag --definitely-not-a-flag (see --help)", ExitCode: 2}, doc)
		require.Equal(t, b+": "+doc.Error+"\n", r.Stderr)
	}
}

// --version of a binary built from a git checkout names the commit (from
// the build information Go stamps), never "dev".
func TestVersionFromVCS(t *testing.T) {
	testharness.Require(t, "git", "go")
	h := testharness.NewHost(t, "e2e")
	src := filepath.Join(h.Root, "src")
	root := testharness.ModuleRoot()
	require.NoError(t, os.MkdirAll(src, 0o755))
	for _, p := range []string{"go.mod", "go.sum", "cmd", "pkg"} {
		h.Run("", "cp", "-r", filepath.Join(root, p), filepath.Join(src, p))
	}
	h.Run(src, "git", "init", "-q")
	h.Run(src, "git", "add", "-A")
	h.Run(src, "git", "commit", "-q", "-m", "snapshot")
	rev := h.Run(src, "git", "rev-parse", "HEAD")
	bin := filepath.Join(h.Root, "rebuild-rollback")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/rebuild-rollback")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	version := h.Run("", bin, "--version")
	require.Contains(t, version, rev[:12], "the VCS revision")
	require.NotContains(t, version, "dev ")
	require.True(t, strings.HasPrefix(version, "rebuild-rollback "), version)
}

// The settings that got config keys reach their flags from the file: a
// value out of range is refused exactly as the flag's would be.
func TestNewConfigKeysReachTheirFlags(t *testing.T) {
	h := testharness.NewHost(t, "e2e").WithBinaries()
	cfg := filepath.Join(h.Root, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"chezmoiSync": {"pushRetries": 99, "maxNewFileSize": 0},
		"rebuildSmart": {"secretsTimeout": "soon", "tag": true, "rollbackOnFailure": true, "secretsPath": "/x"}}`), 0o600))
	r := h.Exec("", "chezmoi-sync", "--config", cfg, "--max-new-file-size", "1")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "--push-retries 99 is out of range")
	r = h.Exec("", "chezmoi-sync", "--config", cfg, "--push-retries", "1")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "--max-new-file-size 0 must be a positive number")
	r = h.Exec("", "rebuild-smart", "--config", cfg, "--dry-run")
	require.Equal(t, 2, r.Code, r.String())
	require.Contains(t, r.Stderr, "soon")
}
