#!/usr/bin/env bash
# The demo itself (runs where ublk exists): the daemon serves two devices over the write-back
# cache target, their volumes kept in the embedded local store (a folder). fio writes and verifies
# one, ext4 goes on the other; then the daemon is killed (SIGKILL) with the filesystem mounted, and
# a new daemon takes both devices back (USER_RECOVERY): same /dev/ublkbN, the filesystem still
# mounted, the data intact. Then a drain and a cold read from the store, and a clean stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
sock="$work/admin.sock"
ublk=(bin/ublk-server)
# Small bounds so the 64 MiB fio run really uploads while it writes.
cache=(--target cache --store local --store-dir "$work/store" --cache-dir "$work/cache" --size 256MiB
       --max-dirty 16MiB --upload-delay 1s)
fio_job=(fio --name=demo --direct=1 --rw=randwrite --bs=16k --size=64m --ioengine=io_uring --iodepth=16
         --randseed=7 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --disk_util=0)

start() {  # the daemon in the background; ready once its socket answers
  echo "== starting: ${ublk[*]} daemon --state-dir $work/state --socket $sock --metrics-port 9400"
  "${ublk[@]}" daemon --state-dir "$work/state" --socket "$sock" --metrics-port 9400 2>>"$work/daemon.log" >/dev/null &
  pid=$!
  trap 'kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; umount -l "$work/mnt" 2>/dev/null; "${ublk[@]}" delete --stale >/dev/null 2>&1 || true' EXIT
  for _ in $(seq 1 600); do
    "${ublk[@]}" daemon status --socket "$sock" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
    sleep 0.5
  done
}
dev() { "${ublk[@]}" "$@" --socket "$sock"; }
metrics() {
  busybox wget -qO- http://127.0.0.1:9400/metrics 2>/dev/null | grep -E "^ublk_(devices|cache_(upload_rounds|upload_bytes|read_misses|dirty_bytes)|store_(segment_puts|manifest_puts|read_bytes))" || true
}

"${ublk[@]}" features
start
a=$(dev device add "${cache[@]}" --volume demo-0)
b=$(dev device add "${cache[@]}" --volume demo-1)
dev device list
echo "== fio write + crc32c verify on $a (volume demo-0)"
(cd "$work" && "${fio_job[@]}" --filename="$a" | grep -E "err=|IOPS|bw=")
echo "== ext4 on $b (volume demo-1), left mounted"
grep -qw ext4 /proc/filesystems || modprobe ext4
mkfs.ext4 -q "$b"
mkdir -p "$work/mnt"
mount "$b" "$work/mnt"
head -c 10M /dev/urandom >"$work/mnt/random.bin"
sync
sha=$(sha256sum <"$work/mnt/random.bin")
echo "== metrics (excerpt)"
metrics

echo "== kill -9 the daemon: the kernel keeps both devices, I/O queued, ext4 stays mounted"
kill -9 $pid; wait $pid 2>/dev/null || true
ls -l "$a" "$b"
echo "== a new daemon takes them back"
t0=$(date +%s.%N)
start
echo "back in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s:"
dev device list
[ "$(sha256sum <"$work/mnt/random.bin")" = "$sha" ] && echo "file intact on the still-mounted ext4: sha256 ${sha%% *}"
(cd "$work" && "${fio_job[@]}" --filename="$a" --verify_only | grep -E "err=|bw=")
umount "$work/mnt"
fsck.ext4 -n -f "$b" >/dev/null && echo "fsck -n: clean"

echo "== drain demo-0, drop its clean cache: the verify now reads from the store"
dev volume drain demo-0 --drop-clean
(cd "$work" && "${fio_job[@]}" --filename="$a" --verify_only | grep -E "err=|bw=")
metrics | grep -E "read_misses|store_read_bytes"
echo "store: $(find "$work/store" -type f | wc -l) objects, $(du -sh "$work/store" | cut -f1)"

echo "== daemon stop: deletes its devices"
dev daemon stop
wait $pid || true; trap - EXIT
ls /dev/ublkb* 2>/dev/null && echo "leftover devices!" && exit 1
rm -rf "$work"
echo "demo done: no ublk devices left"
