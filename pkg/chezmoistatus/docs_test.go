package chezmoistatus_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/stretchr/testify/require"
)

// Wherever the docs say which code chezmoi-status --check returns for
// waiting edits, it is the code the check returns (12), not another one.
func TestDocsNameTheEditsWaitingCode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testharness.ModuleRoot(), "docs", "*.md"))
	require.NoError(t, err)
	files = append(files, filepath.Join(testharness.ModuleRoot(), "README.md"))
	re := regexp.MustCompile("(?s)edits-waiting`[^.]{0,120}?chezmoi-status --check`?\\s+exits\\s+(\\d+)")
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			found++
			require.Equal(t, strconv.Itoa(exitcode.Waiting), m[1], "%s: %q", f, m[0])
		}
	}
	require.NotZero(t, found, "the sentence in docs/chezmoi-sync.md moved: update this test")
}
