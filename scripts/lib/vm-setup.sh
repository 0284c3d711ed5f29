# Installs and builds what scripts/vm-run needs; everything but the Debian packages is cached
# under $UBLK_CACHE/vm. Source after common.sh, then call vm_setup [6.12|7.2].
# shellcheck shell=bash

VM_DIR="$UBLK_CACHE/vm"
VM_INIT_TEMPLATE="$UBLK_ROOT/scripts/lib/vm-init.sh"
VM_SETUP_SELF="${BASH_SOURCE[0]}"
# Module sets of the initramfs, "set:modules"; each becomes a dependency-ordered list that
# the guest's /init loads: base and ublk at every boot, null_blk only on request.
# overlay: the guest's /lib/modules/$(uname -r) (see vm-init.sh).
VM_MODULE_SETS=("base:9pnet_virtio 9p overlay" "ublk:ublk_drv" "null_blk:null_blk")
# The guest kernels (vm-run --kernel): 6.12 from bookworm, the one its metapackage names (one
# linux-image package); 7.2 from trixie-backports, the newest linux-binary-7.2.*-amd64 there, with
# its linux-modules and linux-base packages of the same version (modules; config, modules.builtin).
VM_KERNELS="6.12 7.2"
VM_KERNEL_DEFAULT=6.12
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

# Prints "version release" of the newest linux-binary-7.2.N+debM-amd64 in trixie-backports
# (release: 7.2.N+debM-amd64, the kernel's uname -r and the packages' name suffix).
vm_resolve_kernel_72() {
  local best_v="" best_r="" v r
  while read -r r v; do
    if [ -z "$best_v" ] || dpkg --compare-versions "$v" gt "$best_v"; then best_v=$v; best_r=$r; fi
  done < <(apt-cache pkgnames linux-binary-7.2. 2>/dev/null | grep -E '^linux-binary-7\.2\.[0-9]+\+deb[0-9]+-amd64$' \
             | xargs -r apt-cache show 2>/dev/null | awk '
      /^Package:/ { p = $2 } /^Version:/ { v = $2 }
      /^$/ && p != "" { print substr(p, 14), v; p = "" }
      END { if (p != "") print substr(p, 14), v }')
  [ -n "$best_v" ] || die "no linux-binary-7.2.*-amd64 in trixie-backports (apt-cache pkgnames linux-binary-7.2.)"
  echo "$best_v $best_r"
}

# Where series $1 records its kernel release (6.12 keeps the file it always had).
vm_kernel_version_file() {
  if [ "$1" = 6.12 ]; then echo "$VM_DIR/kernel.version"; else echo "$VM_DIR/kernel-$1.version"; fi
}

# Downloads and unpacks the Debian kernel of series $1 into $VM_DIR/kernel/<release>/ as
# boot/vmlinuz-<release> and lib/modules/<release>/ (never into the host's /boot or /lib/modules).
vm_ensure_kernel() {
  local series=$1 ver pkgs=() tmp vfile deb version
  vfile=$(vm_kernel_version_file "$series")
  ver=$(cat "$vfile" 2>/dev/null || true)
  if [ -n "$ver" ] && [ -f "$VM_DIR/kernel/$ver/boot/vmlinuz-$ver" ] \
     && [ -f "$VM_DIR/kernel/$ver/lib/modules/$ver/modules.dep" ]; then
    VM_KVER=$ver; return 0
  fi
  case $series in
    6.12)
      apt_update_once
      pkgs=("$(vm_resolve_kernel_pkg)")
      ver=${pkgs[0]#linux-image-} ;;
    7.2)
      ensure_suite trixie-backports 1
      apt_update_once
      read -r version ver < <(vm_resolve_kernel_72) || exit 1
      pkgs=("linux-binary-$ver=$version" "linux-modules-$ver=$version" "linux-base-$ver=$version") ;;
  esac
  log "downloading ${pkgs[*]} into $VM_DIR/kernel"
  mkdir -p "$VM_DIR/kernel"
  tmp=$(mktemp -d "$VM_DIR/kernel/.download.XXXXXX")
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}" >/dev/null) \
    || { rm -rf "$tmp"; die "apt-get download ${pkgs[*]} failed"; }
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/tree" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }; done
  # depmod -b expects <base>/lib/modules; newer packages ship usr/lib/modules only.
  if [ -d "$tmp/tree/usr/lib/modules" ]; then
    mkdir -p "$tmp/tree/lib/modules"
    cp -a "$tmp/tree/usr/lib/modules/." "$tmp/tree/lib/modules/" && rm -rf "$tmp/tree/usr/lib/modules"
  fi
  # linux-binary keeps the image beside the modules (lib/modules/<release>/vmlinuz).
  if [ ! -f "$tmp/tree/boot/vmlinuz-$ver" ] && [ -f "$tmp/tree/lib/modules/$ver/vmlinuz" ]; then
    mkdir -p "$tmp/tree/boot" && mv "$tmp/tree/lib/modules/$ver/vmlinuz" "$tmp/tree/boot/vmlinuz-$ver"
  fi
  [ -f "$tmp/tree/boot/vmlinuz-$ver" ] || { rm -rf "$tmp"; die "${pkgs[*]}: no vmlinuz for $ver"; }
  [ -f "$tmp/tree/lib/modules/$ver/modules.builtin" ] || { rm -rf "$tmp"; die "${pkgs[*]}: no modules.builtin for $ver"; }
  # The packages ship no modules.dep; the guest's load order (and its modprobe) come from it.
  depmod -b "$tmp/tree" "$ver" || { rm -rf "$tmp"; die "depmod failed for $ver"; }
  rm -rf "${VM_DIR:?}/kernel/$ver"
  mv "$tmp/tree" "$VM_DIR/kernel/$ver"
  rm -rf "$tmp"
  echo "$ver" >"$vfile"
  VM_KVER=$ver
}

