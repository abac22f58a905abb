package chezmoisync_test

import (
	"bytes"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/cli"
	"github.com/nixdots/nixdots/pkg/syncstate"
	"github.com/stretchr/testify/require"
)

// The same pipeline called in-process through Main, so that `go test -race`
// sees the run's goroutines (the opening queries run side by side); the
// other tests drive the built binary, which the race detector cannot see.
func TestInProcessSyncUnderRace(t *testing.T) {
	t.Parallel()
	testharness.RequireSync(t)
	remote := testharness.NewRemote(t, testharness.DefaultDotfiles())
	a, b := newHost(t, remote, "alpha"), newHost(t, remote, "beta")
	mustSync(t, b)

	run := func(h *testharness.Host, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := chezmoisync.Main(append([]string{"--hostname", h.Name}, args...),
			cli.Env{Stdout: &out, Stderr: &errb, Environ: h.Env})
		return code, out.String() + errb.String()
	}
	editLine(t, a, ".bashrc", 2, "alias ll='ls -l --inproc'")
	code, out := run(a)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "chezmoi-sync: success")
	code, out = run(a, "--source-dir", a.SourceDir()) // the guessed directory is the configured one
	require.Equal(t, 0, code, out)
	code, out = run(b, "--dry-run")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "[plan] rebase")
	code, out = run(b)
	require.Equal(t, 0, code, out)
	require.Equal(t, syncstate.Success, record(t, b).Status)
	require.Contains(t, b.ReadHome(".bashrc"), "--inproc")
}
