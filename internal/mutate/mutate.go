// Package mutate is the project's mutation testing (docs/proof.md,
// "Mutation testing"): a curated list of realistic bugs — a skipped step, a
// swallowed error, a dropped Mutates tag, an inverted or removed guard, an
// off-by-one in a retry, a write without fsync — each applied on its own to
// a private copy of the repository, followed by the tests that should catch
// it. A mutant the tests do not kill is a hole in the proof, unless
// docs/proof.md explains why it is equivalent.
//
// Mutants are exact text replacements, not random operators: each one is a
// bug a person could plausibly write, anchored on text that must occur
// exactly once in its file (TestAnchors keeps the list in step with the
// code).
package mutate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Mutant is one deliberate bug and the tests that must catch it.
type Mutant struct {
	ID      string   // stable name, e.g. "sync/dry-run-pushes"
	Kind    string   // one of Kinds
	File    string   // path relative to the repository root
	Find    string   // exact text, occurring exactly once in File
	Replace string   // what it becomes
	Pkgs    []string // packages whose tests must fail ("./pkg/x")
	Run     string   // -run pattern ("" = every test of Pkgs)
	Quick   bool     // part of the quick form (scripts/mutate -quick, CI)
	Why     string   // the guarantee the mutant breaks
	// Equivalent, when set, says why no test can kill the mutant: the
	// change has no observable effect (docs/proof.md, "Mutation
	// testing", explains each one). Such a mutant is expected to survive
	// and is reported as equivalent, not as a hole; killing it means the
	// claim is wrong, which is reported too.
	Equivalent string
}

// Kinds are the kinds of bug the list draws from.
var Kinds = []string{"skip-step", "swallow-error", "drop-mutates", "invert-guard", "remove-guard", "off-by-one", "no-fsync", "wrong-value"}

// Verdict is what the tests made of a mutant.
type Verdict string

const (
	Killed   Verdict = "killed"   // a test failed: the proof holds
	Survived Verdict = "survived" // every test passed: a hole
	Invalid  Verdict = "invalid"  // the mutant does not build or its anchor is stale
	TimedOut Verdict = "timeout"  // the tests ran past the limit (counted as killed: a hang is noticed)
	// Equiv: a mutant documented as equivalent survived, as expected.
	Equiv Verdict = "equivalent"
	// WronglyEquivalent: a mutant documented as equivalent was killed:
	// the explanation in docs/proof.md is wrong and must go.
	WronglyEquivalent Verdict = "killed!"
)

// Hole reports whether the verdict is one scripts/mutate fails on: a
// survivor, a list out of step with the code, or a wrong claim of
// equivalence.
func (v Verdict) Hole() bool { return v == Survived || v == Invalid || v == WronglyEquivalent }

// Result is one mutant's outcome.
type Result struct {
	Mutant   Mutant
	Verdict  Verdict
	Duration time.Duration
	Detail   string // the first failing test, or why it is invalid
}

// Apply returns content with the mutant applied, or an error when the
// anchor does not occur exactly once.
func (m Mutant) Apply(content []byte) ([]byte, error) {
	n := bytes.Count(content, []byte(m.Find))
	if n != 1 {
		return nil, fmt.Errorf("mutant %s: anchor occurs %d times in %s (want exactly 1)", m.ID, n, m.File)
	}
	return bytes.Replace(content, []byte(m.Find), []byte(m.Replace), 1), nil
}

// Runner applies mutants one at a time to the repository copy in Dir and
// runs their tests there.
type Runner struct {
	Dir     string        // a private copy of the repository (see Copy)
	Timeout time.Duration // per mutant
	Env     []string      // environment for go test (tools on PATH, CI=true)
	Log     io.Writer     // go vet / go test output of every mutant, under a "=== <id> <verdict>" line
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// Run applies m, runs its tests and restores the file.
func (r *Runner) Run(ctx context.Context, m Mutant) Result {
	start := time.Now()
	res := Result{Mutant: m}
	path := filepath.Join(r.Dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		res.Verdict, res.Detail = Invalid, err.Error()
		return res
	}
	mutated, err := m.Apply(orig)
	if err != nil {
		res.Verdict, res.Detail = Invalid, err.Error()
		return res
	}
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		res.Verdict, res.Detail = Invalid, err.Error()
		return res
	}
	defer func() { _ = os.WriteFile(path, orig, 0o644) }()

	if out, err := r.goCmd(ctx, "vet", m.Pkgs...); err != nil && bytes.Contains(out, []byte(m.File)) {
		res.Verdict, res.Detail = Invalid, "does not build: "+firstMatchingLine(out, m.File)
		res.Duration = time.Since(start)
		r.log(res, out)
		return res
	}
	args := []string{"-count=1", "-timeout", r.Timeout.String()}
	if m.Run != "" {
		args = append(args, "-run", m.Run)
	}
	tctx, cancel := context.WithTimeout(ctx, r.Timeout+30*time.Second)
	defer cancel()
	out, err := r.goCmd(tctx, "test", append(args, m.Pkgs...)...)
	res.Duration = time.Since(start)
	switch {
	case err == nil && m.Equivalent != "":
		res.Verdict, res.Detail = Equiv, m.Equivalent
	case err == nil:
		res.Verdict = Survived
	case tctx.Err() != nil || bytes.Contains(out, []byte("test timed out")):
		res.Verdict, res.Detail = TimedOut, "tests ran past "+r.Timeout.String()
	default:
		res.Verdict = Killed
		if f := failLine.FindSubmatch(out); f != nil {
			res.Detail = string(f[1])
		} else {
			res.Detail = firstMatchingLine(out, "FAIL")
		}
		if m.Equivalent != "" {
			res.Verdict, res.Detail = WronglyEquivalent, "documented as equivalent but "+res.Detail+" failed"
		}
	}
	r.log(res, out)
	return res
}

