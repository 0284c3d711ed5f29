package io.ublk.blockcache.bench;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

/**
 * Store PUTs per GiB written: one thread writes {@code --write-mib} MiB to a new cache volume of
 * {@code --volume-mib} MiB over the embedded local store, in {@code --pattern rand4k} (4 KiB at
 * random 4 KiB-aligned offsets) or {@code seq128k} (128 KiB sequential, wrapping) writes, with
 * the cache's default config, then drains. Prints {@code key value} lines: segment, manifest and
 * checkpoint PUTs, their total per GiB written, bytes uploaded (write amplification) and the
 * store reads the uploader's merges of partial blocks needed.
 *
 * <p><b>Why a whole process, not JMH</b> (the component benchmarks are in {@code src/jmh}): it
 * counts requests and bytes, not time. The counts follow from the write pattern and the cache's
 * policy (segment size, upload rounds, compaction), the same on every run of the same input, so
 * one run of the whole workload is the measurement: no warm-up, no iterations, no statistics. A
 * JMH benchmark would time the writes, which is {@code CacheTargetWriteBenchmark}'s job; the
 * write and drain seconds printed here are for orientation only.
 */
public final class PutCountBench {
    private PutCountBench() {}

    public static void main(String[] argv) throws Exception {
        java.util.Map<String, String> a = BenchArgs.parse(argv, "store-dir", "cache-dir");
        Path store = Path.of(a.get("store-dir"));
        Path cache = Path.of(a.get("cache-dir"));
        long volume = Long.parseLong(a.getOrDefault("volume-mib", "1024")) << 20;
        long write = Long.parseLong(a.getOrDefault("write-mib", "1024")) << 20;
        String pattern = a.getOrDefault("pattern", "rand4k");
        int io = pattern.equals("rand4k") ? 4096 : 128 * 1024;
        CacheConfig config = CacheConfig.of(cache, "v", volume);
        // Shared, as a bounce slot is: a write that waits for room is finished by the uploader thread.
        try (LocalObjectStore s = new LocalObjectStore(store); Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(io, 4096);
            SplittableRandom r = new SplittableRandom(1);
            long t0 = System.nanoTime();
            CacheStats stats;
            try (CacheTarget t = CacheTarget.open(config, s)) {
                long before = t.stats().manifestPuts(); // the open's claim
                long offset = 0;
                for (long done = 0; done < write; done += io) {
                    for (int i = 0; i < io; i += 8) {
                        buf.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
                    }
                    long at = pattern.equals("rand4k") ? 4096L * r.nextLong(volume / 4096) : offset;
                    offset = (offset + io) % volume;
                    int res = await((tag, d) -> t.write(at, buf, io, 0, tag, d));
                    if (res != io) {
                        throw new IllegalStateException("write at " + at + " answered " + res);
                    }
                }
                long written = System.nanoTime();
                t.drain();
                long drained = System.nanoTime();
                stats = t.stats();
                long puts = stats.segmentPuts() + stats.manifestPuts() - before + stats.checkpointPuts();
                double gib = write / (double) (1L << 30);
                out("pattern", pattern);
                out("volume_mib", volume >> 20);
                out("written_mib", write >> 20);
                out("write_seconds", (written - t0) / 1e9);
                out("drain_seconds", (drained - written) / 1e9);
                out("upload_rounds", stats.uploadRounds());
                out("segment_puts", stats.segmentPuts());
                out("manifest_puts", stats.manifestPuts() - before);
                out("checkpoint_puts", stats.checkpointPuts());
                out("compactions", stats.compactions());
                out("puts_total", puts);
                out("puts_per_gib", puts / gib);
                out("uploaded_mib", stats.uploadedBytes() >> 20);
                out("write_amplification", stats.uploadedBytes() / (double) write);
                out("store_read_mib_for_merges", stats.storeReadBytes() >> 20);
                out("write_waits", stats.writeWaits());
                out("spilled_blocks", stats.spilledBlocks());
            }
        }
    }

    private interface Op {
        int call(long tag, io.ublk.blockcache.Completion done);
    }

    private static int await(Op op) throws Exception {
        CompletableFuture<Integer> late = new CompletableFuture<>();
        int r = op.call(1, (tag, result) -> late.complete(result));
        return r == BlockTarget.PENDING ? late.get() : r;
    }

    private static void out(String key, Object value) {
        System.out.println(key + " " + value);
    }
}
