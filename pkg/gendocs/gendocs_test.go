package gendocs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/chezmoistatus"
	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/rebuildsmart"
	"github.com/nixdots/nixdots/pkg/rollback"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/stretchr/testify/require"
)

var mains = map[string]func([]string, cli.Env) int{
	"chezmoi-sync":           chezmoisync.Main,
	"chezmoi-status":         chezmoistatus.Main,
	"chezmoi-show-conflicts": showconflicts.Main,
	"rebuild-smart":          rebuildsmart.Main,
	"rebuild-rollback":       rollback.Main,
}

// Flag lines of kong's help: "  -x, --name" or "      --name" (wrapped help
// text is indented further, so a flag named inside a help text never counts).
var helpFlagRe = regexp.MustCompile(`(?m)^(?:  -\w, |      )--(\[no-\])?([a-z0-9][a-z0-9-]*)`)

// helpFlags runs the binary's --help in-process, the way a user sees it, and
// returns the long flags it lists: a source independent of the renderers.
func helpFlags(t *testing.T, name string, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	code := mains[name](append(args, "--help"), cli.Env{Stdout: &out, Stderr: &errb, Environ: []string{"HOME=" + t.TempDir()}})
	require.Equal(t, 0, code, "%s --help: %s", name, errb.String())
	var flags []string
	for _, m := range helpFlagRe.FindAllStringSubmatch(out.String(), -1) {
		flags = append(flags, m[2])
		if m[1] != "" {
			flags = append(flags, "no-"+m[2])
		}
	}
	require.NotEmpty(t, flags, "no flags found in %s --help:\n%s", name, out.String())
	return flags
}

// Every flag every binary shows in --help (subcommands included) appears in
// its man page and in its bash, zsh and fish completions.
func TestEveryFlagInManPageAndCompletions(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, 0, Main([]string{"-out", dir, "-only", "completions,man"}, &out, &errb), errb.String())
	bins, err := Binaries()
	require.NoError(t, err)
	require.Len(t, bins, len(mains))
	for _, b := range bins {
		name := b.Spec.Name
		flags := helpFlags(t, name)
		for _, c := range b.Commands() {
			flags = append(flags, helpFlags(t, name, c.Name)...)
		}
		read := func(rel string) string {
			data, err := os.ReadFile(filepath.Join(dir, rel))
			require.NoError(t, err)
			return string(data)
		}
		man := read(filepath.Join("man", name+".1"))
		bash := read(filepath.Join("completions", name+".bash"))
		zsh := read(filepath.Join("completions", "_"+name))
		fish := read(filepath.Join("completions", name+".fish"))
		for _, f := range flags {
			require.Contains(t, man, `\-\-`+roffText(f), "%s: --%s missing from the man page", name, f)
			require.Regexp(t, `(^|[ '|])--`+regexp.QuoteMeta(f)+`\b`, bash, "%s: --%s missing from the bash completion", name, f)
			require.Regexp(t, `--`+regexp.QuoteMeta(f)+`[=\[]`, zsh, "%s: --%s missing from the zsh completion", name, f)
			require.Regexp(t, `-l `+regexp.QuoteMeta(f)+`( |$)`, fish, "%s: --%s missing from the fish completion", name, f)
		}
		for _, c := range b.Commands() {
			require.Contains(t, bash, c.Name)
			require.Contains(t, man, roffText(c.Name))
		}
	}
}

// The bash completion works in a real bash: flags complete from a prefix,
// directory flags complete directories.
func TestBashCompletionRuns(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testharness.Require(t, "bash")
	}
	tmp := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(tmp, "subdir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "subfile"), nil, 0o644))
	bins, err := Binaries()
	require.NoError(t, err)
	for _, b := range bins {
		script := Bash(b)
		fn := "_" + funcName(b.Spec.Name)
		cmd := exec.Command(bash, "-c", script+`
COMP_WORDS=(`+b.Spec.Name+` --st); COMP_CWORD=1; `+fn+`; printf '%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(`+b.Spec.Name+` --state-dir `+tmp+`/sub); COMP_CWORD=2; `+fn+`; printf 'dir:%s\n' "${COMPREPLY[@]}"`)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", b.Spec.Name, out)
		require.Contains(t, string(out), "--state-dir\n", b.Spec.Name)
		require.Contains(t, string(out), "dir:"+tmp+"/subdir\n", b.Spec.Name)
		require.NotContains(t, string(out), "subfile", b.Spec.Name)
	}
}

// The man pages are valid roff: groff reports no warnings.
func TestManPagesAreCleanRoff(t *testing.T) {
	testharness.Require(t, "groff")
	groff, err := testharness.Look("groff")
	require.NoError(t, err)
	bins, err := Binaries()
	require.NoError(t, err)
	for _, b := range bins {
		cmd := exec.Command(groff, "-man", "-ww", "-z")
		cmd.Stdin = strings.NewReader(Man(b, "test"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		require.Empty(t, string(out), b.Spec.Name)
	}
	// And the check can fail: a stray request is reported.
	cmd := exec.Command(groff, "-man", "-ww", "-z")
	cmd.Stdin = strings.NewReader(".TH X 1\n.SH NAME\n.BOGUSREQ\n")
	out, _ := cmd.CombinedOutput()
	require.NotEmpty(t, string(out))
}

// Shells other than bash check their files' syntax when they are installed.
func TestZshAndFishSyntax(t *testing.T) {
	bins, err := Binaries()
	require.NoError(t, err)
	ran := false
	for shell, render := range map[string]func(Binary) string{"zsh": Zsh, "fish": Fish} {
		path, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		ran = true
		for _, b := range bins {
			f := filepath.Join(t.TempDir(), b.Spec.Name+"."+shell)
			require.NoError(t, os.WriteFile(f, []byte(render(b)), 0o644))
			out, err := exec.Command(path, "-n", f).CombinedOutput()
			require.NoError(t, err, "%s %s: %s", shell, b.Spec.Name, out)
		}
	}
	if !ran {
		testharness.Require(t, "zsh", "fish") // fails under CI, skips locally
	}
}

// nix/config-keys.json (read by the NixOS module) and the key tables of
// docs/configuration.md are current with config.Keys. When this fails, run
// `go run ./cmd/nixdots-gendocs -out .` (or `just docs`).
func TestGeneratedConfigReferenceIsCurrent(t *testing.T) {
	root := testharness.ModuleRoot()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	require.NoError(t, err)
	files, err := Files("test", doc, ConfigKeys)
	require.NoError(t, err)
	for _, rel := range []string{filepath.Join("nix", "config-keys.json"), filepath.Join("docs", "configuration.md")} {
		have, err := os.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err)
		require.Equal(t, string(files[rel]), string(have), "%s is stale: run go run ./cmd/nixdots-gendocs -out .", rel)
	}
}

func TestMainBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"unknown output": {[]string{"-out", t.TempDir(), "-only", "pdf"}, 2, `unknown output "pdf"`},
		"unknown flag":   {[]string{"-bogus"}, 2, "flag provided but not defined"},
		"extra argument": {[]string{"-out", t.TempDir(), "x"}, 2, `unexpected argument "x"`},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, tc.code, Main(tc.args, &out, &errb), name)
		require.Contains(t, errb.String(), tc.want, name)
	}
	// Regenerating an unchanged tree writes nothing.
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, 0, Main([]string{"-out", dir}, &out, &errb), errb.String())
	out.Reset()
	require.Equal(t, 0, Main([]string{"-out", dir}, &out, &errb), errb.String())
	require.Equal(t, "everything up to date\n", out.String())
}
