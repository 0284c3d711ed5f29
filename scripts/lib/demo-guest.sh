#!/usr/bin/env bash
# The demo itself (runs where ublk exists): two devices over the write-back cache target, their
# volumes kept in the embedded local store (a folder). fio writes and verifies one, ext4 goes on
# the other, the metrics show the uploads; then stop, drain, wipe the cache folder and wake cold:
# fio verifies the data again, now read from the store alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
store=(--store local --store-dir "$work/store")
cache=(--cache-dir "$work/cache" --volume demo --count 2)
# Small bounds so the 64 MiB fio run really uploads while it writes; --parallel 1: demo-0, demo-1 in id order.
run=(bin/ublk-server run --target cache "${store[@]}" "${cache[@]}" --max-dirty 16MiB --upload-delay 1s
     --parallel 1 --metrics-port 9400)
fio_job=(fio --name=demo --direct=1 --rw=randwrite --bs=16k --size=64m --ioengine=io_uring --iodepth=16
         --randseed=7 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --disk_util=0)

start() {  # start "$@": runs the server in the background, waits for its ready file
  rm -f "$work/ready"
  echo "== starting: ${run[*]} $*"
  "${run[@]}" "$@" --ready-file "$work/ready" 2>>"$work/server.log" >/dev/null &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 600); do
    [ -f "$work/ready" ] && break
    kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.5
  done
  mapfile -t devs <"$work/ready"
  echo "== devices: ${devs[*]}"
}
stop() {
  echo "== stopping the server (SIGTERM): it deletes its devices"
  kill -TERM $pid; wait $pid || true; trap - EXIT
}
metrics() {
  busybox wget -qO- http://127.0.0.1:9400/metrics 2>/dev/null | grep -E "^ublk_(devices|cache_(upload_rounds|upload_bytes|read_misses|dirty_bytes)|store_(segment_puts|manifest_puts|read_bytes))" || true
}

bin/ublk-server features
start --size 256MiB
lsblk "${devs[@]}"
echo "== fio write + crc32c verify on ${devs[0]} (volume demo-0)"
(cd "$work" && "${fio_job[@]}" --filename="${devs[0]}" | grep -E "err=|IOPS|bw=")
echo "== ext4 on ${devs[1]} (volume demo-1)"
grep -qw ext4 /proc/filesystems || modprobe ext4
mkfs.ext4 -q "${devs[1]}"
mkdir -p "$work/mnt"
mount "${devs[1]}" "$work/mnt"
head -c 10M /dev/urandom >"$work/mnt/random.bin"
sha=$(sha256sum <"$work/mnt/random.bin")
umount "$work/mnt"; mount "${devs[1]}" "$work/mnt"
[ "$(sha256sum <"$work/mnt/random.bin")" = "$sha" ] && echo "file survived remount: sha256 ${sha%% *}"
df -h "$work/mnt" | tail -1
umount "$work/mnt"
echo "== metrics (excerpt)"
metrics
stop

echo "== drain: upload what the cache folder holds, then wipe the cache folder"
bin/ublk-server drain "${store[@]}" "${cache[@]}"
rm -rf "$work/cache"
echo "store: $(find "$work/store" -type f | wc -l) objects, $(du -sh "$work/store" | cut -f1)"
echo "== cold wake: an empty cache folder, everything comes from the store"
start
(cd "$work" && "${fio_job[@]}" --filename="${devs[0]}" --verify_only | grep -E "err=|bw=")
mount "${devs[1]}" "$work/mnt"
[ "$(sha256sum <"$work/mnt/random.bin")" = "$sha" ] && echo "file survived the cold wake: sha256 ${sha%% *}"
umount "$work/mnt"
metrics | grep -E "read_misses|store_read_bytes"
stop
ls /dev/ublkb* 2>/dev/null && echo "leftover devices!" && exit 1
rm -rf "$work"
echo "demo done: no ublk devices left"
