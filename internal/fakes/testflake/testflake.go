// Package testflake writes the suite's test NixOS flake: hosts alpha and
// beta whose system toplevel is a trivial derivation built by the real nix
// (with /bin/sh, no nixpkgs) into the real /nix/store. The toplevel's
// content comes from hosts/<host>.conf and the revisions of the flake's
// inputs, so editing that file (or updating an input) makes a new system
// and leaving everything alone gives the same store path. Its
// bin/switch-to-configuration execs the fake-switch-to-configuration on
// PATH. Tests of rebuild-smart and rebuild-rollback share it.
//
// A line "pkg NAME VERSION" in hosts/<host>.conf puts a package NAME-VERSION
// into the system's closure (what closure diffs report), and Options.Slow
// makes evaluating a host's system (not listing the hosts) cost about that
// many units of work, for benchmarks of "evaluate once". A line "sleep N"
// makes building it take N seconds (interrupt tests), a line "fail-build"
// makes it fail, a line "fail-switch" makes its switch-to-configuration
// fail for every action, a line "fail-activate" only for switch and test
// (the activation script fails; installing the boot entry works).
package testflake

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NixConfig is the NIX_CONFIG tests give nix: flakes on, and no binary
// cache (nothing to download, no waiting for an unreachable substituter).
const NixConfig = "experimental-features = nix-command flakes\nsubstituters ="

// Hosts are the nixosConfigurations the flake defines.
var Hosts = []string{"alpha", "beta"}

const flakeNix = `{
  inputs = {INPUTS};
  outputs = inputs@{ self, ... }:
    let
      pkg = n: v: derivation {
        name = "${n}-${v}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo ${n} ${v} > $out" ];
      };
      pkgsOf = conf: map (l: let m = builtins.match "pkg ([^ ]+) ([^ ]+)" l; in pkg (builtins.elemAt m 0) (builtins.elemAt m 1))
        (builtins.filter (l: builtins.isString l && builtins.match "pkg [^ ]+ [^ ]+" l != null) (builtins.split "\n" conf));
      # Evaluation work that listing nixosConfigurations never forces.
      slow = builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x * x) {SLOW});
      mk = host: derivation {
        name = "nixos-system-${host}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        conf = builtins.readFile (./hosts + "/${host}.conf");
        packages = map toString (pkgsOf (builtins.readFile (./hosts + "/${host}.conf")));
        work = toString slow;
        # "fail-build" in the host's conf: a build that fails.
        broken = if builtins.elem "fail-build" (builtins.split "\n" (builtins.readFile (./hosts + "/${host}.conf"))) then "1" else "";
        # "fail-switch" in the host's conf: a system whose activation fails.
        failswitch = if builtins.elem "fail-switch" (builtins.split "\n" (builtins.readFile (./hosts + "/${host}.conf"))) then "1" else "";
        # "fail-activate": its activation script fails; boot still works.
        failactivate = if builtins.elem "fail-activate" (builtins.split "\n" (builtins.readFile (./hosts + "/${host}.conf"))) then "1" else "";
        # "sleep N" in the host's conf: a build that takes N seconds.
        pause = let ls = builtins.filter (l: builtins.isString l && builtins.match "sleep [0-9]+" l != null)
          (builtins.split "\n" (builtins.readFile (./hosts + "/${host}.conf")));
          in if ls == [ ] then "0" else builtins.substring 6 10 (builtins.head ls);
        revs = builtins.concatStringsSep "," (map (n: inputs.${n}.rev or "")
          (builtins.attrNames (builtins.removeAttrs inputs [ "self" ])));
        args = [ "-c" ''
          /bin/sleep $pause
          if [ -n "$broken" ]; then echo "error: hosts/${host}.conf asks for a failing build" >&2; exit 1; fi
          /bin/mkdir -p $out/bin
          echo "$conf" > $out/config
          echo "$packages" > $out/packages
          if [ -n "$failswitch" ]; then
            printf '#!/bin/sh\necho "error: activation script failed" >&2\nexit 1\n' > $out/bin/switch-to-configuration
          elif [ -n "$failactivate" ]; then
            printf '#!/bin/sh\nif [ "$1" = boot ]; then exec fake-switch-to-configuration --toplevel %s "$@"; fi\necho "error: activation script failed" >&2\nexit 1\n' "$out" > $out/bin/switch-to-configuration
          else
            printf '#!/bin/sh\nexec fake-switch-to-configuration --toplevel %s "$@"\n' "$out" > $out/bin/switch-to-configuration
          fi
          /bin/chmod +x $out/bin/switch-to-configuration
        '' ];
      };
    in {
      nixosConfigurations = builtins.listToAttrs (map (h: { name = h; value.config.system.build.toplevel = mk h; }) [ {HOSTS} ]);
    };
}
`

// Options shape the test flake.
type Options struct {
	// Slow is the evaluation work per host system (list length of a fold);
	// 0 is instant, about 3,000,000 costs a second with nix 2.8 here.
	Slow int
}

// FlakeNix returns flake.nix with inputs (name -> flake URL).
func FlakeNix(inputs map[string]string) string { return FlakeNixWith(inputs, Options{}) }

// FlakeNixWith is FlakeNix with options.
func FlakeNixWith(inputs map[string]string, o Options) string {
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var in []string
	for _, n := range names {
		in = append(in, fmt.Sprintf("%s.url = %q;", n, inputs[n]))
	}
	var hosts []string
	for _, h := range Hosts {
		hosts = append(hosts, fmt.Sprintf("%q", h))
	}
	s := strings.Replace(flakeNix, "{INPUTS}", "{ "+strings.Join(in, " ")+" }", 1)
	s = strings.Replace(s, "{SLOW}", fmt.Sprint(o.Slow), 1)
	return strings.Replace(s, "{HOSTS}", strings.Join(hosts, " "), 1)
}

// Write writes flake.nix and hosts/<host>.conf ("v1") into dir. It does not
// lock or commit: with inputs, run `nix flake lock` in dir afterwards.
func Write(dir string, inputs map[string]string) error { return WriteWith(dir, inputs, Options{}) }

// WriteWith is Write with options.
func WriteWith(dir string, inputs map[string]string, o Options) error {
	if err := os.MkdirAll(filepath.Join(dir, "hosts"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(FlakeNixWith(inputs, o)), 0o644); err != nil {
		return err
	}
	for _, h := range Hosts {
		if err := os.WriteFile(filepath.Join(dir, "hosts", h+".conf"), []byte("v1\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
