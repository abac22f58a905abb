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
# - installs the binaries, wrapped (state-env.sh) so that what root runs (the
#   unattended timer, the pre-switch check, sudo) keeps root-owned state in
#   /var/lib/nixdots, and what a dotfiles or rebuild user runs (their timers,
#   their shell) keeps that user's in /var/lib/nixdots/<user>; rebuild-smart
#   and rebuild-rollback also read the other side's directory, read-only
#   (--read-state-dir): a user's rollback sees the activations root recorded,
#   and the timer and a person never rebuild at once. /var/lib/nixdots is
#   0750 root:nixdots (the users are in group nixdots), each user's 0700;
#   the binaries refuse to write state that is not their own user's;
# - writes /etc/nixdots/config.json from the options; the binaries read it as
#   their fallback config file (flag > env > ~/.config/nixdots/config.json >
#   /etc/nixdots/config.json > default). Its keys are exactly config.Keys in
#   pkg/config/config.go: config-keys.json is generated from that list, and
#   every key without a hand-written option below gets a generated one (null by
#   default: not written, the binary's default applies);
# - defines chezmoi-sync.service + chezmoi-sync.timer (as the user, with
#   StateDirectory=nixdots/<user>), chezmoi-sync-manual.service, chezmoi-pre-update.service
#   (ordered before nixos-upgrade.service when system.autoUpgrade is on) and a
#   system.preSwitchChecks entry (hooks/pre-switch-check) that records every
#   activation for rebuild-rollback and can sync the dotfiles before a switch;
# - with chezmoiSync.users (several dotfiles users): a templated
#   chezmoi-sync@.service (User=%i, StateDirectory=nixdots/%i: one state
#   directory, lock and history per user) with one chezmoi-sync@<user>.timer each;
# - with rebuild.smart.schedule: rebuild-smart-unattended.service (root,
#   `rebuild-smart --unattended`) and its timer (docs/fleet.md, "Unattended mode");
# - with rebuild.smart.cleanSchedule: rebuild-rollback-clean.service (root,
#   `rebuild-rollback --clean`) and its timer (docs/rebuild-rollback.md, "Clean-up").
#
# What it does not do: write chezmoi's own config file (the user's, often
# generated from .chezmoi.toml.tmpl). `chezmoi update` on a synced host needs
# update.command = "chezmoi-sync" there; the enable option's description and
# docs/chezmoi-sync.md ("chezmoi update, chezmoi git, chezmoi cd") show the lines.
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

  # Dotfiles users: chezmoiSync.users plus the single-user form `user`.
  syncUsers = lib.unique (sync.users ++ lib.optional (sync.user != null) sync.user);
  # Several users (or the list form): templated units, one state directory each.
  multiUser = sync.users != [ ];

  # Users with a state directory of their own, /var/lib/nixdots/<user>: the
  # dotfiles users and the one who runs rebuild-smart.
  stateUsers = lib.unique (
    (if sync.enable then syncUsers else [ ])
    ++ lib.optional (smart.enable && smart.user != null) smart.user
  );

  # Which state directory each run uses, by who runs it (state-env.sh; its
  # header says how). Forced, not a default: a root process that inherited a
  # user's STATE_DIRECTORY must still use root's own.
  stateEnv =
    b:
    lib.concatStringsSep "\n" [
      "_nixdots_base=${stateDir}"
      "_nixdots_users=${lib.escapeShellArg (lib.concatStringsSep " " stateUsers)}"
      "_nixdots_reads=${if lib.hasPrefix "rebuild-" b then "1" else "0"}"
      "_nixdots_id=${pkgs.coreutils}/bin/id"
      (builtins.readFile ./state-env.sh)
    ];

  wrapped = pkgs.symlinkJoin {
    name = "nixdots-wrapped-${pkg.version or "dev"}";
    paths = [ pkg ];
    nativeBuildInputs = [ pkgs.makeWrapper ];
    postBuild = lib.concatMapStrings (b: ''
      if [ -e "$out/bin/${b}" ]; then
        wrapProgram "$out/bin/${b}" \
          --run ${lib.escapeShellArg (stateEnv b)} \
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

  userHome = user: (config.users.users.${user} or { }).home or "/home/${user}";

  # options: chezmoiSync begin
  syncOptions = {
    enable = mkEnableOption "automatic chezmoi dotfile synchronisation through jj (chezmoi-sync)" // {
      description = ''
        Whether to sync the chezmoi dotfiles through jj (chezmoi-sync): the service, the timer and the
        pre-update sync below.

        Once chezmoi-sync has run, the source directory is a colocated jj repository whose git HEAD is
        detached, so chezmoi's own `chezmoi update` (a `git pull`) fails. chezmoi's config file belongs
        to the user and this module does not write it; route `chezmoi update` to chezmoi-sync there
        (or in the source directory's `.chezmoi.toml.tmpl`, so every host gets it):

        ```toml
        [update]
            command = "chezmoi-sync"
            apply = false # chezmoi-sync applies what came in itself, keeping local edits
        ```
      '';
    };
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
      description = "User whose dotfiles are synced; the services run as this user, with the state directory ${stateDir}/<user>.";
    };
    users = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "alice"
        "bob"
      ];
      description = ''
        Several users whose dotfiles are synced (together with {option}`user` when set). The module
        then defines a templated chezmoi-sync@.service (User=%i, StateDirectory=nixdots/%i) and one
        chezmoi-sync@<user>.timer per user: each user has their own state directory
        (${stateDir}/<user>), lock, status and history, and the tools a user runs use it.
      '';
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
        User who runs rebuild-smart: their runs keep their state in ${stateDir}/<user> and read
        root's (${stateDir}: the activations the pre-switch check records as root, the unattended
        timer's builds) read-only; the timer respects their rebuild lock. Null: no user directory.
      '';
    };
    schedule = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "04:00";
      description = ''
        When set (a systemd calendar expression: "04:00", "hourly", "Mon *-*-* 03:00"), a timer runs
        rebuild-smart-unattended.service, a oneshot running `rebuild-smart --unattended` as root
        (pull-based deployment, as comin does) on the flake {option}`flake`. Root, because the
        activation needs it and a timer cannot answer sudo; the trade-off: with autoCommit, root
        commits into that checkout (use a checkout of its own, e.g. /etc/nixos, rather than a
        user's working copy). It never races a person: a running interactive rebuild-smart (the
        shared lock) or manual nixos-rebuild makes it step aside until the next run.
      '';
    };
    cleanSchedule = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "weekly";
      description = ''
        When set (a systemd calendar expression: "weekly", "Sun 04:30"), a timer runs
        rebuild-rollback-clean.service, a oneshot running `rebuild-rollback --clean` as root: old
        system generations are deleted by the retention policy of {option}`clean.keep`,
        {option}`clean.keepSince` and {option}`clean.keepPinned` (the running, booted and
        next-boot systems and the last successful build always stay), then, with
        {option}`clean.gc`, the store garbage is collected. The builds of remote branch tips and
        tags are read from {option}`flake`'s refs (no network).
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
    NIXDOTS_RECORD_USER= \
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

  # One templated unit per user: User=%i, its own state directory and lock.
  syncTemplate = {
    description = "Sync chezmoi dotfiles of %i through jj (chezmoi-sync)";
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    path = runtimeTools;
    # systemd sets HOME and USER from the account for units with User=.
    environment = lib.optionalAttrs (sync.metricsFile != null) {
      # One textfile per user: node_exporter rejects duplicate series.
      CHEZMOI_SYNC_METRICS_FILE = "${dirOf sync.metricsFile}/chezmoi-sync-%i.prom";
    };
    serviceConfig = {
      Type = "oneshot";
      User = "%i";
      # /var/lib/nixdots/<user>, the user's own; $STATE_DIRECTORY for the binary.
      StateDirectory = "nixdots/%i";
      StateDirectoryMode = "0700";
      ExecStart = "${wrapped}/bin/chezmoi-sync";
      SuccessExitStatus = [ 3 ];
      TimeoutStartSec = "15min";
      Nice = 10;
      IOSchedulingClass = "idle";
    };
  };

  syncUnit = extra: lib.recursiveUpdate {
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    path = runtimeTools;
    environment.HOME = userHome sync.user;
    serviceConfig = {
      Type = "oneshot";
      User = sync.user;
      # /var/lib/nixdots/<user>, the user's own; $STATE_DIRECTORY for the binary.
      StateDirectory = "nixdots/${sync.user}";
      StateDirectoryMode = "0700";
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
          assertion = syncUsers != [ ];
          message = "myModules.services.dotfiles.chezmoiSync.user (or .users) must name the user whose dotfiles are synced.";
        }
      ];
    })

    # The units need the user; without one the assertion above explains why.
    (mkIf (sync.enable && sync.user != null && !multiUser) {
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

    # Several users: chezmoi-sync@<user>.service from one template, a timer each.
    (mkIf (sync.enable && multiUser) {
      systemd.services."chezmoi-sync@" = syncTemplate;
      systemd.timers = mkIf (sync.interval != null) (
        builtins.listToAttrs (
          map (u: {
            name = "chezmoi-sync@${u}";
            value = {
              description = "Periodic chezmoi dotfile sync of ${u}";
              wantedBy = [ "timers.target" ];
              timerConfig = {
                OnBootSec = "5min";
                OnUnitInactiveSec = sync.interval;
                RandomizedDelaySec = "2min";
              };
            };
          }) syncUsers
        )
      );
      # Every user's sync before an automatic upgrade; a failed sync never
      # blocks the upgrade ("-").
      systemd.services.chezmoi-pre-update = mkIf sync.syncBeforeUpdate (
        {
          description = "Sync every user's chezmoi dotfiles before an automatic OS upgrade";
          serviceConfig = {
            Type = "oneshot";
            ExecStart = "-${pkgs.systemd}/bin/systemctl start ${
              lib.concatMapStringsSep " " (u: "chezmoi-sync@${u}.service") syncUsers
            }";
          };
        }
        // lib.optionalAttrs config.system.autoUpgrade.enable {
          before = [ "nixos-upgrade.service" ];
          wantedBy = [ "nixos-upgrade.service" ];
        }
      );
    })

    (mkIf smart.enable {
      assertions = [
        {
          assertion = smart.schedule == null || smart.flake != null;
          message = "myModules.services.rebuild.smart.schedule needs myModules.services.rebuild.smart.flake (the flake the timer rebuilds).";
        }
      ];
    })

    # Pull-based deployment: rebuild-smart --unattended on a calendar.
    (mkIf (smart.enable && smart.schedule != null && smart.flake != null) {
      systemd.services.rebuild-smart-unattended = {
        description = "Unattended NixOS rebuild from the flake (rebuild-smart --unattended)";
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        # The switch must not stop the unit that is running it.
        restartIfChanged = false;
        path = runtimeTools ++ [
          pkgs.nix
          pkgs.nixos-rebuild
        ];
        environment = {
          HOME = "/root";
          # Root works in a checkout it may not own: allow git there.
          GIT_CONFIG_COUNT = "1";
          GIT_CONFIG_KEY_0 = "safe.directory";
          GIT_CONFIG_VALUE_0 = smart.flake;
        };
        serviceConfig = {
          Type = "oneshot";
          # Dotfiles are the users' (their own chezmoi-sync timers); root has none,
          # and must never clone a user's repoUrl into /root.
          ExecStart = "${wrapped}/bin/rebuild-smart --unattended --skip-dotfiles";
          # 3: a person's rebuild holds the lock, or a manual nixos-rebuild
          # runs; the next timer run tries again.
          SuccessExitStatus = [ 3 ];
          TimeoutStartSec = "3h";
          # No StateDirectory=: systemd would chown /var/lib/nixdots and
          # everything below it (the users' directories) to root:root. The
          # wrapper gives root /var/lib/nixdots, which tmpfiles creates.
        };
      };
      systemd.timers.rebuild-smart-unattended = {
        description = "Scheduled unattended rebuild-smart";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = smart.schedule;
          # A run missed while the machine was off happens at the next boot.
          Persistent = "true";
        };
      };
    })

    # Generation clean-up on a calendar: rebuild-rollback --clean as root.
    (mkIf (smart.enable && smart.cleanSchedule != null) {
      systemd.services.rebuild-rollback-clean = {
        description = "Delete old NixOS generations by the retention policy (rebuild-rollback --clean)";
        # Never while a switch runs: the rebuild lock is shared, and a run
        # that finds it held exits 3 and tries again next time.
        path = runtimeTools ++ [ pkgs.nix ];
        environment = {
          HOME = "/root";
          # The pins are read from the flake repository, which root may not own.
          GIT_CONFIG_COUNT = "1";
          GIT_CONFIG_KEY_0 = "safe.directory";
          GIT_CONFIG_VALUE_0 = if smart.flake != null then smart.flake else "*";
        };
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "${wrapped}/bin/rebuild-rollback --clean";
          SuccessExitStatus = [ 3 ];
          Nice = 10;
          IOSchedulingClass = "idle";
        };
      };
      systemd.timers.rebuild-rollback-clean = {
        description = "Scheduled clean-up of old NixOS generations";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = smart.cleanSchedule;
          Persistent = "true";
          RandomizedDelaySec = "30min";
        };
      };
    })

    # Present before the first service run, for interactive runs: root's
    # directory, which the users may enter and read (group nixdots; setgid,
    # so the files root shares there are the group's), and each user's own.
    # tmpfiles also corrects owner and mode of existing ones.
    (mkIf (sync.enable || smart.enable) {
      systemd.tmpfiles.rules = [
        "d ${stateDir} ${if stateUsers != [ ] then "2750 root nixdots" else "0700 root root"} -"
      ]
      ++ map (u: "d ${stateDir}/${u} 0700 ${u} - -") stateUsers;
    })
    (mkIf ((sync.enable || smart.enable) && stateUsers != [ ]) {
      users.groups.nixdots.members = stateUsers;
    })

    # system.preSwitchChecks exists in NixOS >= 24.11; older systems get no check.
    (mkIf (smart.enable || (sync.enable && sync.syncBeforeUpdate)) (
      lib.optionalAttrs (options.system ? preSwitchChecks) {
        system.preSwitchChecks.nixdots = preSwitchCheck;
      }
    ))
  ];
}
