package chezmoisync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// A program writes a dotfile while the sync captures it (an application
// saving its settings): chezmoi re-add took the old content, the home
// file already holds more. The record must not call the file captured: it
// is waiting (not-captured) until the next run captures the rest. A real
// chezmoi runs behind a wrapper that appends to the file right after
// re-add, the moment the race needs. (Mutant sync/capture-not-verified:
// without verifyCapture the record said "captured".)
func TestEditDuringCaptureIsNotCountedAsCaptured(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a := newHost(t, remote, "alpha")
	mustSync(t, a)

	real, err := testharness.Look("chezmoi")
	require.NoError(t, err)
	target := filepath.Join(a.Home, ".bashrc")
	wrappers := filepath.Join(a.Root, "race-wrappers")
	require.NoError(t, os.MkdirAll(wrappers, 0o755))
	script := fmt.Sprintf(`#!/bin/sh
# test-only: the file is written again right after chezmoi re-add took it
%q "$@"
rc=$?
for a in "$@"; do
	[ "$a" = re-add ] && printf 'alias during=sync\n' >> %q
done
exit $rc
`, real, target)
	require.NoError(t, os.WriteFile(filepath.Join(wrappers, "chezmoi"), []byte(script), 0o755))
	path := a.Getenv("PATH")
	a.Setenv("PATH", wrappers+":"+path)

	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --before'")
	mustSync(t, a)
	rec := record(t, a)
	require.False(t, slices.Contains(rec.Captured, target), "captured although the home file changed after re-add: %v", rec.Captured)
	require.Equal(t, "not-captured", waitingKinds(t, a)[target])
	require.Equal(t, syncstate.EditsWaiting, rec.Status)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "--before", "what re-add took is published")

	// The next run (no program writing any more) captures the rest.
	a.Setenv("PATH", path)
	mustSync(t, a)
	rec = record(t, a)
	require.Equal(t, syncstate.Success, rec.Status)
	require.Contains(t, rec.Captured, target)
	require.Contains(t, testharness.RemoteFile(t, remote, "main", "dot_bashrc"), "alias during=sync")
}
