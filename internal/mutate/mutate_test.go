package mutate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// TestAnchors keeps the list in step with the code: every mutant's anchor
// occurs exactly once, changes the file, and names a known kind and
// existing test packages. A refactoring that moves an anchor fails here,
// not silently in a mutation run.
func TestAnchors(t *testing.T) {
	kinds := map[string]bool{}
	for _, k := range Kinds {
		kinds[k] = true
	}
	ids := map[string]bool{}
	quick := 0
	for _, m := range All {
		t.Run(m.ID, func(t *testing.T) {
			require.False(t, ids[m.ID], "duplicate ID")
			ids[m.ID] = true
			require.True(t, kinds[m.Kind], "unknown kind %q", m.Kind)
			require.NotEmpty(t, m.Why)
			require.NotEmpty(t, m.Pkgs)
			content, err := os.ReadFile(filepath.Join(root(), m.File))
			require.NoError(t, err, reanchor(m, nil))
			out, err := m.Apply(content)
			require.NoError(t, err, reanchor(m, content))
			require.NotEqual(t, content, out, reanchor(m, content))
			for _, p := range m.Pkgs {
				require.DirExists(t, filepath.Join(root(), p))
			}
			if m.Equivalent != "" {
				require.False(t, m.Quick, "an equivalent mutant has no place in the quick form")
			}
			if m.Quick {
				require.NotEmpty(t, m.Run, "a quick mutant names the tests that catch it (-run)")
			}
			requireRunMatches(t, m)
		})
		if m.Quick {
			quick++
		}
	}
	require.GreaterOrEqual(t, len(All), 40, "at least 40 mutants (issue 17 asks for 30)")
	// The quick form runs in CI (scripts/test): a dozen or so mutants with
	// tight -run patterns, a few minutes on 2 cores.
	require.GreaterOrEqual(t, quick, 10)
	require.LessOrEqual(t, quick, 15)
}

// reanchor is the message of a stale mutant: which entry of
// mutants.go to edit, what its anchor was, and the line of the file now
// closest to it, so the maintainer of the code that moved can fix the
// entry without reading this package.
func reanchor(m Mutant, content []byte) string {
	line := 0
	if data, err := os.ReadFile(filepath.Join(root(), "internal", "mutate", "mutants.go")); err == nil {
		if i := bytes.Index(data, []byte(`ID: "`+m.ID+`"`)); i >= 0 {
			line = bytes.Count(data[:i], []byte("\n")) + 1
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nRE-ANCHOR mutant %s (internal/mutate/mutants.go:%d): its Find text must occur exactly once in %s.\n", m.ID, line, m.File)
	fmt.Fprintf(&b, "  Find was:    %q\n  Replace was: %q\n  Bug it plants: %s\n", m.Find, m.Replace, m.Why)
	if content != nil {
		if n, text := nearestLine(content, m.Find); n > 0 {
			fmt.Fprintf(&b, "  Closest line now: %s:%d: %s\n", m.File, n, strings.TrimSpace(text))
		}
	}
	b.WriteString("  Fix: point Find at the code that now does the same job (a short piece, one line if possible, occurring once)\n" +
		"  and make Replace plant the same bug; keep the ID. Then: go test ./internal/mutate/ && scripts/mutate -only '^" + regexp.QuoteMeta(m.ID) + "$'")
	return b.String()
}

// nearestLine is the line of content sharing the most words with anchor
// (0 when none shares any).
func nearestLine(content []byte, anchor string) (int, string) {
	words := map[string]bool{}
	for _, w := range wordRe.FindAllString(anchor, -1) {
		words[w] = true
	}
	best, bestN, bestText := 0, 0, ""
	for i, l := range strings.Split(string(content), "\n") {
		n := 0
		for _, w := range wordRe.FindAllString(l, -1) {
			if words[w] {
				n++
			}
		}
		if n > best {
			best, bestN, bestText = n, i+1, l
		}
	}
	return bestN, bestText
}

var wordRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_.]{2,}`)

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(`)

