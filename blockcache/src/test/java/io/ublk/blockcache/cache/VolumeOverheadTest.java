package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.s3.LocalObjectStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The heap an open, idle cached volume holds beyond its block budgets, measured after a GC: what
 * {@link HeapBudget} adds per volume and per block must cover it, or the start-time heap check
 * would let a server run out of heap.
 */
class VolumeOverheadTest {
    static final int VOLUMES = 16;

    @TempDir Path tmp;

    @Test
    void anIdleVolumeHoldsNoMoreThanTheFixedOverheadHeapBudgetAssumes() throws Exception {
        long small = perVolume("small", 64L << 20);
        long large = perVolume("large", 4L << 30);
        long blocks = (4L << 30) / CacheConfig.DEFAULT_BLOCK_SIZE;
        System.out.printf("[overhead] idle volume: %d bytes at 64 MiB, %d bytes at 4 GiB (%d blocks)%n", small, large, blocks);
        assertThat(small).as("heap of an idle 64 MiB volume").isLessThanOrEqualTo(
                HeapBudget.FIXED_BYTES + (64L << 20) / CacheConfig.DEFAULT_BLOCK_SIZE * HeapBudget.PER_BLOCK_BYTES);
        assertThat(large).as("heap of an idle 4 GiB volume").isLessThanOrEqualTo(
                HeapBudget.FIXED_BYTES + blocks * HeapBudget.PER_BLOCK_BYTES);
    }

    /** Heap retained per open volume of {@code size} bytes, idle after a write and a drain. */
    private long perVolume(String name, long size) throws Exception {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve(name + "-store"))) {
            List<CacheTarget> open = new ArrayList<>();
            long before = CacheBoundsTest.heapAfterGc();
            try {
                for (int i = 0; i < VOLUMES; i++) {
                    CacheTarget t = CacheTarget.open(CacheConfig.of(tmp.resolve(name + "-cache"), "v" + i, size), store);
                    open.add(t);
                    try (Io io = new Io(t)) {
                        io.write(0, new byte[4096], 0);
                    }
                    t.drain();
                }
                return (CacheBoundsTest.heapAfterGc() - before - cleanBytes(open)) / VOLUMES;
            } finally {
                for (CacheTarget t : open) {
                    t.close();
                }
            }
        }
    }

    private static long cleanBytes(List<CacheTarget> open) {
        long n = 0;
        for (CacheTarget t : open) {
            n += t.stats().cleanBytes() + t.stats().dirtyMemory();
        }
        return n;
    }
}
