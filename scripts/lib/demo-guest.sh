#!/usr/bin/env bash
# The demo itself (runs where ublk exists): export two devices from the memory target, verify one
# with fio, put ext4 on the other, show the metrics, then stop the server (which deletes them).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
bin/ublk-server features
echo "== starting: bin/ublk-server run --target memory --size 256MiB --count 2 --metrics-port 9400"
bin/ublk-server run --target memory --size 256MiB --count 2 --metrics-port 9400 --ready-file "$work/ready" \
  2>"$work/server.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  [ -f "$work/ready" ] && break
  kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done
mapfile -t devs <"$work/ready"
echo "== devices: ${devs[*]}"
lsblk "${devs[@]}"
echo "== fio write + crc32c verify on ${devs[0]}"
(cd "$work" && fio --name=demo --filename="${devs[0]}" --direct=1 --rw=randwrite --bs=4k-128k --size=64m \
  --ioengine=io_uring --iodepth=16 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --disk_util=0 \
  | grep -E "err=|IOPS|bw=")
echo "== ext4 on ${devs[1]}"
grep -qw ext4 /proc/filesystems || modprobe -d "${UBLK_VM_KERNEL_TREE:-/}" ext4
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
busybox wget -qO- http://127.0.0.1:9400/metrics 2>/dev/null | grep -E "^ublk_(devices|worker_requests_total|bounce_(acquires_total|slots_peak|pool_bytes))" || true
echo "== stopping the server (SIGTERM): it deletes its devices"
kill -TERM $pid; wait $pid || true; trap - EXIT
ls /dev/ublkb* 2>/dev/null && echo "leftover devices!" && exit 1
echo "demo done: no ublk devices left"
