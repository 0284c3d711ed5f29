package io.ublk.blockcache.cache;

/**
 * The most heap one open cached volume holds: its block budgets plus a fixed overhead, measured
 * by {@code VolumeOverheadTest} (an idle volume after a GC). Block bytes: the clean cache; dirty
 * blocks in memory (never more than {@code --max-dirty} either), and as many again in reusable
 * arrays waiting for the next writes; one segment of blocks a compaction moves, or merge reads
 * of one segment in flight. The journal lanes' staging buffers and the segment buffers are off
 * the heap.
 */
public final class HeapBudget {
    /**
     * Per open volume, whatever its size: the cache structures, the lease, the uploader's state.
     * Measured 2026-12-02: about 143 KiB (16 idle volumes, JDK 25, G1).
     */
    public static final long FIXED_BYTES = 256L << 10;
    /** Per block of the volume: the committed index and the dirty table's slots. Measured: about 12 bytes. */
    public static final long PER_BLOCK_BYTES = 16;

    private HeapBudget() {
    }

    /** Heap bytes {@code c} may hold for a volume of {@code volumeBytes} (0: not known yet, the index not counted). */
    public static long of(CacheConfig c, long volumeBytes) {
        return c.cleanCacheBytes() + 2 * dirtyInMemory(c) + c.segmentBytes() + FIXED_BYTES
                + volumeBytes / c.blockSize() * PER_BLOCK_BYTES;
    }

    /** The most dirty block bytes {@code c} keeps in memory: {@code --dirty-memory}, and never more than {@code --max-dirty}. */
    public static long dirtyInMemory(CacheConfig c) {
        return Math.min(c.dirtyMemoryBytes(), c.maxDirtyBytes());
    }
}
