#!/usr/bin/env bash
# Installs the real tools the tests drive: git >= 2.42, jj, just (from Debian
# forky, relocated onto bookworm with patchelf), chezmoi (forky, runs natively)
# and nix (bookworm's nix-bin). Idempotent: the prefix is cached outside the
# repository and reused when it already answers --version.
#
# Usage: scripts/install-tools.sh            # installs, prints the env to use
#        eval "$(scripts/install-tools.sh --env)"   # only prints the exports
set -euo pipefail

PREFIX="${NIXDOTS_TOOLS_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/nixdots/tools}"
MIRROR="${NIXDOTS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORKY_PKGS=(jujutsu git git-man just chezmoi libc6 libgcc-s1 libmimalloc3 libpcre2-8-0 zlib1g libcurl3t64-gnutls libexpat1 libssl3t64 libzstd1)

print_env() {
  echo "export PATH=\"$PREFIX/usr/bin:\$PATH\""
  echo "export GIT_EXEC_PATH=\"$PREFIX/usr/lib/git-core\""
  echo "export NIX_CONFIG='experimental-features = nix-command flakes'"
  echo "export NIX_REMOTE=local"
}

tools_ok() {
  [ -x "$PREFIX/usr/bin/jj" ] && [ -x "$PREFIX/usr/bin/git" ] && [ -x "$PREFIX/usr/bin/chezmoi" ] && [ -x "$PREFIX/usr/bin/just" ] || return 1
  (eval "$(print_env)"; jj --version && git --version && chezmoi --version && just --version && nix --version) >/dev/null 2>&1 || return 1
  for t in patchelf strace groff zsh fish runuser; do command -v "$t" >/dev/null || return 1; done
}

if [ "${1:-}" = "--env" ]; then print_env; exit 0; fi

# Not Debian (NixOS, say): nothing to install from here; use the tools on
# PATH (`nix develop` gives them all) and the machine's own nix daemon.
if ! command -v apt-get >/dev/null; then
  for t in git jj chezmoi just nix; do
    command -v "$t" >/dev/null || { echo "install-tools: $t not found and no apt-get here: run inside 'nix develop' (the flake's devShell) or install it" >&2; exit 1; }
  done
  echo "export NIX_CONFIG='experimental-features = nix-command flakes'"
  exit 0
fi

if tools_ok; then
  echo "tools already installed in $PREFIX" >&2
  print_env
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=()
command -v patchelf >/dev/null || need_apt+=(patchelf)
command -v nix >/dev/null || need_apt+=(nix-bin)
command -v curl >/dev/null || need_apt+=(curl)
# Also driven by tests: strace (a precise kill during the state write),
# groff (man pages are clean roff), zsh and fish (completions parse),
# util-linux's runuser (the pre-switch check switches users as root).
command -v strace >/dev/null || need_apt+=(strace)
command -v groff >/dev/null || need_apt+=(groff-base)
command -v zsh >/dev/null || need_apt+=(zsh)
command -v fish >/dev/null || need_apt+=(fish)
command -v runuser >/dev/null || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# A private apt configuration pointing at forky, so the host's apt state is untouched.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/debs"
cat >"$work/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR forky main
SRC
APT_OPTS=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- \
  -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives" \
  -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${APT_OPTS[@]}" update -qq
(cd "$work/debs" && apt-get "${APT_OPTS[@]}" download "${FORKY_PKGS[@]}" >/dev/null)

rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$PREFIX.new"; done

LIB="$PREFIX/usr/lib/x86_64-linux-gnu"
# Patch every dynamic ELF in bin and git-core to load forky's glibc from the final prefix.
find "$PREFIX.new/usr/bin" "$PREFIX.new/usr/lib/git-core" -type f | while read -r f; do
  if head -c4 "$f" 2>/dev/null | grep -q 'ELF' && patchelf --print-interpreter "$f" >/dev/null 2>&1; then
    patchelf --set-interpreter "$LIB/ld-linux-x86-64.so.2" --set-rpath "$LIB" "$f"
  fi
done
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"

if ! tools_ok; then
  echo "install-tools: tools in $PREFIX do not run" >&2
  (eval "$(print_env)"; jj --version; git --version; chezmoi --version; just --version; nix --version) >&2 || true
  exit 1
fi
echo "tools installed in $PREFIX" >&2
print_env
