{
  description = "nixdots: multi-host chezmoi dotfile sync through jj, one-command NixOS rebuilds, rollback to any good build";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = self.shortRev or self.dirtyShortRev or "dev";
      binaries = [
        "chezmoi-sync"
        "chezmoi-status"
        "chezmoi-show-conflicts"
        "rebuild-smart"
        "rebuild-rollback"
      ];
    in
    {
      packages = forAllSystems (pkgs: rec {
        nixdots = pkgs.callPackage ./nix/package.nix { inherit version; };
        default = nixdots;
      });

      # nix run .#chezmoi-sync -- --help; the default app is rebuild-smart.
      apps = forAllSystems (
        pkgs:
        let
          app = b: {
            type = "app";
            program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/${b}";
          };
        in
        nixpkgs.lib.genAttrs binaries app // { default = app "rebuild-smart"; }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            go
            git
            jujutsu
            chezmoi
            nix
            just
          ];
        };
      });

      # imports = [ nixdots.nixosModules.default ]; then set
      # myModules.services.dotfiles.chezmoiSync.* and myModules.services.rebuild.smart.*.
      nixosModules.default =
        { pkgs, lib, ... }:
        {
          imports = [ ./nix/module.nix ];
          myModules.services.nixdots.package =
            lib.mkDefault
              self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      overlays.default = final: _prev: {
        nixdots = final.callPackage ./nix/package.nix { inherit version; };
      };

      # Cheap checks: the package builds (with its completions and man pages),
      # and a system using the module evaluates to the expected config file.
      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        module =
          let
            system = nixpkgs.lib.nixosSystem {
              modules = [
                self.nixosModules.default
                {
                  nixpkgs.hostPlatform = pkgs.stdenv.hostPlatform.system;
                  boot.loader.grub.enable = false;
                  fileSystems."/".device = "none";
                  users.users.alice.isNormalUser = true;
                  system.stateVersion = "25.11";
                  myModules.services.dotfiles.chezmoiSync = {
                    enable = true;
                    user = "alice";
                    repoUrl = "git@example.com:alice/dotfiles.git";
                  };
                  myModules.services.rebuild.smart.enable = true;
                }
              ];
            };
          in
          pkgs.writeText "nixdots-config.json" system.config.environment.etc."nixdots/config.json".text;
      });
    };
}
