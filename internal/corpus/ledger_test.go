package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that collects what Check reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recorder) reported(word string) bool {
	for _, e := range r.errors {
		if strings.Contains(e, word) {
			return true
		}
	}
	return false
}

// The ledger's checks can fail: each violation, staged by hand on a real
// fleet, is reported; the same fleet without it is clean.
func TestLedgerReportsEachViolation(t *testing.T) {
	Scenario(t)
	f := NewFleet(t, Helderberto, "alpha")
	a := f.Host("alpha")
	kept := a.AppendLine(".aliases", "#", "alias added")
	a.Sync()
	clean := &recorder{TB: t}
	f.check(clean)
	require.Empty(t, clean.errors, "a captured and published edit is clean")
	require.True(t, kept.In(f.Remote, "main"))

	// An edit that vanishes from HOME without being published.
	lost := a.AppendLine(".exports", "#", "export added")
	a.WriteHome(".exports", strings.ReplaceAll(a.ReadHome(".exports"), "# "+lost.Token+"\n", ""))
	a.Sync()
	// A file the run removed without naming it, markers in a home file, an
	// undocumented exit code and status word.
	a.LastRun().Removed = append(a.LastRun().Removed, ".zshrc")
	must(t, os.WriteFile(filepath.Join(a.Home, ".gitattributes"), []byte("<<<<<<< conflict 1 of 1\nx\n>>>>>>> conflict 1 of 1 ends\n"), 0o644))
	a.runs = append(a.runs, &Run{Host: "alpha", Code: 7, JSON: `{"status":"splendid"}`, Record: map[string]any{"status": "splendid"}})
	// A kept edit named nowhere, and a run claiming a capture it did not make.
	hidden := a.AppendLine(".gitconfig", "#", "git alias")
	hidden.In = func(string, string) bool { return false }
	a.runs = append(a.runs, &Run{Host: "alpha", Code: 0, JSON: `{"status":"success","captured":["` + a.Home + `/.gitconfig"]}`,
		Record: map[string]any{"status": "success", "captured": []any{a.Home + "/.gitconfig"}}})

	// A create_ target the sync rewrote.
	created := a.AppendLine(".tool-versions", "#", "tool version added")
	created.ByDesign = true
	a.WriteHome(".tool-versions", "nodejs 22.21.0\n")

	got := &recorder{TB: t}
	f.check(got)
	for _, word := range []string{"LOST EDIT", "SILENT DELETION", "conflict markers in HOME", "exit code 7 is not documented",
		`status "splendid" is not documented`, "HIDDEN EDIT", "DISHONEST RECORD", "chezmoi must never touch it"} {
		assert.True(t, got.reported(word), "Check reports %q; it reported:\n%s", word, strings.Join(got.errors, "\n"))
	}
}
