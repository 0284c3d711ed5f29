package io.ublk.blockcache.cache.dirty;

import java.util.ArrayList;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Block-sized arrays for dirty versions, reused: a write takes one that an evicted clean block,
 * a spilled version or a merged partial version gave back, instead of a new one. In steady state
 * the write path then allocates nothing, and the collector never copies or zeroes block bytes.
 *
 * <p>An array given back may still be read by a reader that found it just before it was
 * unlinked, so it waits out a {@link ReadGuard} era before it is handed out again. Takers are
 * any thread and never wait (an empty pool allocates); {@link #retire} is any thread;
 * {@link #reclaim} is the uploader's. At most {@code max} arrays wait free; more go to the
 * collector.
 */
public final class BlockArrays {
    private final int blockSize;
    private final int max;
    private final ReadGuard guard;
    private final ConcurrentLinkedQueue<byte[]> free = new ConcurrentLinkedQueue<>();
    private final AtomicInteger freeCount = new AtomicInteger();
    private final ConcurrentLinkedQueue<byte[]> retired = new ConcurrentLinkedQueue<>();
    /** Arrays unlinked before era {@link #waitingEra} ended; the reclaimer's own. */
    private final ArrayList<byte[]> waiting = new ArrayList<>();
    private long waitingEra = -1;
    private final java.util.concurrent.atomic.LongAdder reuses = new java.util.concurrent.atomic.LongAdder();

    public BlockArrays(int blockSize, int max, ReadGuard guard) {
        this.blockSize = blockSize;
        this.max = max;
        this.guard = guard;
    }

    /** An array of the block size with undefined contents. */
    byte[] take() {
        byte[] a = free.poll();
        if (a == null) {
            return new byte[blockSize];
        }
        freeCount.decrementAndGet();
        reuses.increment();
        return a;
    }

    /** Gives back an array nothing links to anymore (readers may still be copying from it). */
    public void retire(byte[] a) {
        if (a != null && a.length == blockSize) {
            retired.add(a);
        }
    }

    /** Hands out arrays whose readers are gone, and starts the grace period of the newly retired. Uploader only. */
    public void reclaim() {
        if (waitingEra >= 0) {
            if (!guard.quiet(waitingEra)) {
                return;
            }
            for (byte[] a : waiting) {
                if (freeCount.get() >= max) {
                    break;
                }
                free.add(a);
                freeCount.incrementAndGet();
            }
            waiting.clear();
            waitingEra = -1;
        }
        byte[] a;
        while ((a = retired.poll()) != null) {
            waiting.add(a);
        }
        if (!waiting.isEmpty()) {
            waitingEra = guard.flip();
        }
    }

    int free() {
        return freeCount.get();
    }

    /** Arrays handed out again so far. */
    public long reuses() {
        return reuses.sum();
    }
}
