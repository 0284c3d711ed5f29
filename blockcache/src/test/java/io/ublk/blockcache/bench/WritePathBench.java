package io.ublk.blockcache.bench;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The write path alone: one thread writes {@code --mib} MiB sequentially in {@code --write-size}
 * writes into a new cache volume whose store PUTs are held back until the writes are done (and
 * whose dirty bounds are above the volume, so nothing waits or spills), {@code --rounds} times, each on a new volume in the same
 * JVM. Prints MiB/s per round: what a worker's writes cost (journal append, dirty table), with
 * no store and no upload competing. Then it drains, untimed.
 */
public final class WritePathBench {
    private WritePathBench() {}

    public static void main(String[] argv) throws Exception {
        java.util.Map<String, String> a = BenchArgs.parse(argv, "dir");
        Path dir = Path.of(a.get("dir"));
        long total = Long.parseLong(a.getOrDefault("mib", "1024")) << 20;
        int writeSize = Integer.parseInt(a.getOrDefault("write-size", Integer.toString(128 << 10)));
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "3"));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment src = arena.allocate(1 << 20, 4096);
            byte[] noise = new byte[1 << 20];
            ThreadLocalRandom.current().nextBytes(noise);
            MemorySegment.copy(MemorySegment.ofArray(noise), 0, src, 0, noise.length);
            for (int round = 0; round < rounds; round++) {
                Path base = dir.resolve("r" + round);
                CacheConfig config = CacheConfig.of(base.resolve("cache"), "v", total)
                        .withSizes(total + (64L << 20), CacheConfig.DEFAULT_CLEAN_CACHE, CacheConfig.DEFAULT_SEGMENT)
                        .withDirtyMemory(total + (64L << 20));
                TimedStore held = TimedStore.wrap(new LocalObjectStore(base.resolve("store")));
                try (var store = held.store(); CacheTarget t = CacheTarget.open(config, store)) {
                    held.holdPuts();
                    long t0 = System.nanoTime();
                    int slice = 0;
                    for (long off = 0; off < total; off += writeSize) {
                        MemorySegment s = src.asSlice((slice++ * 4096L) % ((1 << 20) - writeSize + 1), writeSize);
                        int r = t.write(off, s, writeSize, 0, off, (tag, res) -> {});
                        if (r != writeSize) {
                            throw new IllegalStateException("write at " + off + " answered " + r
                                    + (r == BlockTarget.PENDING ? " (PENDING: it waited for room)" : ""));
                        }
                    }
                    long t1 = System.nanoTime();
                    System.out.printf("round %d: %d MiB in %.3f s = %.1f MiB/s%n", round, total >> 20, (t1 - t0) / 1e9,
                            (total >> 20) / ((t1 - t0) / 1e9));
                    held.releasePuts();
                    t.drain();
                }
            }
        }
    }
}
