package rebuildsmart_test

import (
	"path/filepath"
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

// A TAB in a directory holding someone's flake never builds: the host list
// is evaluated with import-from-derivation off, so a flake whose
// nixosConfigurations need a build fails to complete instead of running
// that build.
func TestHostCompletionNeverBuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	dir := filepath.Join(e.h.Root, "ifd")
	// The derivation names the test's directory: a store path of its own.
	write(t, filepath.Join(dir, "d.nix"), `derivation { name = "ifd-hosts"; system = "x86_64-linux"; builder = "/bin/sh";
  args = [ "-c" "echo '{ ifd = 1; }' > $out # `+dir+`" ]; }
`)
	write(t, filepath.Join(dir, "flake.nix"), "{ outputs = _: { nixosConfigurations = import (import ./d.nix); }; }\n")
	e.h.Run(dir, "git", "init", "--quiet")
	e.h.Run(dir, "git", "add", ".")
	out := e.h.Run(dir, "nix", "eval", "--raw", "-f", filepath.Join(dir, "d.nix"), "outPath")
	built := func() bool { return e.h.Exec(dir, "nix", "path-info", out).Code == 0 }
	require.False(t, built())

	r := e.h.Exec(dir, "rebuild-smart", "__complete", "host")
	require.NotEqual(t, 0, r.Code, r.String())
	require.Empty(t, r.Stdout)
	require.False(t, built(), "a completion built %s", out)
	require.NoFileExists(t, filepath.Join(dir, "flake.lock"), "a completion wrote flake.lock")
	// The same evaluation without the guard builds it (so the test can fail).
	e.h.Run(dir, "nix", "eval", "--no-write-lock-file", "--json", dir+"#nixosConfigurations", "--apply", "builtins.attrNames")
	require.True(t, built())
}
