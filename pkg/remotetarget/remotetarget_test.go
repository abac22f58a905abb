package remotetarget

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/exitcode"
	"github.com/nixdots/nixdots/pkg/runner"
)

func cmd(name string, args ...string) runner.Cmd {
	return runner.Cmd{Name: name, Args: args, Dir: "/src/nix-config", Mutates: true}
}

func TestApply(t *testing.T) {
	t.Parallel()
	nhSwitch := cmd("nh", "os", "switch", "/src/nix-config", "-H", "vm")
	nrSwitch := cmd("nixos-rebuild", "switch", "--flake", "/src/nix-config#vm")
	sudoNR := func(mode string) runner.Cmd {
		return cmd("sudo", "nixos-rebuild", mode, "--flake", "/src/nix-config#vm")
	}
	for _, tc := range []struct {
		name string
		in   runner.Cmd
		t    Target
		o    Options
		want runner.Cmd
	}{
		{"local nh unchanged", nhSwitch, Target{}, Options{}, nhSwitch},
		{"local sudo nixos-rebuild unchanged", sudoNR("switch"), Target{}, Options{}, sudoNR("switch")},
		{"nh target", nhSwitch, Target{TargetHost: "alice@vm"}, Options{},
			cmd("nh", "os", "switch", "/src/nix-config", "-H", "vm", "--target-host", "alice@vm")},
		{"nh target and build host", nhSwitch, Target{TargetHost: "root@vm", BuildHost: "builder"}, Options{},
			cmd("nh", "os", "switch", "/src/nix-config", "-H", "vm", "--target-host", "root@vm", "--build-host", "builder")},
		{"nh build host only", nhSwitch, Target{BuildHost: "builder"}, Options{},
			cmd("nh", "os", "switch", "/src/nix-config", "-H", "vm", "--build-host", "builder")},
		{"nh build mode has no target", cmd("nh", "os", "build", "/f", "-H", "vm"), Target{TargetHost: "vm", BuildHost: "b"}, Options{},
			cmd("nh", "os", "build", "/f", "-H", "vm", "--build-host", "b")},
		{"nixos-rebuild drops local sudo, adds remote sudo", sudoNR("switch"), Target{TargetHost: "alice@vm"}, Options{},
			cmd("nixos-rebuild", "switch", "--flake", "/src/nix-config#vm", "--target-host", "alice@vm", "--use-remote-sudo")},
		{"nixos-rebuild-ng sudo flag", sudoNR("boot"), Target{TargetHost: "alice@vm", BuildHost: "alice@builder"}, Options{SudoFlag: SudoNG},
			cmd("nixos-rebuild", "boot", "--flake", "/src/nix-config#vm", "--target-host", "alice@vm", "--build-host", "alice@builder", "--sudo")},
		{"root target needs no sudo", nrSwitch, Target{TargetHost: "root@10.0.0.5"}, Options{},
			cmd("nixos-rebuild", "switch", "--flake", "/src/nix-config#vm", "--target-host", "root@10.0.0.5")},
		{"no user means ssh default user, sudo", nrSwitch, Target{TargetHost: "vm"}, Options{},
			cmd("nixos-rebuild", "switch", "--flake", "/src/nix-config#vm", "--target-host", "vm", "--use-remote-sudo")},
		{"test mode activates", sudoNR("test"), Target{TargetHost: "vm"}, Options{},
			cmd("nixos-rebuild", "test", "--flake", "/src/nix-config#vm", "--target-host", "vm", "--use-remote-sudo")},
		{"build mode: build host only, no sudo", cmd("nixos-rebuild", "build", "--flake", "/f#vm"), Target{TargetHost: "vm", BuildHost: "b"}, Options{},
			cmd("nixos-rebuild", "build", "--flake", "/f#vm", "--build-host", "b")},
		{"local target, remote builder keeps local sudo", sudoNR("switch"), Target{BuildHost: "b"}, Options{},
			cmd("sudo", "nixos-rebuild", "switch", "--flake", "/src/nix-config#vm", "--build-host", "b")},
		{"unknown command untouched", cmd("switch-to-configuration", "switch"), Target{TargetHost: "vm"}, Options{},
			cmd("switch-to-configuration", "switch")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			inArgs := append([]string(nil), in.Args...)
			got := Apply(in, tc.t, tc.o)
			if got.Name != tc.want.Name || !reflect.DeepEqual(got.Args, tc.want.Args) || got.Dir != tc.want.Dir || !got.Mutates {
				t.Fatalf("Apply:\n got %s\nwant %s", got, tc.want)
			}
			if !reflect.DeepEqual(in.Args, inArgs) {
				t.Fatalf("Apply modified its input: %v", in.Args)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"vm", "root@vm", "alice@vm.example.org", "alice@10.0.0.5", "root@[fe80::1]", "a_b@host-1", "griefling"} {
		if err := (Target{TargetHost: h, BuildHost: h}).Validate(); err != nil {
			t.Errorf("%q rejected: %v", h, err)
		}
	}
	for _, h := range []string{"-oProxyCommand=x", "alice@", "@vm", "vm; rm -rf /", "a b", "vm:22", "user@-vm", "$(id)", "a@b@c"} {
		err := (Target{TargetHost: h}).Validate()
		if err == nil || exitcode.FromError(err) != exitcode.Usage || !strings.Contains(err.Error(), "--target-host") {
			t.Errorf("%q: err = %v, want a usage error naming --target-host", h, err)
		}
		err = (Target{BuildHost: h}).Validate()
		if err == nil || !strings.Contains(err.Error(), "--build-host") {
			t.Errorf("%q as build host: err = %v", h, err)
		}
	}
	if err := (Target{}).Validate(); err != nil {
		t.Errorf("empty target: %v", err)
	}
}

func TestUserAndString(t *testing.T) {
	t.Parallel()
	if User("alice@vm") != "alice" || User("vm") != "" || User("root@[::1]") != "root" {
		t.Fatal("User")
	}
	if (Target{}).String() != "this machine" || (Target{TargetHost: "root@vm"}).String() != "root@vm" {
		t.Fatal("String")
	}
}

func TestSudoFlagFor(t *testing.T) {
	t.Parallel()
	for help, want := range map[string]string{
		"usage: nixos-rebuild [--sudo] [--ask-sudo-password] {switch,boot}":                         SudoNG,
		"  --sudo, --use-remote-sudo   Prefix activation commands with sudo":                        SudoNG,
		"  --use-remote-sudo\n      When set, nixos-rebuild prefixes activation commands with sudo": SudoLegacy,
		"":                SudoLegacy,
		"--sudo-password": SudoLegacy,
	} {
		if got := SudoFlagFor(help); got != want {
			t.Errorf("SudoFlagFor(%q) = %s, want %s", help, got, want)
		}
	}
}

func TestCurrentSystemCmd(t *testing.T) {
	t.Parallel()
	c := CurrentSystemCmd(Target{TargetHost: "root@vm"})
	if c.Name != "ssh" || c.Mutates || !slices.Contains(c.Args, "BatchMode=yes") {
		t.Fatalf("got %s (mutates %v)", c, c.Mutates)
	}
	// Run on "the target" (a root with run/current-system), as ssh would.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(root, "run", "current-system")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", c.Args[len(c.Args)-1])
	cmd.Env = append(os.Environ(), "NIXDOTS_SYSTEM_ROOT="+root)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != root {
		t.Fatalf("readlink on the target: %q %v", out, err)
	}
}

func TestPhasePlan(t *testing.T) {
	t.Parallel()
	all := []string{PhasePrepare, PhaseUpstream, PhaseDotfiles, PhaseSecrets, PhaseUpdate, PhaseRebuild, PhasePostChecks, PhaseCommit}
	for _, p := range all {
		if run, note := PhasePlan(p, Target{}); !run || note != "" {
			t.Errorf("local %s: run=%v note=%q", p, run, note)
		}
	}
	remote := Target{TargetHost: "root@vm", BuildHost: "builder"}
	skipped := map[string]bool{PhaseDotfiles: true, PhasePostChecks: true}
	for _, p := range all {
		run, note := PhasePlan(p, remote)
		if run == skipped[p] {
			t.Errorf("remote %s: run=%v", p, run)
		}
		if skipped[p] && (!strings.Contains(note, "root@vm") || !strings.Contains(note, "skipped")) {
			t.Errorf("remote %s: note %q must say it is skipped and name the target", p, note)
		}
	}
	if _, note := PhasePlan(PhaseRebuild, remote); note != "activating on root@vm, building on builder" {
		t.Errorf("rebuild note = %q", note)
	}
}
