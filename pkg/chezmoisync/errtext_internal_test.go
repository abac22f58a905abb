package chezmoisync

import (
	"errors"
	"testing"

	"github.com/nixdots/nixdots/pkg/runner"
	"github.com/stretchr/testify/require"
)

// A failed jj command is named by its own error line, not by the hints
// and warnings jj prints after it (jj 0.46).
func TestErrTextLeadsWithTheCause(t *testing.T) {
	res := runner.Result{Stderr: []byte("Warning: Failed to resolve `revset-aliases.trunk()`\nError: Won't push commit 197a18abc504 since it has no author and/or committer set\nHint: Rejected commit: olypqzyy 197a18ab main* | made without an identity\nHint: Use jj describe\n")}
	require.Equal(t, "Error: Won't push commit 197a18abc504 since it has no author and/or committer set", errText(res, errors.New("exit 1")))
	res = runner.Result{Stderr: []byte("Error: Failed to import refs\nCaused by: 1: boom\n")}
	require.Equal(t, "Error: Failed to import refs Caused by: 1: boom", errText(res, errors.New("exit 1")))
	require.Equal(t, "a | b", errText(runner.Result{Stderr: []byte("x\na\nb\n")}, errors.New("exit 1")))
	require.Equal(t, "exit 1", errText(runner.Result{}, errors.New("exit 1")))
}
