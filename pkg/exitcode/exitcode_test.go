package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// A child that exits 128 (git) or 100 (nix) makes the run fail with 1: its
// own code never leaks as ours, however deeply it is wrapped. The suite's
// codes wrapped around it still win.
func TestChildExitCodeDoesNotLeak(t *testing.T) {
	child := exec.Command("sh", "-c", "exit 128").Run()
	var ee *exec.ExitError
	require.ErrorAs(t, child, &ee)
	require.Equal(t, 128, ee.ExitCode())

	wrapped := fmt.Errorf("git fetch: %w", fmt.Errorf("runner: %w", child))
	require.Equal(t, Failure, FromError(wrapped))
	require.Equal(t, Locked, FromError(Wrap(Locked, wrapped)))
	require.Equal(t, Usage, FromError(fmt.Errorf("x: %w", UsageError(wrapped))))
	require.Equal(t, Interrupted, FromError(fmt.Errorf("x: %w", context.Canceled)))
	require.Equal(t, OK, FromError(nil))
	require.Equal(t, Failure, FromError(errors.New("plain")))
}

func TestUsesDescribeFromTheOneTable(t *testing.T) {
	uses := Uses(OK, Locked)
	require.Equal(t, "success, or nothing to do", uses[0].Describe())
	require.Equal(t, "another run holds the lock", uses[1].Describe())
	require.Equal(t, "mine", Use{Code: OK, Meaning: "mine"}.Describe())
	require.Empty(t, MeaningOf(77))
}