func (r *Runner) log(res Result, out []byte) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "=== %s %s (%.1fs) %s\n%s\n", res.Mutant.ID, res.Verdict, res.Duration.Seconds(), res.Detail, out)
	}
}

func (r *Runner) goCmd(ctx context.Context, verb string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{verb}, args...)...)
	cmd.Dir = r.Dir
	cmd.Env = r.Env
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}

func firstMatchingLine(out []byte, substr string) string {
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, substr) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// Copy copies the repository's files (tracked, and untracked ones git does
// not ignore) from root into dir, so mutants never touch the tree a person
// works in and the run sees the work as it is, committed or not.
func Copy(ctx context.Context, root, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files in %s: %w", root, err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dir, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	st, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the work tree but still in the index
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, st.Mode().Perm())
}

// Select returns the mutants to run: the quick form or all, narrowed by an
// optional ID pattern.
func Select(all []Mutant, quick bool, only string) ([]Mutant, error) {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return nil, fmt.Errorf("-only %q: %w", only, err)
		}
	}
	var out []Mutant
	for _, m := range all {
		if quick && !m.Quick {
			continue
		}
		if re != nil && !re.MatchString(m.ID) {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Table renders results as the table scripts/mutate prints, with the kill
// rate over the valid mutants that are not documented as equivalent (a
// timeout counts as killed).
func Table(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-40s %-14s %-10s %7s  %s\n", "mutant", "kind", "verdict", "time", "caught by / detail")
	killed, valid, invalid, equiv := 0, 0, 0, 0
	var total time.Duration
	for _, r := range results {
		fmt.Fprintf(w, "%-40s %-14s %-10s %6.1fs  %s\n", r.Mutant.ID, r.Mutant.Kind, r.Verdict, r.Duration.Seconds(), r.Detail)
		total += r.Duration
		switch r.Verdict {
		case Invalid:
			invalid++
		case Equiv:
			equiv++
		case Killed, TimedOut:
			killed++
			valid++
		default: // Survived, WronglyEquivalent
			valid++
		}
	}
	rate := 0.0
	if valid > 0 {
		rate = 100 * float64(killed) / float64(valid)
	}
	fmt.Fprintf(w, "\nkilled %d of %d valid mutants (%.0f%%); %d equivalent (docs/proof.md); %d invalid; %s\n",
		killed, valid, rate, equiv, invalid, total.Round(time.Second))
}

// Markdown renders the list as the table of docs/proof.md ("Mutation
// testing"): ID, kind, the guarantee broken, the tests that must catch it
// (package and -run pattern), Q for the quick form. TestProofTableIsCurrent
// keeps the page in step with the list.
func Markdown(w io.Writer, ms []Mutant) {
	fmt.Fprintln(w, "| Mutant | Kind | What it breaks | Tests that must fail | Quick |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, m := range ms {
		tests := "every test"
		if m.Run != "" {
			tests = "`" + strings.ReplaceAll(m.Run, "|", "\\|") + "`"
		}
		pkgs := make([]string, len(m.Pkgs))
		for i, p := range m.Pkgs {
			pkgs[i] = "`" + strings.TrimPrefix(p, "./") + "`"
		}
		q := ""
		if m.Quick {
			q = "Q"
		}
		why := strings.ReplaceAll(m.Why, "|", "\\|")
		if m.Equivalent != "" {
			why += " (equivalent: " + strings.ReplaceAll(m.Equivalent, "|", "\\|") + ")"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s in %s | %s |\n", m.ID, m.Kind, why, tests, strings.Join(pkgs, ", "), q)
	}
}
