# Turns the module's option values into one section of /etc/nixdots/config.json:
# for every key the binaries know (config-keys.json, generated from config.Keys
# in pkg/config/config.go), the value at that key's (dotted) option path, left
# out when null so the binary's own default applies. Dotted keys become nested
# objects ({"notify": {"desktop": true}}), which config.Load accepts.
#
# Builtins only, so the tests can evaluate it with a plain nix-instantiate and
# feed the result to the real config loader.
{ keys, cfg }:
let
  path = name: builtins.filter builtins.isString (builtins.split "\\." name);
  get =
    attrs: p:
    if p == [ ] then
      attrs
    else if builtins.isAttrs attrs && builtins.hasAttr (builtins.head p) attrs then
      get (builtins.getAttr (builtins.head p) attrs) (builtins.tail p)
    else
      null;
  set =
    acc: p: v:
    let
      k = builtins.head p;
    in
    if builtins.length p == 1 then
      acc // { ${k} = v; }
    else
      acc // { ${k} = set (acc.${k} or { }) (builtins.tail p) v; };
in
builtins.foldl' (
  acc: key:
  let
    v = get cfg (path key.name);
  in
  if v == null then acc else set acc (path key.name) v
) { } keys