// requireRunMatches: every alternative of the -run pattern's top level
// names at least one test of the mutant's packages (a renamed test would
// otherwise leave the mutant tested by nothing, and surviving). go test
// splits -run at '/' into levels, so a pattern with a subtest level must
// not also list alternatives.
func requireRunMatches(t *testing.T, m Mutant) {
	if m.Run == "" {
		return
	}
	levels := strings.Split(m.Run, "/")
	require.False(t, len(levels) > 1 && strings.Contains(m.Run, "|"),
		"-run %q: go test splits at '/', so an alternative after it names a subtest, not a test", m.Run)
	var names []string
	for _, p := range m.Pkgs {
		files, err := filepath.Glob(filepath.Join(root(), p, "*_test.go"))
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, sm := range testFunc.FindAllSubmatch(data, -1) {
				names = append(names, string(sm[1]))
			}
		}
	}
	for _, alt := range strings.Split(levels[0], "|") {
		re, err := regexp.Compile(alt)
		require.NoError(t, err)
		found := false
		for _, n := range names {
			found = found || re.MatchString(n)
		}
		require.True(t, found, "-run alternative %q matches no test of %v", alt, m.Pkgs)
	}
}

func TestApplyNeedsOneOccurrence(t *testing.T) {
	m := Mutant{ID: "x", File: "f", Find: "a", Replace: "b"}
	_, err := m.Apply([]byte("a a"))
	require.ErrorContains(t, err, "2 times")
	_, err = m.Apply([]byte("c"))
	require.ErrorContains(t, err, "0 times")
	out, err := m.Apply([]byte("cac"))
	require.NoError(t, err)
	require.Equal(t, "cbc", string(out))
}

// TestRunnerVerdicts drives the runner on a tiny module of its own: a
// mutant its test catches is killed, one it does not is a survivor, one
// that does not compile is invalid, and the file is restored each time.
func TestRunnerVerdicts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644))
	}
	write("go.mod", "module example.com/m\n\ngo 1.21\n")
	src := "package m\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Unused() int { return 1 }\n"
	write("m.go", src)
	write("m_test.go", "package m\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"Add\")\n\t}\n}\n")
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go not on PATH")
	}
	var log bytes.Buffer
	r := &Runner{Dir: dir, Timeout: 2 * time.Minute, Env: os.Environ(), Log: &log}
	ctx := context.Background()
	cases := []struct {
		m    Mutant
		want Verdict
	}{
		{Mutant{ID: "killed", File: "m.go", Find: "a + b", Replace: "a - b", Pkgs: []string{"."}}, Killed},
		{Mutant{ID: "survives", File: "m.go", Find: "return 1", Replace: "return 2", Pkgs: []string{"."}}, Survived},
		{Mutant{ID: "invalid", File: "m.go", Find: "return 1", Replace: "return \"x\"", Pkgs: []string{"."}}, Invalid},
		{Mutant{ID: "stale", File: "m.go", Find: "nowhere", Replace: "x", Pkgs: []string{"."}}, Invalid},
		{Mutant{ID: "equivalent", File: "m.go", Find: "return 1", Replace: "return 0 + 1", Pkgs: []string{"."}, Equivalent: "same value"}, Equiv},
		{Mutant{ID: "wrongly-equivalent", File: "m.go", Find: "a + b", Replace: "b - a", Pkgs: []string{"."}, Equivalent: "claimed"}, WronglyEquivalent},
	}
	for _, c := range cases {
		res := r.Run(ctx, c.m)
		require.Equal(t, c.want, res.Verdict, "%s: %s", c.m.ID, res.Detail)
		got, err := os.ReadFile(filepath.Join(dir, "m.go"))
		require.NoError(t, err)
		require.Equal(t, src, string(got), "file restored after %s", c.m.ID)
	}
	require.Contains(t, log.String(), "=== survives survived")
	require.Contains(t, log.String(), "=== killed killed")
	for v, hole := range map[Verdict]bool{Killed: false, TimedOut: false, Equiv: false, Survived: true, Invalid: true, WronglyEquivalent: true} {
		require.Equal(t, hole, v.Hole(), string(v))
	}
	var table bytes.Buffer
	Table(&table, []Result{{Mutant: cases[0].m, Verdict: Killed}, {Mutant: cases[1].m, Verdict: Survived}, {Mutant: cases[2].m, Verdict: Invalid},
		{Mutant: cases[4].m, Verdict: Equiv}})
	require.True(t, strings.Contains(table.String(), "killed 1 of 2 valid mutants (50%); 1 equivalent (docs/proof.md); 1 invalid"), table.String())
}

// TestProofTableIsCurrent: docs/proof.md's table of mutants is the list
// as it is (scripts/mutate -list -markdown prints it).
func TestProofTableIsCurrent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root(), "docs", "proof.md"))
	require.NoError(t, err)
	var want bytes.Buffer
	Markdown(&want, All)
	require.True(t, bytes.Contains(data, want.Bytes()),
		"docs/proof.md (\"Mutation testing\") does not hold the current table of mutants: paste the output of scripts/mutate -list -markdown")
}
