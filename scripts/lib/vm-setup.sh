# Installs and builds what scripts/vm-run needs; everything but the Debian packages is cached
# under $UBLK_CACHE/vm. Source after common.sh, then call vm_setup.
# shellcheck shell=bash

VM_DIR="$UBLK_CACHE/vm"
VM_INIT_TEMPLATE="$UBLK_ROOT/scripts/lib/vm-init.sh"
VM_SETUP_SELF="${BASH_SOURCE[0]}"
# Module sets of the initramfs, "set:modules"; each becomes a dependency-ordered list that
# the guest's /init loads: base and ublk at every boot, null_blk only on request.
VM_MODULE_SETS=("base:9pnet_virtio 9p" "ublk:ublk_drv" "null_blk:null_blk")
VM_KERNEL_META=linux-image-6.12-amd64

# qemu 10.x from bookworm-backports: bookworm's 7.2 crashes JIT-compiled Java code now and
# then under multi-threaded TCG, so an older qemu is never good enough.
vm_ensure_packages() {
  local v
  v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
  if [ -z "$v" ] || ! dpkg --compare-versions "$v" ge 1:10; then
    ensure_backports
    apt_update_once
    log "installing qemu-system-x86 from bookworm-backports"
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null \
      || die "apt-get install -t bookworm-backports qemu-system-x86 failed"
    v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
    dpkg --compare-versions "$v" ge 1:10 || die "qemu-system-x86 is $v; vm-run needs 10.x from bookworm-backports"
  fi
  # fio and kmod are also used inside the guest, which runs on the host's /.
  apt_install busybox-static fio kmod xz-utils
}

