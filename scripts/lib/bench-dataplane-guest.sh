#!/usr/bin/env bash
# The guest half of scripts/bench-dataplane (runs inside scripts/vm-run). Results go to $BENCH_OUT.
set -euo pipefail
runtime=${BENCH_RUNTIME:-10}
counts=${BENCH_COUNTS:-16 256 1024}
out=${BENCH_OUT:?}
work=$(mktemp -d)
srv_pid=

say() { echo "$*" | tee -a "$out"; }

# fio 4k random I/O; prints IOPS.
fio_iops() { # device rw qd
  fio --name=b --filename="$1" --direct=1 --rw="$2" --bs=4k --iodepth="$3" --ioengine=io_uring \
      --time_based --runtime="$runtime" --ramp_time=2 --size=512m --numjobs=1 \
      --output-format=json --output="$work/fio.json" >/dev/null
  python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jobs'][0]; k='read' if '$2'=='randread' else 'write'; print(int(j[k]['iops']))" "$work/fio.json"
}

start_server() { # args...
  rm -f "$work/ready"
  bin/ublk-server run --ready-file "$work/ready" "$@" >"$work/srv.out" 2>"$work/srv.err" &
  srv_pid=$!
  for _ in $(seq 1 3600); do
    [ -f "$work/ready" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || { tail -20 "$work/srv.err"; exit 1; }
    sleep 0.5
  done
  echo "server not ready" >&2; tail -20 "$work/srv.err"; exit 1
}
stop_server() { kill -TERM "$srv_pid"; wait "$srv_pid" || true; srv_pid=; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
metric() { busybox wget -qO- "http://127.0.0.1:9400/metrics" | awk -v n="$1" '$1 ~ "^"n"[{ ]" || $1 == n {s += $2} END {print s+0}'; }

: >"$out"
say "# Data-plane benchmarks ($(date -u +%Y-%m-%dT%H:%MZ))"
say ""
say "Command: \`scripts/bench-dataplane --runtime $runtime --counts \"$counts\"\` (one VM run: qemu TCG, 2 vCPUs,"
say "kernel $(uname -r); everything here runs 10-50x slower than native, so compare ratios, not absolutes)."
say ""
say "## 1. 4k random I/O IOPS: ublk null target vs null_blk vs loop over tmpfs"
say ""
say "fio: \`--direct=1 --bs=4k --ioengine=io_uring --time_based --runtime=$runtime --ramp_time=2\`;"
say "server: \`bin/ublk-server run --target null --size 1GiB --depth 128\` (workers: one per vCPU)."
say "null_blk: \`nr_devices=1 gb=1 bs=512 queue_mode=2 irqmode=0\`. loop: 1 GiB file on tmpfs, \`losetup\` (buffered)."
say ""
modprobe loop 2>/dev/null || true
truncate -s 1G /dev/shm/loop.img
loopdev=$(losetup -f --show /dev/shm/loop.img)
start_server --target null --size 1GiB --depth 128 --metrics-port 9400
ublk=$(head -1 "$work/ready")
# The JVM compiles the I/O path on first use (slowly under TCG): warm it up before measuring.
fio --name=warm --filename="$ublk" --direct=1 --rw=randrw --bs=4k --iodepth=32 --ioengine=io_uring \
    --time_based --runtime="${BENCH_WARMUP:-60}" --size=512m >/dev/null
fio --name=warm1 --filename="$ublk" --direct=1 --rw=randrw --bs=4k --iodepth=1 --ioengine=psync \
    --time_based --runtime="$(( ${BENCH_WARMUP:-60} / 2 ))" --size=512m >/dev/null
say "Warm-up before measuring: ${BENCH_WARMUP:-60} s of 4k randrw QD32 and half that at QD1 on the ublk device (JIT)."
say ""
say "| workload | ublk null | null_blk | loop/tmpfs | null / loop | null / null_blk |"
say "|---|---|---|---|---|---|"
for rw in randread randwrite; do
  for qd in 1 32; do
    a=$(fio_iops "$ublk" "$rw" "$qd"); b=$(fio_iops /dev/nullb0 "$rw" "$qd"); c=$(fio_iops "$loopdev" "$rw" "$qd")
    say "| $rw QD$qd | $a | $b | $c | $(python3 -c "print(f'{$a/$c:.2f}')") | $(python3 -c "print(f'{$a/$b:.2f}')") |"
  done
done
stop_server
losetup -d "$loopdev"; rm -f /dev/shm/loop.img
say ""

say "## 2. Server RSS per device (memory target, 4 MiB devices, depth 64, 2 workers x 16 slots x 128 KiB)"
say ""
say "| devices | VmRSS (KiB) | create time (s) |"
say "|---|---|---|"
prev_n= prev_rss= first_n= first_rss=
for n in $counts; do
  t0=$(date +%s)
  start_server --target memory --size 4MiB --count "$n" --depth 64 --workers 2 --pool-slots 16
  t1=$(date +%s)
  sleep 2
  r=$(rss_kb "$srv_pid")
  say "| $n | $r | $((t1 - t0)) |"
  [ -n "$first_n" ] || { first_n=$n; first_rss=$r; }
  prev_n=$n prev_rss=$r
  stop_server
done
if [ "$prev_n" != "$first_n" ]; then
  say ""
  say "Slope: $(( (prev_rss - first_rss) / (prev_n - first_n) )) KiB per device between $first_n and $prev_n devices (target <= 150 KB)."
fi
say ""

say "## 3. Bounce memory: configured bound vs measured peak"
say ""
say "Server: \`--target memory --size 256MiB --workers 2 --pool-slots 4 --latency 2ms\` (answers arrive late, so"
say "requests hold slots); fio: 4 jobs of 128k randwrite+verify at QD64 each, each on its own 64 MiB (256 requests in flight wanted, 8 slots exist)."
say ""
start_server --target memory --size 256MiB --workers 2 --pool-slots 4 --latency 2ms --depth 128 --queues 2 --metrics-port 9400
ublk=$(head -1 "$work/ready")
fio --name=p --filename="$ublk" --direct=1 --rw=randwrite --bs=128k --iodepth=64 --numjobs=4 --ioengine=io_uring \
    --size=64m --offset_increment=64m --group_reporting --verify=crc32c --verify_fatal=1 --verify_state_save=0 --output="$work/p.txt" >/dev/null
bound=$(metric ublk_bounce_pool_bytes)
peak_slots=$(metric ublk_bounce_slots_peak)
waits=$(metric ublk_bounce_backpressure_waits_total)
say "| configured bound (bytes) | measured peak (slots x 128 KiB) | backpressure waits | fio verify |"
say "|---|---|---|---|"
say "| $bound | $(python3 -c "print(int($peak_slots*131072))") | $waits | $(grep -q 'err= 0' "$work/p.txt" && echo ok || echo FAILED) |"
stop_server
say ""
