#!/usr/bin/env bash
# Installs the real tools the tests drive: git >= 2.42, jj, just (from Debian
# forky, relocated onto bookworm with patchelf), chezmoi (forky, runs natively)
# and nix (bookworm's nix-bin). Idempotent: the prefix is cached outside the
# repository and reused when it already answers --version.
#
# The packages come from the Debian archive this machine's apt already uses
# (its sources.list and sources.list.d, one-line and deb822 formats), or from
# $NIXDOTS_DEBIAN_MIRROR.
#
# Usage: scripts/install-tools.sh            # installs, prints the env to use
#        eval "$(scripts/install-tools.sh --env)"   # only prints the exports
#        scripts/install-tools.sh --print-mirror     # the Debian archive it would use
set -euo pipefail

PREFIX="${NIXDOTS_TOOLS_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/nixdots/tools}"
# Where apt's configuration and the release file live (tests point them at samples).
APT_ETC="${NIXDOTS_APT_ETC:-/etc/apt}"
OS_RELEASE="${NIXDOTS_OS_RELEASE:-/etc/os-release}"
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

# debian_mirror prints the first "deb" URI of the machine's apt sources that
# serves the release's own suite (VERSION_CODENAME of os-release; without one,
# any Debian release name): the Debian archive mirror, not its security
# archive, -updates or a third-party repository. Disabled entries and files
# not named *.list / *.sources are skipped, as apt skips them.
debian_mirror() {
	local codename want f
	codename="$(awk -F= '$1 == "VERSION_CODENAME" { gsub(/["\047]/, "", $2); print $2; exit }' "$OS_RELEASE" 2>/dev/null || true)"
	if [ -n "$codename" ]; then
		want="^$codename\$"
	else
		want='^(buster|bullseye|bookworm|trixie|forky|sid|stable|testing|unstable)$'
	fi
	for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list "$APT_ETC"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources)
			# deb822: blank-line separated stanzas of "Field: value" lines,
			# continuation lines indented, comments starting with #.
			awk -v want="$want" '
				function flush(   n, m, i, j, s, u) {
					if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
						n = split(suites, s, /[ \t]+/); m = split(uris, u, /[ \t]+/)
						for (i = 1; i <= n; i++) if (s[i] ~ want)
							for (j = 1; j <= m; j++) if (u[j] ~ /^https?:\/\//) print u[j]
					}
					types = uris = suites = enabled = last = ""
				}
				/^#/ { next }
				/^[ \t]*$/ { flush(); next }
				/^[ \t]/ {
					if (last == "types") types = types " " $0
					else if (last == "uris") uris = uris " " $0
					else if (last == "suites") suites = suites " " $0
					next
				}
				{
					key = tolower($0); sub(/:.*/, "", key)
					val = $0; sub(/^[^:]*:[ \t]*/, "", val)
					last = key
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "enabled") enabled = tolower(val)
				}
				END { flush() }' "$f"
			;;
		*)
			# One-line: deb [options] URI SUITE COMPONENT...
			awk -v want="$want" '
				{ sub(/#.*/, ""); gsub(/\[[^]]*\]/, "") }
				$1 == "deb" && $2 ~ /^https?:\/\// && $3 ~ want { print $2 }' "$f"
			;;
		esac
	done | awk 'NR == 1 { sub(/\/+$/, ""); print }' # reads all: no SIGPIPE under pipefail
}

if [ "${1:-}" = "--env" ]; then print_env; exit 0; fi
if [ "${1:-}" = "--print-mirror" ]; then
	m="${NIXDOTS_DEBIAN_MIRROR:-$(debian_mirror)}"
	[ -n "$m" ] || { echo "install-tools: no Debian archive in $APT_ETC/sources.list{,.d/*.list,.d/*.sources}; set NIXDOTS_DEBIAN_MIRROR to a Debian mirror URL" >&2; exit 1; }
	echo "$m"
	exit 0
fi

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

MIRROR="${NIXDOTS_DEBIAN_MIRROR:-$(debian_mirror)}"
if [ -z "$MIRROR" ]; then
	echo "install-tools: no Debian archive in $APT_ETC/sources.list{,.d/*.list,.d/*.sources}; set NIXDOTS_DEBIAN_MIRROR to a Debian mirror URL" >&2
	exit 1
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