# Prints the package the 6.12 metapackage points at (highest version over all suites).
vm_resolve_kernel_pkg() {
  local best_v="" best_p="" v p
  while read -r v p; do
    if [ -z "$best_v" ] || dpkg --compare-versions "$v" gt "$best_v"; then best_v=$v; best_p=$p; fi
  done < <(apt-cache show "$VM_KERNEL_META" 2>/dev/null | awk '
    /^Version:/ { v = $2 }
    /^Depends:/ { if (match($0, /linux-image-6\.12\.[^ ,]*-amd64/)) print v, substr($0, RSTART, RLENGTH) }')
  [ -n "$best_p" ] || die "cannot resolve $VM_KERNEL_META (is bookworm-security in /etc/apt?)"
  echo "$best_p"
}

# Downloads and unpacks the Debian 6.12 kernel into the cache (never into the host's /boot).
vm_ensure_kernel() {
  local ver pkg tmp
  ver=$(cat "$VM_DIR/kernel.version" 2>/dev/null || true)
  if [ -n "$ver" ] && [ -f "$VM_DIR/kernel/$ver/boot/vmlinuz-$ver" ] \
     && [ -f "$VM_DIR/kernel/$ver/lib/modules/$ver/modules.dep" ]; then
    VM_KVER=$ver; return 0
  fi
  apt_update_once
  pkg=$(vm_resolve_kernel_pkg)
  ver=${pkg#linux-image-}
  log "downloading $pkg into $VM_DIR/kernel"
  mkdir -p "$VM_DIR/kernel"
  tmp=$(mktemp -d "$VM_DIR/kernel/.download.XXXXXX")
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || die "apt-get download $pkg failed"
  dpkg-deb -x "$tmp"/*.deb "$tmp/tree"
  # depmod -b expects <base>/lib/modules; newer packages may ship usr/lib/modules only.
  if [ ! -d "$tmp/tree/lib/modules" ] && [ -d "$tmp/tree/usr/lib/modules" ]; then
    mkdir -p "$tmp/tree/lib" && mv "$tmp/tree/usr/lib/modules" "$tmp/tree/lib/modules"
  fi
  [ -f "$tmp/tree/boot/vmlinuz-$ver" ] || die "$pkg has no boot/vmlinuz-$ver"
  # The package ships no modules.dep; the guest's load order comes from it.
  depmod -b "$tmp/tree" "$ver" || die "depmod failed for $ver"
  rm -rf "${VM_DIR:?}/kernel/$ver"
  mv "$tmp/tree" "$VM_DIR/kernel/$ver"
  rm -rf "$tmp"
  echo "$ver" >"$VM_DIR/kernel.version"
  VM_KVER=$ver
}

# Prints "name path" of the modules to load for the given names, dependencies first.
vm_module_closure() {
  local dep="$VM_DIR/kernel/$VM_KVER/lib/modules/$VM_KVER/modules.dep"
  awk -F': *' -v want="$*" '
    function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p }
    { n = base($1); path[n] = $1; deps[n] = $2 }
    function visit(n,   d, k, i) {
      if (n in done) return
      if (!(n in path)) { print "module " n " not found" > "/dev/stderr"; bad = 1; return }
      done[n] = 1
      k = split(deps[n], d, " ")
      for (i = k; i >= 1; i--) visit(base(d[i]))   # modules.dep lists the deepest dependency last
      print n, path[n]
    }
    END { k = split(want, w, " "); for (i = 1; i <= k; i++) visit(w[i]); exit bad }' "$dep"
}

# Builds the initramfs (static busybox, /init, modules) unless one for the same inputs exists.
vm_ensure_initramfs() {
  local bb key out stage set name mods n p tree="$VM_DIR/kernel/$VM_KVER"
  bb=$(dpkg -L busybox-static | grep -m1 '/bin/busybox$') || die "busybox-static has no /bin/busybox"
  key=$( { echo "$VM_KVER"; printf '%s\n' "${VM_MODULE_SETS[@]}"; cat "$bb" "$VM_INIT_TEMPLATE" "$VM_SETUP_SELF"; } \
         | sha256sum | cut -c1-16)
  out="$VM_DIR/initramfs-$key.cpio.gz"
  if [ -f "$out" ]; then VM_INITRD=$out; return 0; fi
  log "building $out"
  stage=$(mktemp -d "$VM_DIR/.initramfs.XXXXXX")
  mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules}
  cp "$bb" "$stage/bin/busybox"
  for n in $("$bb" --list); do [ "$n" = busybox ] || ln -s busybox "$stage/bin/$n"; done
  install -m 0755 "$VM_INIT_TEMPLATE" "$stage/init"
  for set in "${VM_MODULE_SETS[@]}"; do
    name=${set%%:*}; mods=${set#*:}
    # shellcheck disable=SC2086 # one argument per module
    vm_module_closure $mods >"$stage/lib/modules/$name.list.tmp" || die "cannot resolve modules $mods"
    while read -r n p; do
      echo "$n" >>"$stage/lib/modules/$name.list"
      [ -f "$stage/lib/modules/$n.ko" ] && continue
      case $p in
        *.xz) xz -dc "$tree/lib/modules/$VM_KVER/$p" >"$stage/lib/modules/$n.ko" ;;
        *.ko) cp "$tree/lib/modules/$VM_KVER/$p" "$stage/lib/modules/$n.ko" ;;
        *) die "unsupported module compression: $p" ;;
      esac
    done <"$stage/lib/modules/$name.list.tmp"
    rm "$stage/lib/modules/$name.list.tmp"
  done
  (cd "$stage" && find . | "$bb" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 >"$out.tmp") || die "cpio failed"
  mv "$out.tmp" "$out"
  rm -rf "$stage"
  find "$VM_DIR" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -path "$out" -delete
  VM_INITRD=$out
}

# Installs/builds everything (serialised by a lock so parallel runs don't race) and prints
# "kernel-version vmlinuz initramfs" on stdout; logs go to stderr.
vm_setup() {
  mkdir -p "$VM_DIR"
  exec 9>"$VM_DIR/setup.lock"
  flock 9
  vm_ensure_packages
  vm_ensure_kernel
  vm_ensure_initramfs
  exec 9>&-
  echo "$VM_KVER $VM_DIR/kernel/$VM_KVER/boot/vmlinuz-$VM_KVER $VM_INITRD"
}
