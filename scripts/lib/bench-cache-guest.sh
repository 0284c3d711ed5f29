#!/usr/bin/env bash
# The guest half of scripts/bench-cache (runs inside scripts/vm-run): sections 2 and 3 of the report
# as markdown into $BENCH_MD, the numbers the summary needs as shell assignments into $BENCH_KV.
set -euo pipefail
runtime=${BENCH_RUNTIME:-25}
warmup=${BENCH_WARMUP:-60}
mib=${BENCH_WRITE_MIB:-1024}
gib=$(python3 -c "print($mib / 1024)")
md=${BENCH_MD:?}
kv=${BENCH_KV:?}
scratch=${BENCH_SCRATCH:?}
work=$(mktemp -d) # guest tmpfs
srv_pid=
port=9400
# Heap for every server here: the 1 GiB clean cache of section 2 must fit with room to spare.
export UBLK_JAVA_OPTS="-Xmx3g"

say() { echo "$*" | tee -a "$md"; }
: >"$md"; : >"$kv"

start_server() { # args...
  rm -f "$work/ready"
  bin/ublk-server run --ready-file "$work/ready" --metrics-port "$port" "$@" >"$work/srv.out" 2>"$work/srv.err" &
  srv_pid=$!
  for _ in $(seq 1 3600); do
    [ -f "$work/ready" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || { tail -20 "$work/srv.err" >&2; exit 1; }
    sleep 0.5
  done
  echo "server not ready" >&2; tail -20 "$work/srv.err" >&2; exit 1
}
stop_server() { kill -TERM "$srv_pid"; wait "$srv_pid" || true; srv_pid=; }
# Sum of a Prometheus metric over all its label sets.
metric() { busybox wget -qO- "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 ~ "^"n"[{ ]" || $1 == n {s += $2} END {printf "%.0f\n", s+0}'; }
calc() { python3 -c "print($1)"; }

# fio 4k randread over the first 512 MiB; prints IOPS.
fio_read() { # device qd seconds [ramp]
  fio --name=r --filename="$1" --direct=1 --rw=randread --bs=4k --iodepth="$2" --ioengine=io_uring \
      --time_based --runtime="$3" --ramp_time="${4:-0}" --size=512m --numjobs=1 \
      --output-format=json --output="$work/fio.json" >/dev/null
  python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['jobs'][0]['read']['iops']))" "$work/fio.json"
}
warm() { # device: the JVM compiles the read path on first use (slowly under TCG)
  fio_read "$1" 32 "$warmup" >/dev/null
  fio_read "$1" 1 "$((warmup / 2))" >/dev/null
}
# Waits until nothing is dirty (every write is in a committed generation); prints the seconds it took.
await_drained() {
  local t0; t0=$(date +%s.%N)
  for _ in $(seq 1 36000); do
    [ "$(metric ublk_cache_dirty_bytes)" = 0 ] && { calc "round($(date +%s.%N) - $t0, 1)"; return 0; }
    sleep 0.5
  done
  echo "the cache never drained" >&2; exit 1
}

say "## 2. 4k randread on cache hits vs the null target (VM)"
say ""
say "fio: \`--rw=randread --bs=4k --direct=1 --ioengine=io_uring --size=512m --time_based --runtime=$runtime --ramp_time=2\`,"
say "QD1 and QD32, on each device in turn. Each device is first warmed up (JIT): ${warmup} s of the same at QD32, $((warmup / 2)) s at QD1."
say ""
say "- null: \`bin/ublk-server run --target null --size 1GiB --depth 128\`"
say "- cache: \`bin/ublk-server run --target cache --store local --store-dir /tmp/... --cache-dir /tmp/... --volume hits --size 1GiB --clean-cache 1GiB --depth 128\`"
say "  (other cache options default; guest tmpfs for both folders); the first 512 MiB written by fio (\`--rw=write --bs=128k --iodepth=8\`)"
say "  and uploaded (dirty bytes back to 0) before the warm-up, so every block is in the clean cache."
say ""
say "Both servers: \`UBLK_JAVA_OPTS=$UBLK_JAVA_OPTS\`, workers one per vCPU."
say ""
declare -A iops
start_server --target null --size 1GiB --depth 128
dev=$(head -1 "$work/ready")
warm "$dev"
iops[null1]=$(fio_read "$dev" 1 "$runtime" 2)
iops[null32]=$(fio_read "$dev" 32 "$runtime" 2)
stop_server

start_server --target cache --store local --store-dir "$work/store-hits" --cache-dir "$work/cache-hits" --volume hits \
  --size 1GiB --clean-cache 1GiB --depth 128
dev=$(head -1 "$work/ready")
fio --name=fill --filename="$dev" --direct=1 --rw=write --bs=128k --iodepth=8 --ioengine=io_uring --size=512m >/dev/null
fill_drain=$(await_drained)
warm "$dev"
declare -A hits misses
for qd in 1 32; do
  h0=$(metric ublk_cache_read_hits_total); m0=$(metric ublk_cache_read_misses_total)
  iops[cache$qd]=$(fio_read "$dev" "$qd" "$runtime" 2)
  hits[$qd]=$(( $(metric ublk_cache_read_hits_total) - h0 )); misses[$qd]=$(( $(metric ublk_cache_read_misses_total) - m0 ))
done
misses_all=$(metric ublk_cache_read_misses_total)
stop_server
say "| workload | ublk null | ublk cache | cache / null | cache read hits (blocks) | cache read misses |"
say "|---|---|---|---|---|---|"
for qd in 1 32; do
  r=$(calc "f'{${iops[cache$qd]}/${iops[null$qd]}:.2f}'")
  echo "read_ratio_qd$qd=$r" >>"$kv"
  say "| randread QD$qd | ${iops[null$qd]} | ${iops[cache$qd]} | $r | ${hits[$qd]} | ${misses[$qd]} |"
done
say ""
say "Read misses over the cache server's whole life (fill, warm-up, both runs): $misses_all. The fill took $fill_drain s to drain after fio ended."
say ""

if [ "${BENCH_PUTS:-1}" = 0 ]; then
  say "(Section 3, PUTs per GiB written, skipped: \`--no-puts\`.)"
  say ""
  exit 0
fi

say "## 3. PUTs per GiB written (VM)"
say ""
say "Server: \`bin/ublk-server run --target cache --store local --store-dir $scratch/... --cache-dir /tmp/... --volume V --size ${mib}MiB\`,"
say "every cache option at its default (128 KiB blocks, 32 MiB segments, max dirty 256 MiB, clean cache 256 MiB, upload delay 2 s,"
say "4 PUTs in flight); a fresh volume and server per workload. The store is on the host's disk (9p), not tmpfs: what random writes"
say "upload does not fit in guest memory. fio (\`--direct=1 --ioengine=io_uring --iodepth=32 --size=${mib}m\`) writes every byte of the"
say "device once; then the server uploads until dirty bytes are 0 (\"drain\", the time after fio ended). Counts are the server's metrics."
say ""
say "| workload | written | fio MiB/s | drain (s) | segment PUTs | manifest PUTs | checkpoint PUTs | total PUTs | PUTs per GiB written | uploaded bytes | uploaded / written | upload rounds | write waits | base blocks fetched |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for w in rand seq; do
  if [ $w = rand ]; then rw=randwrite bs=4k; else rw=write bs=128k; fi
  rm -rf "$scratch/store-$w"
  start_server --target cache --store local --store-dir "$scratch/store-$w" --cache-dir "$work/cache-$w" --volume "$w" --size "${mib}MiB"
  dev=$(head -1 "$work/ready")
  fio --name=w --filename="$dev" --direct=1 --rw=$rw --bs=$bs --iodepth=32 --ioengine=io_uring --size="${mib}m" \
      --output-format=json --output="$work/w.json" >/dev/null
  bw=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['jobs'][0]['write']['bw_bytes']/2**20, 1))" "$work/w.json")
  drain=$(await_drained)
  seg=$(metric ublk_store_segment_puts_total); man=$(metric ublk_store_manifest_puts_total)
  ck=$(metric ublk_store_checkpoint_puts_total); up=$(metric ublk_cache_upload_bytes_total)
  rounds=$(metric ublk_cache_upload_rounds_total); waits=$(metric ublk_cache_write_waits_total)
  fetched=$(metric ublk_cache_read_misses_total)
  stop_server
  rm -rf "$scratch/store-$w"
  total=$((seg + man + ck))
  per=$(calc "round($total / $gib, 1)"); wa=$(calc "f'{$up / ($gib * 2**30):.2f}'")
  echo "puts_per_gib_$w=$per" >>"$kv"; echo "wa_$w=$wa" >>"$kv"
  say "| $bs $rw | ${mib} MiB | $bw | $drain | $seg | $man | $ck | $total | $per | $up | $wa | $rounds | $waits | $fetched |"
done
say ""