# Prints "name path" of the modules to load for the given names, dependencies first; modules
# built into the kernel (modules.builtin) need no loading and are left out.
vm_module_closure() {
  local dir="$VM_DIR/kernel/$VM_KVER/lib/modules/$VM_KVER"
  awk -F': *' -v want="$*" '
    function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p }
    FILENAME ~ /modules\.builtin$/ { builtin[base($1)] = 1; next }
    { n = base($1); path[n] = $1; deps[n] = $2 }
    function visit(n,   d, k, i) {
      if (n in done || n in builtin) return
      if (!(n in path)) { print "module " n " not found" > "/dev/stderr"; bad = 1; return }
      done[n] = 1
      k = split(deps[n], d, " ")
      for (i = k; i >= 1; i--) visit(base(d[i]))   # modules.dep lists the deepest dependency last
      print n, path[n]
    }
    END { k = split(want, w, " "); for (i = 1; i <= k; i++) visit(w[i]); exit bad }' "$dir/modules.builtin" "$dir/modules.dep"
}

# Builds the initramfs of series $1 (static busybox, /init, modules) unless one for the same
# inputs exists. Busybox's insmod takes plain .ko files only: compressed modules are unpacked.
vm_ensure_initramfs() {
  local series=$1 bb key out stage set name mods n p tree="$VM_DIR/kernel/$VM_KVER"
  bb=$(dpkg -L busybox-static | grep -m1 '/bin/busybox$') || die "busybox-static has no /bin/busybox"
  key=$( { echo "$VM_KVER"; printf '%s\n' "${VM_MODULE_SETS[@]}"; cat "$bb" "$VM_INIT_TEMPLATE" "$VM_SETUP_SELF"; } \
         | sha256sum | cut -c1-16)
  out="$VM_DIR/initramfs-$series-$key.cpio.gz"
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
        *.zst) command -v zstd >/dev/null || apt_install zstd
               zstd -q -dc "$tree/lib/modules/$VM_KVER/$p" >"$stage/lib/modules/$n.ko" ;;
        *.gz) gzip -dc "$tree/lib/modules/$VM_KVER/$p" >"$stage/lib/modules/$n.ko" ;;
        *.ko) cp "$tree/lib/modules/$VM_KVER/$p" "$stage/lib/modules/$n.ko" ;;
        *) die "unsupported module compression: $p" ;;
      esac
    done <"$stage/lib/modules/$name.list.tmp"
    rm "$stage/lib/modules/$name.list.tmp"
  done
  (cd "$stage" && find . | "$bb" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 >"$out.tmp") || die "cpio failed"
  mv "$out.tmp" "$out"
  rm -rf "$stage"
  # Older ones of this series, and those named before there were two series.
  find "$VM_DIR" -maxdepth 1 \( -name "initramfs-$series-*.cpio.gz" -o -regex '.*/initramfs-[0-9a-f]*\.cpio\.gz' \) \
    ! -path "$out" -delete
  VM_INITRD=$out
}

# Installs/builds everything for guest kernel series $1 (default 6.12; serialised by a lock so
# parallel runs don't race) and prints "kernel-version vmlinuz initramfs" on stdout; logs go to stderr.
vm_setup() {
  local series=${1:-$VM_KERNEL_DEFAULT}
  case " $VM_KERNELS " in *" $series "*) ;; *) die "unknown guest kernel '$series' (one of: $VM_KERNELS)" ;; esac
  mkdir -p "$VM_DIR"
  exec 9>"$VM_DIR/setup.lock"
  flock 9
  vm_ensure_packages
  vm_ensure_kernel "$series"
  vm_ensure_initramfs "$series"
  exec 9>&-
  echo "$VM_KVER $VM_DIR/kernel/$VM_KVER/boot/vmlinuz-$VM_KVER $VM_INITRD"
}
