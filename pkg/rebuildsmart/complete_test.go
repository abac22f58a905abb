package rebuildsmart_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// --host completes the flake's nixosConfigurations, evaluated by the real
// nix from the flake --flake names (typed before it), never writing
// flake.lock.
func TestHostCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	before := e.h.Run(e.repo, "git", "status", "--porcelain", "--ignored")
	r := e.h.Exec("", "rebuild-smart", "__complete", "host", "--flake", e.repo, "--host")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "alpha\tnixosConfigurations.alpha\nbeta\tnixosConfigurations.beta\n", r.Stdout)
	require.Equal(t, before, e.h.Run(e.repo, "git", "status", "--porcelain", "--ignored"))
	// Not a flake: an error for the shell to drop, no candidates.
	r = e.h.Exec("", "rebuild-smart", "__complete", "host", "--flake", e.h.Root)
	require.NotEqual(t, 0, r.Code)
	require.Empty(t, r.Stdout)
}
