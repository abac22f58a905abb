package gendocs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/config"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// completionWorld is a state directory whose history knows generations 1-3
// (3 is the newest) and a failed attempt, with the built binaries on PATH.
func completionWorld(t *testing.T) (env []string, stateDir string) {
	t.Helper()
	stateDir = filepath.Join(t.TempDir(), "state dir")
	require.NoError(t, os.MkdirAll(stateDir, 0o700))
	var lines []string
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for n := 1; n <= 3; n++ {
		e := history.Entry{Time: base.Add(time.Duration(n) * time.Hour), Host: "alpha", Commit: strings.Repeat(fmt.Sprint(n), 40),
			Generation: n, Action: "switch", Outcome: history.OutcomeSuccess, Source: "rebuild-smart"}
		data, err := json.Marshal(e)
		require.NoError(t, err)
		lines = append(lines, string(data))
	}
	lines = append(lines, `{"time":"2026-11-21T08:00:00Z","host":"alpha","outcome":"failed","source":"rebuild-smart"}`)
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, history.FileName), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	env = []string{
		"PATH=" + testharness.Binaries(t) + ":" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"NIXDOTS_SYSTEM_ROOT=" + t.TempDir(), // no system: the history alone
	}
	return env, stateDir
}

// Generation numbers complete after --to in a real bash, from the binary
// itself, honouring a --state-dir typed before it; other flags are not
// affected and a broken state completes nothing (no error on the terminal).
func TestDynamicCompletionBash(t *testing.T) {
	testharness.Require(t, "bash")
	env, stateDir := completionWorld(t)
	script := Bash(binaryNamed(t, "rebuild-rollback"))
	run := func(words string, cword int) string {
		cmd := exec.Command("bash", "-c", script+"\nCOMP_WORDS=("+words+"); COMP_CWORD="+fmt.Sprint(cword)+
			"; _rebuild_rollback; printf '%s\\n' \"${COMPREPLY[@]}\"")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	q := "'" + stateDir + "'"
	require.Equal(t, "3\n2\n1\n", run("rebuild-rollback --state-dir "+q+" --to ''", 4))
	require.Equal(t, "2\n", run("rebuild-rollback --state-dir "+q+" --to 2", 4))
	require.Equal(t, "222222222222\n", run("rebuild-rollback --state-dir "+q+" --dry-run --to-commit 22", 5))
	// No history there: nothing, and nothing on the terminal.
	require.Equal(t, "\n", run("rebuild-rollback --to ''", 2))
}

// The same in a real fish, with the descriptions.
func TestDynamicCompletionFish(t *testing.T) {
	testharness.Require(t, "fish")
	env, stateDir := completionWorld(t)
	f := filepath.Join(t.TempDir(), "rebuild-rollback.fish")
	require.NoError(t, os.WriteFile(f, []byte(Fish(binaryNamed(t, "rebuild-rollback"))), 0o644))
	cmd := exec.Command("fish", "--no-config", "-c", fmt.Sprintf("source %s; complete -C 'rebuild-rollback --state-dir \"%s\" --to '", f, stateDir))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "3\t2026-11-20 12:00, commit 333333333333 (current)\n2\t2026-11-20 11:00, commit 222222222222\n1\t2026-11-20 10:00, commit 111111111111\n", string(out),
		"newest first, as the binary lists them")
}

