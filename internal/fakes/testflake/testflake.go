// Package testflake writes the suite's test NixOS flake: hosts alpha and
// beta whose system toplevel is a trivial derivation built by the real nix
// (with /bin/sh, no nixpkgs) into the real /nix/store. The toplevel's
// content comes from hosts/<host>.conf and the revisions of the flake's
// inputs, so editing that file (or updating an input) makes a new system
// and leaving everything alone gives the same store path. Its
// bin/switch-to-configuration execs the fake-switch-to-configuration on
// PATH. Tests of rebuild-smart and rebuild-rollback share it.
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
      mk = host: derivation {
        name = "nixos-system-${host}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        conf = builtins.readFile (./hosts + "/${host}.conf");
        revs = builtins.concatStringsSep "," (map (n: inputs.${n}.rev or "")
          (builtins.attrNames (builtins.removeAttrs inputs [ "self" ])));
        args = [ "-c" ''
          /bin/mkdir -p $out/bin
          echo "$conf" > $out/config
          printf '#!/bin/sh\nexec fake-switch-to-configuration --toplevel %s "$@"\n' "$out" > $out/bin/switch-to-configuration
          /bin/chmod +x $out/bin/switch-to-configuration
        '' ];
      };
    in {
      nixosConfigurations = builtins.listToAttrs (map (h: { name = h; value.config.system.build.toplevel = mk h; }) [ {HOSTS} ]);
    };
}
`

// FlakeNix returns flake.nix with inputs (name -> flake URL).
func FlakeNix(inputs map[string]string) string {
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
	return strings.Replace(s, "{HOSTS}", strings.Join(hosts, " "), 1)
}

// Write writes flake.nix and hosts/<host>.conf ("v1") into dir. It does not
// lock or commit: with inputs, run `nix flake lock` in dir afterwards.
func Write(dir string, inputs map[string]string) error {
	if err := os.MkdirAll(filepath.Join(dir, "hosts"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(FlakeNix(inputs)), 0o644); err != nil {
		return err
	}
	for _, h := range Hosts {
		if err := os.WriteFile(filepath.Join(dir, "hosts", h+".conf"), []byte("v1\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
