# NixOS module of the nixdots suite: chezmoi-sync, chezmoi-status,
# chezmoi-show-conflicts, rebuild-smart and rebuild-rollback.
#
# Options live at the paths of the seed plans, so the module drops into an
# existing configuration:
#   myModules.services.dotfiles.chezmoiSync.*   dotfile sync (service, timer, pre-update)
#   myModules.services.rebuild.smart.*          one-command rebuilds and their history
#   myModules.services.nixdots.package          the package (default: ./package.nix)
#
# What it does:
# - installs the binaries, wrapped so that every run on this host (the timer,
#   the pre-switch check, the user in a shell) shares one state directory,
#   /var/lib/nixdots, and therefore one lock and one history;
# - writes /etc/nixdots/config.json from the options; the binaries read it as
#   their fallback config file (flag > env > ~/.config/nixdots/config.json >
#   /etc/nixdots/config.json > default). Its keys are exactly config.Keys in
#   pkg/config/config.go: config-keys.json is generated from that list, and
#   every key without a hand-written option below gets a generated one (null by
#   default: not written, the binary's default applies);
# - defines chezmoi-sync.service + chezmoi-sync.timer (as the user, with
#   StateDirectory=nixdots), chezmoi-sync-manual.service, chezmoi-pre-update.service
#   (ordered before nixos-upgrade.service when system.autoUpgrade is on) and a
#   system.preSwitchChecks entry (hooks/pre-switch-check) that records every
#   activation for rebuild-rollback and can sync the dotfiles before a switch.
{
  config,
  lib,
  pkgs,
  options,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkMerge
    types
    ;

  sync = config.myModules.services.dotfiles.chezmoiSync;
  smart = config.myModules.services.rebuild.smart;
  pkg = config.myModules.services.nixdots.package;

  stateDir = "/var/lib/nixdots";
  binaries = [
    "chezmoi-sync"
    "chezmoi-status"
    "chezmoi-show-conflicts"
    "rebuild-smart"
    "rebuild-rollback"
  ];
  # Tools the binaries run. Appended to PATH, so a user's own versions win.
  runtimeTools = [
    pkgs.git
    pkgs.jujutsu
    pkgs.chezmoi
    pkgs.openssh
  ];

  # STATE_DIRECTORY is what systemd's StateDirectory= sets and what the
  # binaries honour; --set-default keeps a unit's own value.
  wrapped = pkgs.symlinkJoin {
    name = "nixdots-wrapped-${pkg.version or "dev"}";
    paths = [ pkg ];
    nativeBuildInputs = [ pkgs.makeWrapper ];
    postBuild = lib.concatMapStrings (b: ''
      if [ -e "$out/bin/${b}" ]; then
        wrapProgram "$out/bin/${b}" \
          --set-default STATE_DIRECTORY ${stateDir} \
          --suffix PATH : ${lib.makeBinPath runtimeTools}
      fi
    '') binaries;
  };

  # The config file: keys from config.Keys (generated JSON), values from the options.
  keys = builtins.fromJSON (builtins.readFile ./config-keys.json);
  section = name: cfg: import ./config-json.nix {
    keys = keys.${name};
    inherit cfg;
  };
  configFile = lib.filterAttrs (_: v: v != { }) {
    chezmoiSync = lib.optionalAttrs sync.enable (section "chezmoiSync" sync);
    rebuildSmart = lib.optionalAttrs smart.enable (section "rebuildSmart" smart);
  };

  # One option per config key that has no hand-written option.
  keyType =
    t:
    {
      bool = types.bool;
      string = types.str;
      duration = types.str;
      int = types.int;
      list = types.listOf types.anything;
      object = types.attrsOf types.anything;
    }
    .${t} or types.anything;
  generatedOptions =
    sectionName: handWritten:
    builtins.foldl' (
      acc: k:
      if builtins.hasAttr k.name handWritten then
        acc
      else
        lib.recursiveUpdate acc (
          lib.setAttrByPath (lib.splitString "." k.name) (mkOption {
            type = types.nullOr (keyType k.type);
            default = null;
            description = "${k.help} (config key `${sectionName}.${k.name}`, type ${k.type}; null: the binary's default).";
          })
        )
    ) { } keys.${sectionName};

  # Owner of the state directory: the dotfiles user, else rebuild-smart's.
  owner = if sync.enable && sync.user != null then sync.user else smart.user;

  userHome = user: (config.users.users.${user} or { }).home or "/home/${user}";

  # options: chezmoiSync begin
  syncOptions = {
    enable = mkEnableOption "automatic chezmoi dotfile synchronisation through jj (chezmoi-sync)";
    repoUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "git@github.com:user/dotfiles.git";
      description = "Clone URL of the dotfiles repository, used when the chezmoi source directory is missing.";
    };
    syncBeforeUpdate = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Sync the dotfiles before the system changes: chezmoi-pre-update.service runs before
        nixos-upgrade.service (when system.autoUpgrade is on), and the pre-switch check runs
        chezmoi-sync as {option}`user` before every switch (time-limited; a network failure
        never blocks the switch; skipped when rebuild-smart switches, it has just synced).
      '';
    };
    autoCommit = mkOption {
      type = types.bool;
      default = true;
      description = "Commit captured edits as `chore(<host>): sync dotfiles - <time>`.";
    };
    autoPush = mkOption {
      type = types.bool;
      default = true;
      description = "Push after a successful rebase; offline, the commit is pushed by the next run.";
    };
    user = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "rain";
      description = "User whose dotfiles are synced; the services run as this user and own ${stateDir}.";
    };
    interval = mkOption {
      type = types.nullOr types.str;
      default = "1h";
      example = "15min";
      description = "Time between two timer runs of chezmoi-sync.service (a systemd time span); null: no timer.";
    };
  };
  # options: chezmoiSync end

  # options: rebuildSmart begin
  smartOptions = {
    enable = mkEnableOption "rebuild-smart and rebuild-rollback, with every activation recorded for rollback";
    autoCommit = mkOption {
      type = types.bool;
      default = true;
      description = "Commit what a rebuild changed (flake.lock, new files) after a successful rebuild.";
    };
    autoPush = mkOption {
      type = types.bool;
      default = true;
      description = "Push that commit (offline: the next time).";
    };
    updateBeforeRebuild = mkOption {
      type = types.bool;
      default = false;
      description = "Update the flake inputs before every rebuild (as `rebuild-smart --update`).";
    };
    syncDotfiles = mkOption {
      type = types.bool;
      default = true;
      description = "Run chezmoi-sync as part of every rebuild.";
    };
    offlineMode = mkOption {
      type = types.bool;
      default = false;
      description = "Skip every network phase (upstream sync, dotfiles, secrets, update, push).";
    };
    user = mkOption {
      type = types.nullOr types.str;
      default = sync.user;
      defaultText = lib.literalExpression "config.myModules.services.dotfiles.chezmoiSync.user";
      description = ''
        User who runs rebuild-smart and owns ${stateDir}; the pre-switch check records
        activations as this user. Null: records are written as root.
      '';
    };
  };
  # options: rebuildSmart end

  preSwitchCheck = ''
    NIXDOTS_RECORD=${if smart.enable then "1" else "0"} \
    NIXDOTS_SYNC_USER=${
      lib.escapeShellArg (
        if sync.enable && sync.syncBeforeUpdate && sync.user != null then sync.user else ""
      )
    } \
    NIXDOTS_RECORD_USER=${lib.escapeShellArg (if smart.user == null then "" else smart.user)} \
    PATH=${
      lib.makeBinPath (
        [
          wrapped
          pkgs.coreutils
          pkgs.util-linux
          pkgs.getent
        ]
        ++ runtimeTools
      )
    }:$PATH \
    ${wrapped}/share/nixdots/hooks/pre-switch-check "$1" "$2" || true
  '';

  syncUnit = extra: lib.recursiveUpdate {
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    path = runtimeTools;
    environment.HOME = userHome sync.user;
    serviceConfig = {
      Type = "oneshot";
      User = sync.user;
      # /var/lib/nixdots, owned by the user, and $STATE_DIRECTORY for the binary.
      StateDirectory = "nixdots";
      StateDirectoryMode = "0750";
      ExecStart = "${wrapped}/bin/chezmoi-sync";
      # 3: another run holds the lock (a sync is happening anyway).
      SuccessExitStatus = [ 3 ];
      TimeoutStartSec = "15min";
      Nice = 10;
      IOSchedulingClass = "idle";
    };
  } extra;
