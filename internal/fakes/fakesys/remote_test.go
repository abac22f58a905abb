package fakesys_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
	"github.com/nixdots/nixdots/internal/fakes/testflake"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/nixsys"
	"github.com/nixdots/nixdots/pkg/runner"
)

// machine is a host with the fakes on PATH, a test flake and a system root.
func machine(t *testing.T) (h *testharness.Host, flake, root string) {
	t.Helper()
	testharness.Require(t, "git", "nix")
	h = testharness.NewHost(t, "alpha").WithBinaries()
	root = filepath.Join(h.Root, "sysroot")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h.Setenv("NIX_CONFIG", testflake.NixConfig)
	h.Setenv(nixsys.RootEnv, root)
	flake = filepath.Join(h.Root, "cfg")
	if err := testflake.Write(flake, nil); err != nil {
		t.Fatal(err)
	}
	h.Run(flake, "git", "init", "--quiet")
	h.Run(flake, "git", "add", ".")
	return h, flake, root
}

// Deleting generations is real nix 2.8's (nix-env --delete-generations) on
// a profile the fakes made with the real nix: exactly the listed ones go,
// a number that does not exist is skipped silently, and a list holding the
// profile's current generation is refused whole ("cannot delete current
// version of profile", exit 1, nothing deleted). nixsys checks the result.
func TestDeleteGenerationsLikeNix(t *testing.T) {
	t.Parallel()
	h, flake, root := machine(t)
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		if err := os.WriteFile(filepath.Join(flake, "hosts", "alpha.conf"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.Run(flake, "nixos-rebuild", "switch", "--flake", flake+"#alpha")
	}
	sys := &nixsys.System{Root: root, Runner: &runner.Exec{Env: h.Env}}
	links := func() (out []int) {
		gens, _ := sys.Generations()
		for _, g := range gens {
			out = append(out, g.Number)
		}
		return out
	}
	ctx := context.Background()
	if _, err := sys.DeleteGenerations(ctx, []int{1, 4}); err == nil || !strings.Contains(err.Error(), "cannot delete current version of profile") {
		t.Fatalf("deleting the current generation: %v", err)
	}
	if got := links(); len(got) != 4 {
		t.Fatalf("nix deletes nothing when the current generation is listed: %v", got)
	}
	if _, err := sys.DeleteGenerations(ctx, []int{1, 3, 9}); err != nil {
		t.Fatal(err)
	}
	if got := links(); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Fatalf("after deleting 1, 3 (and the missing 9): %v", got)
	}
	if g, _ := sys.CurrentGeneration(); g.Number != 4 {
		t.Fatalf("the profile moved: %d", g.Number)
	}
}

// The fake ssh runs the command in the target's root with its exit code;
// a target whose configuration cut the network is unreachable; the fake
// systemd-run starts a unit detached that outlives the ssh call, and the
// fake systemctl sees it active and stops it.
func TestRemoteFakes(t *testing.T) {
	t.Parallel()
	h, _, root := machine(t)
	bin := testharness.Binaries(t)
	troot := fakesys.TargetRoot(root, "root@vm.test")
	res := h.Exec("", filepath.Join(bin, "fake-ssh"), "-o", "BatchMode=yes", "--", "root@vm.test", "echo", `"$NIXDOTS_SYSTEM_ROOT";`, "exit 3")
	if res.Code != 3 || strings.TrimSpace(res.Stdout) != troot {
		t.Fatalf("fake ssh: %s", res)
	}
	h.Run("", filepath.Join(bin, "fake-ssh"), "root@vm.test", "systemd-run --unit=probe --quiet -- sh -c 'sleep 300'")
	if out := h.Run("", filepath.Join(bin, "fake-ssh"), "root@vm.test", "systemctl is-active probe"); out != "active" {
		t.Fatalf("the unit outlives the ssh call: %q", out)
	}
	if res := h.Exec("", filepath.Join(bin, "fake-ssh"), "root@vm.test", "systemd-run --unit=probe -- true"); res.Code != 1 || !strings.Contains(res.Stderr, "already loaded") {
		t.Fatalf("a second unit of the same name: %s", res)
	}
	h.Run("", filepath.Join(bin, "fake-ssh"), "root@vm.test", "systemctl stop probe")
	deadline := time.Now().Add(30 * time.Second) // a loaded machine; the unit would sleep 300 s
	for fakesys.UnitActive(troot, "probe") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if fakesys.UnitActive(troot, "probe") {
		t.Fatal("systemctl stop did not stop the unit")
	}
	if err := os.WriteFile(filepath.Join(troot, "run", "fake-network-down"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := h.Exec("", filepath.Join(bin, "fake-ssh"), "root@vm.test", "touch /tmp/never"); res.Code != 255 || !strings.Contains(res.Stderr, "Connection timed out") {
		t.Fatalf("a cut network: %s", res)
	}
	// nix-collect-garbage without -d reports like nix; -d is refused.
	if out := h.Run("", "nix-collect-garbage"); out != "0 store paths deleted, 0.00 MiB freed" {
		t.Fatalf("nix-collect-garbage: %q", out)
	}
	if res := h.Exec("", "nix-collect-garbage", "-d"); res.Code == 0 {
		t.Fatal("nix-collect-garbage -d accepted")
	}
}
