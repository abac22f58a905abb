package fakesys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
	"github.com/nixdots/nixdots/internal/fakes/testflake"
	"github.com/nixdots/nixdots/internal/testharness"
	"github.com/nixdots/nixdots/pkg/nixsys"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// The fakes behave like the real tools on a test root: generations,
// current-system, rollbacks, exit 4, failed units, and they refuse to touch
// a real machine.
func TestFakesLikeTheRealTools(t *testing.T) {
	testharness.Require(t, "git", "nix")
	h := testharness.NewHost(t, "alpha").WithBinaries()
	root := filepath.Join(h.Root, "sysroot")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h.Setenv("NIX_CONFIG", testflake.NixConfig)
	flake := filepath.Join(h.Root, "cfg")
	if err := testflake.Write(flake, nil); err != nil {
		t.Fatal(err)
	}
	h.Run(flake, "git", "init", "--quiet")
	h.Run(flake, "git", "add", ".")

	// Without a test root every fake refuses (exit 2).
	for _, tool := range []string{"nh", "nixos-rebuild", "systemctl", "sudo", "fake-switch-to-configuration"} {
		if res := h.Exec(flake, tool, "os", "switch"); res.Code != 2 || !strings.Contains(res.Stderr, "NIXDOTS_SYSTEM_ROOT") {
			t.Errorf("%s ran without a test root: %s", tool, res)
		}
	}
	h.Setenv(nixsys.RootEnv, root)
	sys := &nixsys.System{Root: root}
	gen := func() int { g, _ := sys.CurrentGeneration(); return g.Number }
	cur := func() string { c, _ := sys.CurrentSystem(); return c }

	// Like nh: root is refused unless the root check is bypassed.
	if res := h.Exec(flake, "nh", "os", "switch", flake, "-H", "alpha"); os.Geteuid() == 0 && (res.Code != 1 || !strings.Contains(res.Stderr, "Don't run nh os as root")) {
		t.Fatalf("nh as root without -R: %s", res)
	}
	h.Run(flake, "nh", "os", "switch", flake, "-H", "alpha", "-R")
	g1, err := sys.Generation(1)
	if err != nil || gen() != 1 || cur() != g1.Toplevel || !strings.HasSuffix(g1.Toplevel, "-nixos-system-alpha") {
		t.Fatalf("nh os switch: gen %d current %q (%v)", gen(), cur(), err)
	}
	if cfg, _ := os.ReadFile(filepath.Join(cur(), "config")); strings.TrimSpace(string(cfg)) != "v1" {
		t.Fatalf("toplevel content %q", cfg)
	}
	if err := os.WriteFile(filepath.Join(flake, "hosts", "alpha.conf"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Setenv("NIXDOTS_HOSTNAME", "alpha")
	h.Run(flake, "nh", "os", "switch", flake, "--bypass-root-check") // host from the host name
	if gen() != 2 || cur() == g1.Toplevel {
		t.Fatalf("second switch: gen %d", gen())
	}
	// nh os rollback refuses root too unless -R (nh's OsRollbackArgs).
	if res := h.Exec(flake, "nh", "os", "rollback", "--to", "1"); os.Geteuid() == 0 && (res.Code != 1 || !strings.Contains(res.Stderr, "Don't run nh os as root") || gen() != 2) {
		t.Fatalf("nh os rollback as root without -R: %s", res)
	}
	h.Run(flake, "nh", "os", "rollback", "--to", "1", "-R")
	if gen() != 1 || cur() != g1.Toplevel {
		t.Fatalf("nh os rollback --to 1: gen %d current %s", gen(), cur())
	}
	// --ask needs a terminal, as nh's prompt does; without one it fails and
	// changes nothing.
	if res := h.ExecInput(flake, []byte("y\n"), "nh", "os", "switch", flake, "-R", "--ask"); res.Code != 1 || !strings.Contains(res.Stderr, "The input device is not a TTY") || gen() != 1 {
		t.Fatalf("nh --ask without a terminal: %s", res)
	}
	// A store path is activated as it is (nh 4's store-path installable).
	h.Run(flake, "nh", "os", "test", "-R", g1.Toplevel)
	if cur() != g1.Toplevel {
		t.Fatalf("nh os test <store path>: current %s", cur())
	}
	// Like real nix-env, the same system as the last generation reuses it.
	h.Run(flake, "nixos-rebuild", "switch", "--flake", flake+"#alpha")
	if gen() != 2 {
		t.Fatalf("nixos-rebuild switch: gen %d", gen())
	}
	h.Run(flake, "nixos-rebuild", "switch", "--rollback")
	if gen() != 1 || cur() != g1.Toplevel {
		t.Fatalf("nixos-rebuild --rollback: gen %d", gen())
	}
	h.Run(flake, "nixos-rebuild", "boot", "--flake", flake+"#alpha")
	if gen() != 2 || cur() != g1.Toplevel {
		t.Fatalf("nixos-rebuild boot must not activate: gen %d current %s", gen(), cur())
	}
	// A reboot boots the boot default: booted and running system are gen 2.
	if err := fakesys.Reboot(root); err != nil {
		t.Fatal(err)
	}
	if booted, _ := sys.BootedSystem(); booted != cur() || cur() == g1.Toplevel {
		t.Fatalf("after the reboot: booted %s, running %s", booted, cur())
	}
	h.Run(h.Home, "nixos-rebuild", "build", "--flake", flake+"#beta")
	if l, _ := os.Readlink(filepath.Join(h.Home, "result")); !strings.HasSuffix(l, "-nixos-system-beta") {
		t.Fatalf("build result %q", l)
	}
	if res := h.Exec(flake, "nh", "os", "switch", flake, "-R", "-u"); res.Code == 0 {
		t.Fatal("nh -u accepted: rebuild-smart must never need it")
	}

	// Units failing: exit 4 through nixos-rebuild (and sudo), reported by systemctl.
	h.Setenv("FAKE_UNITS_FAILED", "foo.service")
	res := h.Exec(flake, "sudo", "nixos-rebuild", "test", "--flake", flake+"#beta")
	if res.Code != 4 {
		t.Fatalf("units failed: want exit 4, got %s", res)
	}
	if out := h.Run("", "systemctl", "--failed", "--no-legend", "--plain"); out != "foo.service loaded failed failed foo" {
		t.Fatalf("systemctl --failed: %q", out)
	}
	if res := h.Exec("", "systemctl", "is-system-running"); res.Code != 1 || strings.TrimSpace(res.Stdout) != "degraded" {
		t.Fatalf("is-system-running: %s", res)
	}
	if res := h.Exec(flake, "nh", "os", "test", flake, "-H", "beta", "-R"); res.Code != 1 {
		t.Fatalf("nh reports activation errors as exit 1: %s", res)
	}
	h.Setenv("FAKE_UNITS_FAILED", "")
	h.Run(flake, "nh", "os", "test", flake, "-H", "beta", "-R")
	if out := h.Run("", "systemctl", "--failed", "--no-legend"); out != "" {
		t.Fatalf("failed units not cleared: %q", out)
	}
	h.Setenv("FAKE_NH_FAIL", "build")
	if res := h.Exec(flake, "nh", "os", "switch", flake, "-H", "beta", "-R"); res.Code != 1 || gen() != 2 {
		t.Fatalf("FAKE_NH_FAIL=build: %s (gen %d)", res, gen())
	}

	// Every call was recorded, with argv.
	log, err := os.ReadFile(filepath.Join(root, "fake-calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"tool":"nh","argv":["os","rollback","--to","1","-R"]`, `"tool":"sudo","argv":["nixos-rebuild","test"`, `"tool":"switch-to-configuration","argv":["--toplevel"`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("call log lacks %s", want)
		}
	}
}
