#!/bin/sh
# /init of the scripts/vm-run guest (busybox sh, runs as PID 1 from the initramfs).
# Mounts the host's / over 9p, prepares a chroot of it, runs the job that vm-run wrote
# into its job folder, records the exit code there and powers off.
# shellcheck shell=sh disable=SC2013 # word lists on purpose
export PATH=/bin

mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

# Anything going wrong here must end the VM (a dying PID 1 panics, panic=-1 reboots, -no-reboot exits qemu).
fail() { echo "vm-init: $*"; sync; poweroff -f; sleep 10; }

load_modules() { # $1: list in /lib/modules (dependency order), $2...: parameters for the last module
  list=/lib/modules/$1.list; shift
  [ -f "$list" ] || fail "no module list $list"
  last=$(tail -n 1 "$list")
  for m in $(cat "$list"); do
    [ -d "/sys/module/$m" ] && continue
    if [ "$m" = "$last" ]; then insmod "/lib/modules/$m.ko" "$@" || fail "insmod $m $* failed"
    else insmod "/lib/modules/$m.ko" || fail "insmod $m failed"; fi
  done
}

job='' cache=mmap
for arg in $(cat /proc/cmdline); do
  case $arg in
    vmrun.job=*) job=${arg#vmrun.job=} ;;
    vmrun.cache=*) cache=${arg#vmrun.cache=} ;;
  esac
done
[ -n "$job" ] || fail "no vmrun.job= on the kernel command line"

# 9p stack, then ublk; ublks_max raises the default cap of 64 devices.
load_modules base
load_modules ublk ublks_max=8192

mkdir -p /raw /host
mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,cache=$cache" hostroot /raw || fail "cannot mount the host's / over 9p"
[ -f "/raw$job/job.sh" ] || fail "job file /raw$job/job.sh not found"
# /host is what the command sees; /raw keeps the unhidden host tree for bind-backs and the exit code.
mount --bind /raw /host

if [ -f "/raw$job/null_blk" ]; then
  # shellcheck disable=SC2046 # word splitting of the parameters is intended
  load_modules null_blk $(cat "/raw$job/null_blk")
fi

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
ln -sf pts/ptmx /host/dev/ptmx
# What udev would add: bash's process substitution <(...) opens /dev/fd/N.
ln -sfn /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=0755 tmpfs /host/run
[ -d /sys/module/configfs ] && mount -t configfs configfs /host/sys/kernel/config

# The fresh tmpfs mounts hide host folders (a CI clone under /tmp, say): bind those back.
if [ -f "/raw$job/binds" ]; then
  while read -r p; do
    [ -n "$p" ] || continue
    { mkdir -p "/host$p" && mount --bind "/raw$p" "/host$p"; } || fail "cannot bind $p back into the guest"
  done <"/raw$job/binds"
fi

# /lib/modules/$(uname -r) is the unpacked guest kernel (so plain modprobe works), without touching
# the host's /lib/modules, which may not even exist: a read-only overlay on the folder holding
# lib/modules (/usr/lib when /lib links there) puts a tmpfs folder with an empty <release>/ over the
# host's, and the kernel tree is bound onto that. Everything else in that folder is the host's.
if [ -f "/raw$job/kernel_tree" ]; then
  tree=$(cat "/raw$job/kernel_tree") kver=$(uname -r)
  [ -d "/raw$tree/lib/modules/$kver" ] || fail "kernel tree $tree has no lib/modules/$kver"
  libdir=$(cd /host/lib && pwd -P) || fail "no /lib in the host's /"
  case $libdir in /host/*) ;; *) fail "/lib leads out of the host's / ($libdir)" ;; esac
  mkdir -p "/modtop/modules/$kver"
  mount -t overlay -o "lowerdir=/modtop:/raw${libdir#/host}" overlay "$libdir" || fail "cannot mount an overlay on ${libdir#/host}"
  mount --bind "/raw$tree/lib/modules/$kver" "/host/lib/modules/$kver" || fail "cannot bind $tree onto /lib/modules/$kver"
fi

ip link set lo up
hostname localhost

# Command output goes over virtio-serial ports (fast, binary-safe, no tty \r), the console keeps kernel noise.
out=/dev/null err=/dev/null
for p in /sys/class/virtio-ports/*; do
  case $(cat "$p/name" 2>/dev/null) in
    vmrun.stdout) out=/dev/${p##*/} ;;
    vmrun.stderr) err=/dev/${p##*/} ;;
  esac
done

cp "/raw$job/job.sh" /host/run/vm-run-job.sh
env -i chroot /host /bin/bash /run/vm-run-job.sh </dev/null >"$out" 2>"$err"
rc=$?

echo "$rc" >"/raw$job/rc.tmp" && mv "/raw$job/rc.tmp" "/raw$job/rc"
sync
poweroff -f
sleep 10
