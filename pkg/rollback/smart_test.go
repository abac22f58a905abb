package rollback_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/history"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/stretchr/testify/require"
)

// smartFlake is a flake whose alpha toplevel is a trivial derivation built
// by the real nix from hosts/alpha.conf; its switch-to-configuration hands
// over to the fake.
const smartFlake = `{
  outputs = { self, ... }: {
    nixosConfigurations.alpha.config.system.build.toplevel = derivation {
      name = "nixos-system-alpha";
      system = "x86_64-linux";
      builder = "/bin/sh";
      conf = builtins.readFile ./hosts/alpha.conf;
      args = [ "-c" ''
        /bin/mkdir -p $out/bin
        echo "$conf" > $out/config
        printf '#!/bin/sh\nexec fake-switch-to-configuration --toplevel %s "$@"\n' "$out" > $out/bin/switch-to-configuration
        /bin/chmod +x $out/bin/switch-to-configuration
      '' ];
    };
  };
}
`

// The whole loop with the real rebuild-smart (and the fake nh it drives):
// two builds, a rollback with uncommitted work, a rebuild of the rolled-back
// state ("nothing to switch": system and repository agree), a new build,
// and a rollback from it.
func TestRollbackWithRebuildSmart(t *testing.T) {
	t.Parallel()
	testharness.Require(t, "git", "nix")
	h := testharness.NewHost(t, "alpha").WithBinaries()
	root := filepath.Join(h.Root, "sysroot")
	require.NoError(t, os.MkdirAll(root, 0o755))
	h.Setenv(nixsys.RootEnv, root)
	h.Setenv("NIX_CONFIG", "experimental-features = nix-command flakes\nsubstituters =")
	remote := filepath.Join(h.Root, "remote.git")
	h.Run("", "git", "init", "-q", "--bare", "-b", "main", remote)
	repo := filepath.Join(h.Root, "nix-config")
	h.Run("", "git", "clone", "-q", remote, repo)
	write := func(rel, content string) {
		p := filepath.Join(repo, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("flake.nix", smartFlake)
	write("hosts/alpha.conf", "v1\n")
	h.Run(repo, "git", "add", ".")
	h.Run(repo, "git", "commit", "-q", "-m", "v1")
	h.Run(repo, "git", "push", "-q", "origin", "HEAD:main")
	sys := &nixsys.System{Root: root}
	rs := func(args ...string) {
		t.Helper()
		r := h.Exec(repo, "rebuild-smart", append([]string{"--skip-dotfiles", "--no-auto-push"}, args...)...)
		require.Equal(t, 0, r.Code, "rebuild-smart %v: %s", args, r)
	}
	running := func() string {
		cur, err := sys.CurrentSystem()
		require.NoError(t, err)
		return cur
	}
	gen := func(n int) nixsys.Generation {
		g, err := sys.Generation(n)
		require.NoError(t, err)
		return g
	}

	rs()
	c1 := h.Run(repo, "git", "rev-parse", "HEAD")
	write("hosts/alpha.conf", "v2\n")
	h.Run(repo, "git", "commit", "-q", "-am", "v2")
	rs()
	c2 := h.Run(repo, "git", "rev-parse", "HEAD")
	require.Equal(t, gen(2).Toplevel, running())

	// Work in progress, then back to generation 1.
	write("hosts/wip.nix", "{ half done }\n")
	write("hosts/alpha.conf", "v2 plus an uncommitted tweak\n")
	before := map[string]string{"hosts/wip.nix": "{ half done }\n", "hosts/alpha.conf": "v2 plus an uncommitted tweak\n"}
	r := h.Exec(repo, "rebuild-rollback")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, gen(1).Toplevel, running())
	require.Equal(t, c1, h.Run(repo, "git", "rev-parse", "HEAD"))
	m := regexp.MustCompile(`your uncommitted work is in branch (rollback/\S+);`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, r.Stdout)
	branch := m[1]
	for p, want := range before {
		require.Equal(t, want, h.Run(repo, "git", "show", branch+":"+p)+"\n", p)
	}

	// Rebuilding the rolled-back checkout gives the running system back.
	r = h.Exec(repo, "rebuild-smart", "--skip-dotfiles", "--no-auto-push", "--skip-upstream")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout+r.Stderr, "nothing to switch")

	// A new build on top of the rollback is generation 3, current.
	write("hosts/alpha.conf", "v3\n")
	rs("--skip-upstream")
	require.Equal(t, gen(3).Toplevel, running())
	hist, err := history.Load(h.StateDir())
	require.NoError(t, err)
	var outcomes []string
	for _, e := range hist {
		outcomes = append(outcomes, e.Source+":"+e.Outcome)
	}
	require.Equal(t, []string{"rebuild-smart:success", "rebuild-smart:success", "rebuild-rollback:rolled-back", "rebuild-smart:success"}, outcomes)
	list := h.Run(repo, "rebuild-rollback", "--list")
	require.Regexp(t, `(?m)^\* 3 .*current$`, list)

	// And back from it: the previous build (generation 2, commit c2); the
	// uncommitted v3 edit it was built from is saved.
	r = h.Exec(repo, "rebuild-rollback")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, gen(2).Toplevel, running())
	require.Equal(t, c2, h.Run(repo, "git", "rev-parse", "HEAD"))
	h.Run(repo, "sh", "-c", restoreCmd(t, r.Stdout))
	data, err := os.ReadFile(filepath.Join(repo, "hosts/alpha.conf"))
	require.NoError(t, err)
	require.Equal(t, "v3\n", string(data))
}
