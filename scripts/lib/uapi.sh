# Kernel uapi headers (linux-libc-dev, unpacked under the cache) for the C layout probes.
# Source after scripts/lib/common.sh; defines functions only.
# shellcheck shell=bash

# The machine's /usr/include carries 6.1 uapi headers (no UBLK_F_USER_COPY and friends); the
# probes need newer ones. They are unpacked into the cache, never installed into /usr/include.
# Two header sets:
#   default  6.12 from bookworm-backports in $UBLK_UAPI_DIR (.cache/uapi): every probe in
#            native-headers/src/test/c/*.c, the kernel the bindings are written for;
#   7.2      7.2 from trixie-backports in $UBLK_UAPI_72_DIR (.cache/uapi-7.2): the probes in
#            native-headers/src/test/c/7.2/, the bindings later kernels added (UBLK_F_* bits 9-19).
UBLK_UAPI_DIR="${UBLK_UAPI_DIR:-$UBLK_CACHE/uapi}"
UBLK_UAPI_SUITE="${UBLK_UAPI_SUITE:-bookworm-backports}"
UBLK_UAPI_72_DIR="${UBLK_UAPI_72_DIR:-$UBLK_CACHE/uapi-7.2}"

# Prints the highest version of linux-libc-dev in suite $1 whose version starts with $2 ("" = any).
uapi_resolve_version() {
  local suite=$1 prefix=$2 best="" v
  while read -r v; do
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done < <(apt-cache madison linux-libc-dev 2>/dev/null \
             | awk -F' *[|] *' -v s=" $suite/" -v p="$prefix" 'index($3, s) && index($2, p) == 1 { print $2 }')
  [ -n "$best" ] || die "no linux-libc-dev ${prefix:+$prefix* }in $suite (apt-cache madison linux-libc-dev)"
  echo "$best"
}

# Downloads linux-libc-dev from a suite (the newest version there with the given prefix, resolved
# now; recorded in <dir>/VERSION) and extracts it into <dir>. Idempotent: a complete extraction
# is reused. Prints the include dir (pass it and <dir>/x86_64-linux-gnu to the compiler with -I).
# $1: header set, "" (default, 6.12) or 7.2.
ensure_uapi_headers() {
  local set=${1:-} dir suite prefix pin=""
  case $set in
    "") dir=$UBLK_UAPI_DIR suite=$UBLK_UAPI_SUITE prefix="" ;;
    7.2) dir=$UBLK_UAPI_72_DIR suite=trixie-backports prefix=7.2. pin=1 ;;
    *) die "unknown uapi header set '$set' (default or 7.2)" ;;
  esac
  local inc="$dir/usr/include"
  if [ -f "$dir/VERSION" ] && [ -f "$inc/linux/ublk_cmd.h" ]; then
    echo "$inc"; return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: cannot fetch linux-libc-dev from $suite"
  ensure_suite "$suite" $pin
  apt_update_once
  local tmp deb version
  version=$(uapi_resolve_version "$suite" "$prefix") || exit 1
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/uapi.XXXXXX")
  log "downloading linux-libc-dev $version ($suite)"
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "linux-libc-dev=$version" >/dev/null) \
    || { rm -rf "$tmp"; die "apt-get download linux-libc-dev=$version ($suite) failed"; }
  deb=$(ls "$tmp"/linux-libc-dev_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { rm -rf "$tmp"; die "apt-get download left no linux-libc-dev .deb"; }
  version=$(dpkg-deb -f "$deb" Version)
  rm -rf "$dir.new"
  mkdir -p "$dir.new"
  dpkg-deb -x "$deb" "$dir.new" \
    || { rm -rf "$tmp" "$dir.new"; die "dpkg-deb -x failed"; }
  rm -rf "$tmp"
  [ -f "$dir.new/usr/include/linux/ublk_cmd.h" ] \
    || { rm -rf "$dir.new"; die "linux-libc-dev $version has no linux/ublk_cmd.h"; }
  # The asm headers: x86_64-linux-gnu/asm is a folder up to 6.12, a relative link into
  # usr/lib/linux/uapi in trixie's packages; either way it must resolve inside the extraction.
  [ -f "$dir.new/usr/include/x86_64-linux-gnu/asm/types.h" ] \
    || { rm -rf "$dir.new"; die "linux-libc-dev $version has no x86_64-linux-gnu/asm/types.h"; }
  echo "$version" > "$dir.new/VERSION"
  rm -rf "$dir"
  mv "$dir.new" "$dir"
  log "uapi headers $version in $inc"
  echo "$inc"
}
