# Evaluates nix/module.nix with plain nix (no nixpkgs here): a stand-in for
# the few nixpkgs lib functions the module uses (same names and meaning),
# store paths as strings, and a tiny resolver for mkIf/mkMerge. It returns the
# option tree (names, defaults) and the resolved config for the given settings,
# so the tests check what the module defines, not only that it parses.
#
# Every lib function the module calls must exist here; a name that is not in
# nixpkgs' lib must not be added here just to make a test pass.
{
  module,
  settings, # { chezmoiSync = { ... }; rebuildSmart = { ... }; }
  autoUpgrade ? false,
  hasPreSwitchChecks ? true,
}:
let
  isOption = v: builtins.isAttrs v && (v._type or "") == "option";
  setAttrByPath =
    path: v:
    if path == [ ] then v else { ${builtins.head path} = setAttrByPath (builtins.tail path) v; };
  recursiveUpdate =
    a: b:
    a
    // builtins.mapAttrs (
      k: v:
      if builtins.hasAttr k a && builtins.isAttrs v && builtins.isAttrs a.${k} && !isOption v && !isOption a.${k} then
        recursiveUpdate a.${k} v
      else
        v
    ) b;
  type = name: { inherit name; };
  lib = {
    mkOption = o: o // { _type = "option"; };
    mkEnableOption = what: {
      _type = "option";
      default = false;
      description = "Whether to enable ${what}.";
      type = type "bool";
    };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    types = {
      bool = type "bool";
      str = type "str";
      int = type "int";
      anything = type "anything";
      package = type "package";
      listOf = t: type "listOf ${t.name}";
      attrsOf = t: type "attrsOf ${t.name}";
      nullOr = t: type "nullOr ${t.name}";
    };
    inherit recursiveUpdate setAttrByPath;
    splitString = sep: s: builtins.filter builtins.isString (builtins.split (if sep == "." then "\\." else sep) s);
    concatStringsSep = builtins.concatStringsSep;
    concatMapStrings = f: l: builtins.concatStringsSep "" (map f l);
    concatMapStringsSep = sep: f: l: builtins.concatStringsSep sep (map f l);
    optional = cond: x: if cond then [ x ] else [ ];
    unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
    hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
    makeBinPath = ps: builtins.concatStringsSep ":" (map (p: "${p}/bin") ps);
    escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
    filterAttrs =
      pred: set:
      builtins.listToAttrs (
        builtins.concatMap (
          n:
          if pred n set.${n} then
            [
              {
                name = n;
                value = set.${n};
              }
            ]
          else
            [ ]
        ) (builtins.attrNames set)
      );
    optionalAttrs = cond: set: if cond then set else { };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
  };
  store = name: {
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    inherit name;
  };
  pkgs = {
    symlinkJoin = a: store a.name // { passthru = a; };
    makeWrapper = store "make-wrapper";
    callPackage = _: _: store "nixdots-dev" // { version = "dev"; };
    git = store "git";
    jujutsu = store "jujutsu";
    chezmoi = store "chezmoi";
    openssh = store "openssh";
    coreutils = store "coreutils";
    util-linux = store "util-linux";
    getent = store "getent";
    systemd = store "systemd";
    nix = store "nix";
    nixos-rebuild = store "nixos-rebuild";
  };

  # Option values as the module system would merge them: the settings over
  # the declared defaults, recursively.
  valuesOf =
    opts: set:
    builtins.mapAttrs (
      k: o:
      if isOption o then
        (if builtins.hasAttr k set then set.${k} else o.default or null)
      else
        valuesOf o (set.${k} or { })
    ) opts;

  evaluated = import module {
    inherit lib pkgs;
    options = {
      system = if hasPreSwitchChecks then { preSwitchChecks = { }; } else { };
    };
    config = {
      myModules.services.dotfiles.chezmoiSync = valuesOf evaluated.options.myModules.services.dotfiles.chezmoiSync (
        settings.chezmoiSync or { }
      );
      myModules.services.rebuild.smart = valuesOf evaluated.options.myModules.services.rebuild.smart (
        settings.rebuildSmart or { }
      );
      myModules.services.nixdots.package = pkgs.callPackage null { };
      system.autoUpgrade.enable = autoUpgrade;
      users.users.alice.home = "/home/alice";
    };
  };

  # mkIf/mkMerge resolved the way the module system does for our shapes:
  # merged definitions of one attribute are lists (concatenated) or sets.
  merge =
    a: b:
    a
    // builtins.mapAttrs (
      k: v:
      if !(builtins.hasAttr k a) then
        v
      else if builtins.isList v && builtins.isList a.${k} then
        a.${k} ++ v
      else if builtins.isAttrs v && builtins.isAttrs a.${k} then
        merge a.${k} v
      else
        throw "conflicting definitions of ${k}"
    ) b;
  resolve =
    v:
    if builtins.isAttrs v && (v._type or "") == "if" then
      (if v.condition then resolve v.content else { })
    else if builtins.isAttrs v && (v._type or "") == "merge" then
      builtins.foldl' (acc: c: merge acc (resolve c)) { } v.contents
    else if builtins.isAttrs v && !(v ? outPath) then
      # An attribute defined under a false mkIf does not exist.
      builtins.mapAttrs (_: resolve) (
        lib.filterAttrs (_: c: !(builtins.isAttrs c && (c._type or "") == "if" && !c.condition)) v
      )
    else
      v;

  # Option names as dotted paths, with their defaults (null when none).
  optionList =
    prefix: opts:
    builtins.concatMap (
      k:
      let
        o = opts.${k};
      in
      if isOption o then
        [
          {
            name = prefix + k;
            default = if builtins.isAttrs (o.default or null) then "<set>" else o.default or null;
            type = o.type.name;
          }
        ]
      else
        optionList (prefix + k + ".") o
    ) (builtins.attrNames opts);
  cfg = resolve evaluated.config;
in
{
  options = {
    chezmoiSync = optionList "" evaluated.options.myModules.services.dotfiles.chezmoiSync;
    rebuildSmart = optionList "" evaluated.options.myModules.services.rebuild.smart;
  };
  configJSON = cfg.environment.etc."nixdots/config.json".text or null;
  services = builtins.mapAttrs (
    _: s:
    {
      inherit (s) description;
      before = s.before or [ ];
      wantedBy = s.wantedBy or [ ];
      serviceConfig = builtins.mapAttrs (_: toString) s.serviceConfig;
      environment = s.environment or { };
    }
  ) (cfg.systemd.services or { });
  timers = cfg.systemd.timers or { };
  tmpfiles = cfg.systemd.tmpfiles.rules or [ ];
  preSwitchChecks = builtins.attrNames (cfg.system.preSwitchChecks or { });
  preSwitchCheck = cfg.system.preSwitchChecks.nixdots or "";
  assertions = map (a: {
    inherit (a) assertion message;
  }) (cfg.assertions or [ ]);
  systemPackages = map (p: p.name) (cfg.environment.systemPackages or [ ]);
  # The wrapped package's build script (its wrapProgram calls).
  wrapperPostBuild =
    let
      w = builtins.filter (p: p ? passthru && p.passthru ? postBuild) (cfg.environment.systemPackages or [ ]);
    in
    if w == [ ] then "" else (builtins.head w).passthru.postBuild;
  groups = builtins.mapAttrs (_: g: g.members or [ ]) (cfg.users.groups or { });
  etc = builtins.attrNames (cfg.environment.etc or { });
}
