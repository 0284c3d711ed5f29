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

# Adds the bookworm-backports suite of the machine's existing Debian mirror when absent.
ensure_backports() {
  if apt-cache policy 2>/dev/null | grep -q 'bookworm-backports'; then return 0; fi
  local mirror
  mirror=$(grep -rhoE '^(URIs:|deb) *\S*https?://\S+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
           | grep -oE 'https?://\S+/debian/?' | head -1 || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  log "adding bookworm-backports from $mirror"
  cat > /etc/apt/sources.list.d/ublk-backports.sources <<SRC
Types: deb
URIs: ${mirror%/}
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=0
  apt_update_once
}

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