// Every flag with a dynamic completion calls its binary in all three
// shells; ssh destinations use the shells' own host completion.
func TestDynamicAndHostFlagsInEveryShell(t *testing.T) {
	bins, err := Binaries()
	require.NoError(t, err)
	want := map[string][]string{
		"rebuild-rollback": {"to", "to-commit"}, "rebuild-smart": {"host"},
		"chezmoi-sync": {"hostname"}, "chezmoi-status": {"hostname"}, "chezmoi-show-conflicts": {"hostname"},
	}
	for _, b := range bins {
		require.Equal(t, want[b.Spec.Name], b.Dynamic, b.Spec.Name)
		for _, flag := range b.Dynamic {
			call := b.Spec.Name + " " + cli.CompleteCommand
			require.Regexp(t, `--`+regexp.QuoteMeta(flag)+`(\|-\w)?\)\n\s+_`+funcName(b.Spec.Name)+`_dynamic `+regexp.QuoteMeta(flag)+`\n`, Bash(b), b.Spec.Name)
			require.Contains(t, Bash(b), call, b.Spec.Name)
			require.Regexp(t, `--`+regexp.QuoteMeta(flag)+`=\[[^]]*\]:[^:]*:_`+funcName(b.Spec.Name)+`_dynamic `+regexp.QuoteMeta(flag)+`'`, Zsh(b), b.Spec.Name)
			require.Contains(t, Fish(b), "-l "+flag+"", b.Spec.Name)
			require.Contains(t, Fish(b), "-x -k -a '("+call+" "+flag+" (commandline -opc)[2..-1] 2>/dev/null)'", b.Spec.Name)
		}
	}
	rs := binaryNamed(t, "rebuild-smart")
	require.Contains(t, Bash(rs), "--build-host|--target-host)\n            COMPREPLY=($(compgen -A hostname")
	require.Contains(t, Zsh(rs), `@\]host:_hosts'`)
	require.Contains(t, Fish(rs), "-l target-host -x -a '(__fish_print_hostnames)'")
}

// Each man page: its flags under the --help group titles, EXAMPLES with
// every example, and EXIT STATUS with exactly the binary's declared codes.
func TestManPagesGroupsExamplesAndOwnExitCodes(t *testing.T) {
	bins, err := Binaries()
	require.NoError(t, err)
	for _, b := range bins {
		man := Man(b, "")
		require.Contains(t, man, `.TH `+strings.ToUpper(roffText(b.Spec.Name))+` 1 "" "nixdots" `)
		require.NotContains(t, man, ".SS \"Options\"", "%s: a flag outside every group", b.Spec.Name)
		require.Contains(t, man, ".SS \"Common flags\"")
		examples := strings.Index(man, ".SH EXAMPLES\n")
		status := strings.Index(man, ".SH EXIT STATUS\n")
		require.True(t, examples > 0 && status > examples, b.Spec.Name)
		for _, e := range b.Spec.Examples {
			require.Contains(t, man[examples:status], `\fB`+roffText(e.Command)+`\fR`)
		}
		var codes []string
		for _, m := range regexp.MustCompile(`(?m)^\.B (\d+)$`).FindAllStringSubmatch(man[status:], -1) {
			codes = append(codes, m[1])
		}
		var want []string
		for _, u := range b.Spec.Codes() {
			want = append(want, fmt.Sprint(u.Code))
		}
		require.Equal(t, want, codes, b.Spec.Name)
	}
}

// Every visible flag of every binary is in a named group, and every
// config tag names a key of the binary's section (else the file could never
// set it: Load rejects unknown keys).
func TestEveryFlagGroupedAndConfigTagsKnown(t *testing.T) {
	bins, err := Binaries()
	require.NoError(t, err)
	for _, b := range bins {
		for _, f := range b.Flags() {
			require.NotEmpty(t, f.Group, "%s --%s has no group:\"...\" tag", b.Spec.Name, f.Name)
			require.True(t, slices.ContainsFunc(cli.Groups, func(g kong.Group) bool { return strings.TrimSuffix(g.Title, ":") == f.Group }),
				"%s --%s: group %q has no title in cli.Groups", b.Spec.Name, f.Name, f.Group)
			if f.Config != "" {
				require.True(t, keyKnown(b.Spec.Section, f.Config), "%s --%s: config key %s.%s is not in config.Keys", b.Spec.Name, f.Name, b.Spec.Section, f.Config)
			}
		}
	}
}

func binaryNamed(t *testing.T, name string) Binary {
	t.Helper()
	bins, err := Binaries()
	require.NoError(t, err)
	i := slices.IndexFunc(bins, func(b Binary) bool { return b.Spec.Name == name })
	require.GreaterOrEqual(t, i, 0, name)
	return bins[i]
}

func keyKnown(section, key string) bool {
	return slices.ContainsFunc(config.Keys[section], func(k config.Key) bool { return k.Name == key })
}
