package showconflicts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/stretchr/testify/require"
)

// The parked-conflict recipe is one: the lines chezmoi-sync and
// chezmoi-show-conflicts print (showconflicts.Recipe) are the lines the
// docs show, byte for byte.
func TestDocsShowTheRecipe(t *testing.T) {
	for doc, host := range map[string]string{"chezmoi-sync.md": "laptop", "troubleshooting.md": "laptop", "chezmoi-show-conflicts.md": "beta"} {
		data, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(), "docs", doc))
		require.NoError(t, err)
		text := string(data)
		for _, line := range showconflicts.Recipe("/home/me/.local/share/chezmoi", "main@origin", "sync/"+host, []string{"dot_bashrc"}) {
			require.True(t, strings.Contains(text, "$ "+line+"\n") || strings.Contains(text, "    "+line+"\n"), "%s does not show the recipe line %q", doc, line)
		}
	}
}

// An encrypted file's conflict markers would sit in its ciphertext: the
// recipe never says to edit them there.
func TestRecipeForEncryptedFiles(t *testing.T) {
	lines := showconflicts.Recipe("/s", "main@origin", "sync/h", []string{"dot_bashrc", "encrypted_dot_pypirc.age"})
	joined := strings.Join(lines, "\n")
	require.Contains(t, joined, "${EDITOR:-vi} dot_bashrc ")
	require.NotContains(t, joined, "${EDITOR:-vi} dot_bashrc encrypted")
	require.Contains(t, joined, "jj restore --from main@origin encrypted_dot_pypirc.age")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "chezmoi-sync"))
}
