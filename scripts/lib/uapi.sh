# Kernel uapi headers (linux-libc-dev from bookworm-backports) for the C layout probes.
# Source after scripts/lib/common.sh; defines functions only.
# shellcheck shell=bash

# The machine's /usr/include carries 6.1 uapi headers (no UBLK_F_USER_COPY and friends); the
# probes need the 6.12 ones. They are unpacked into the cache, never installed into /usr/include.
UBLK_UAPI_DIR="${UBLK_UAPI_DIR:-$UBLK_CACHE/uapi}"
UBLK_UAPI_SUITE="${UBLK_UAPI_SUITE:-bookworm-backports}"

# Downloads linux-libc-dev from $UBLK_UAPI_SUITE (newest there, resolved now; recorded in
# $UBLK_UAPI_DIR/VERSION) and extracts it into $UBLK_UAPI_DIR. Idempotent: a complete extraction
# is reused. Prints the include dir (pass it and <dir>/x86_64-linux-gnu to the compiler with -I).
ensure_uapi_headers() {
  local inc="$UBLK_UAPI_DIR/usr/include"
  if [ -f "$UBLK_UAPI_DIR/VERSION" ] && [ -f "$inc/linux/ublk_cmd.h" ]; then
    echo "$inc"; return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: cannot fetch linux-libc-dev from $UBLK_UAPI_SUITE"
  ensure_backports
  apt_update_once
  local tmp deb version
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/uapi.XXXXXX")
  log "downloading linux-libc-dev/$UBLK_UAPI_SUITE"
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "linux-libc-dev/$UBLK_UAPI_SUITE" >/dev/null) \
    || { rm -rf "$tmp"; die "apt-get download linux-libc-dev/$UBLK_UAPI_SUITE failed"; }
  deb=$(ls "$tmp"/linux-libc-dev_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { rm -rf "$tmp"; die "apt-get download left no linux-libc-dev .deb"; }
  version=$(dpkg-deb -f "$deb" Version)
  rm -rf "$UBLK_UAPI_DIR.new"
  mkdir -p "$UBLK_UAPI_DIR.new"
  dpkg-deb -x "$deb" "$UBLK_UAPI_DIR.new" \
    || { rm -rf "$tmp" "$UBLK_UAPI_DIR.new"; die "dpkg-deb -x failed"; }
  rm -rf "$tmp"
  [ -f "$UBLK_UAPI_DIR.new/usr/include/linux/ublk_cmd.h" ] \
    || { rm -rf "$UBLK_UAPI_DIR.new"; die "linux-libc-dev $version has no linux/ublk_cmd.h"; }
  echo "$version" > "$UBLK_UAPI_DIR.new/VERSION"
  rm -rf "$UBLK_UAPI_DIR"
  mv "$UBLK_UAPI_DIR.new" "$UBLK_UAPI_DIR"
  log "uapi headers $version in $inc"
  echo "$inc"
}