in
{
  options.myModules.services.nixdots.package = mkOption {
    type = types.package;
    default = pkgs.callPackage ./package.nix { };
    defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { }";
    description = "The nixdots package (the five binaries, the hooks, completions and man pages).";
  };
  options.myModules.services.dotfiles.chezmoiSync = lib.recursiveUpdate (generatedOptions "chezmoiSync" syncOptions) syncOptions;
  options.myModules.services.rebuild.smart = lib.recursiveUpdate (generatedOptions "rebuildSmart" smartOptions) smartOptions;

  config = mkMerge [
    (mkIf (sync.enable || smart.enable) {
      environment.systemPackages = [ wrapped ] ++ runtimeTools;
      environment.etc."nixdots/config.json".text = builtins.toJSON configFile;
      # import '/etc/nixdots/rebuild-smart.just' in your justfile.
      environment.etc."nixdots/rebuild-smart.just".source = "${wrapped}/share/nixdots/rebuild-smart.just";
    })

    (mkIf sync.enable {
      assertions = [
        {
          assertion = sync.user != null;
          message = "myModules.services.dotfiles.chezmoiSync.user must name the user whose dotfiles are synced.";
        }
      ];
    })

    # The units need the user; without one the assertion above explains why.
    (mkIf (sync.enable && sync.user != null) {
      systemd.services.chezmoi-sync = syncUnit {
        description = "Sync chezmoi dotfiles through jj (chezmoi-sync)";
        documentation = [ "file:${wrapped}/share/doc/nixdots/quickstart.md" ];
      };
      systemd.timers.chezmoi-sync = mkIf (sync.interval != null) {
        description = "Periodic chezmoi dotfile sync";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnBootSec = "5min";
          OnUnitInactiveSec = sync.interval;
          RandomizedDelaySec = "2min";
        };
      };
      systemd.services.chezmoi-sync-manual = syncUnit {
        description = "Sync chezmoi dotfiles now (systemctl start chezmoi-sync-manual)";
      };
      systemd.services.chezmoi-pre-update = mkIf sync.syncBeforeUpdate (
        syncUnit (
          {
            description = "Sync chezmoi dotfiles before an automatic OS upgrade";
          }
          // lib.optionalAttrs config.system.autoUpgrade.enable {
            before = [ "nixos-upgrade.service" ];
            wantedBy = [ "nixos-upgrade.service" ];
          }
        )
      );
    })

    # Present before the first service run, for interactive runs.
    (mkIf ((sync.enable || smart.enable) && owner != null) {
      systemd.tmpfiles.rules = [ "d ${stateDir} 0750 ${owner} - -" ];
    })

    # system.preSwitchChecks exists in NixOS >= 24.11; older systems get no check.
    (mkIf (smart.enable || (sync.enable && sync.syncBeforeUpdate)) (
      lib.optionalAttrs (options.system ? preSwitchChecks) {
        system.preSwitchChecks.nixdots = preSwitchCheck;
      }
    ))
  ];
}
