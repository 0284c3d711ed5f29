# Shared helpers for the project's scripts. Source it; it defines functions only.
# shellcheck shell=bash

UBLK_ROOT="${UBLK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# Everything the scripts download or build lives here (git-ignored).
UBLK_CACHE="${UBLK_CACHE:-$UBLK_ROOT/.cache}"

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Prints the home of a JDK >= 22: $JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
# Reads each JDK's `release` file instead of starting it (a JVM start costs seconds in the VM).
jdk_major() {
  local v
  v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -1)
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v"
}
find_jdk() {
  local cand ver best="" bestver=0
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/* /opt/jdk*; do
    [ -n "$cand" ] && [ -x "$cand/bin/javac" ] || continue
    ver=$(jdk_major "$cand") || continue
    if [ "$cand" = "${JAVA_HOME:-}" ] && [ "$ver" -ge 22 ]; then echo "$cand"; return 0; fi
    if [ "$ver" -ge 22 ] && [ "$ver" -gt "$bestver" ]; then best=$cand; bestver=$ver; fi
  done
  [ -n "$best" ] || { echo "error: no JDK >= 22 found (checked \$JAVA_HOME and /usr/lib/jvm); install one, e.g. a Temurin 25 JDK" >&2; return 1; }
  echo "$best"
}

# Exports JAVA_HOME for a JDK >= 22 and puts it first on PATH.
use_jdk() {
  local home
  home=$(find_jdk) || exit 1
  export JAVA_HOME="$home"
  export PATH="$JAVA_HOME/bin:$PATH"
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
}

# Prints the machine's own Debian mirror: the first http(s) URI ending in /debian in its apt
# sources (one-line `deb` entries or deb822 `URIs:` fields). The project names no mirror of its
# own: with none configured this fails, saying so.
debian_mirror() {
  local mirror
  mirror=$(grep -rhoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
             /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
           | grep -oE 'https?://[^[:space:]]+/debian/?' | head -1 || true)
  [ -n "$mirror" ] || die "no Debian mirror in the apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*):" \
    "configure one (a 'deb http://.../debian SUITE main' line or a deb822 'URIs:' field ending in /debian)"
  echo "${mirror%/}"
}

# Adds suite $1 (bookworm-backports, trixie-backports) of the machine's own Debian mirror when apt
# does not know it yet. With $2, the suite is pinned at that priority: 1 keeps apt from ever
# picking one of its packages by itself (only an explicit pkg=version or -t takes it).
ensure_suite() {
  local suite=$1 pin=${2:-} file mirror
  file=/etc/apt/sources.list.d/ublk-$suite.sources
  # The name this file had when bookworm-backports was the only suite added.
  [ "$suite" != bookworm-backports ] || file=/etc/apt/sources.list.d/ublk-backports.sources
  if [ -n "$pin" ] && [ ! -f "/etc/apt/preferences.d/ublk-$suite" ]; then
    printf 'Package: *\nPin: release n=%s\nPin-Priority: %s\n' "$suite" "$pin" >"/etc/apt/preferences.d/ublk-$suite"
  fi
  if apt-cache policy 2>/dev/null | grep -qF " $suite/"; then return 0; fi
  mirror=$(debian_mirror) || exit 1
  log "adding $suite from $mirror (the machine's apt mirror) as $file"
  cat > "$file" <<SRC
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=0
  apt_update_once
  apt-cache policy 2>/dev/null | grep -qF " $suite/" || die "apt knows no $suite after adding it from $mirror (see $file)"
}

# Adds bookworm-backports (qemu 10, the 6.12 uapi headers).
ensure_backports() { ensure_suite bookworm-backports; }

# Installs Debian packages that are missing (names may carry /suite).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "${p%%/*}" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_update_once
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}
