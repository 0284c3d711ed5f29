package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.blockcache.Requests;
import java.lang.foreign.MemorySegment;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bound on dirty bytes: once they reach {@link CacheConfig#maxDirtyBytes()}, writes queue in
 * arrival order and run, on the uploader's thread, once uploads made room. A write never passes
 * one that queued before it, so the order the device saw is the order the journal gets.
 */
public final class WriteThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(WriteThrottle.class);

    /** Runs one write that waited; answers like {@link BlockTarget#write}. */
    interface Runner {
        int run(long offset, MemorySegment src, int length, int flags, long tag, Completion done);
    }

    private record PendingWrite(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {}

    private final long maxDirtyBytes;
    private final CacheStats stats;
    private final String volume;
    private final Runner runner;
    private final Queue<PendingWrite> waiters = new ConcurrentLinkedQueue<>();

    WriteThrottle(long maxDirtyBytes, CacheStats stats, String volume, Runner runner) {
        this.maxDirtyBytes = maxDirtyBytes;
        this.stats = stats;
        this.volume = volume;
        this.runner = runner;
    }

    /** Whether a write must queue now: others are waiting, or dirty bytes are at their bound. */
    boolean mustWait() {
        return !waiters.isEmpty() || stats.dirtyBytes.get() >= maxDirtyBytes;
    }

    void enqueue(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        waiters.add(new PendingWrite(offset, src, length, flags, tag, done));
        stats.writeWaits.increment();
    }

    public boolean hasWaiters() {
        return !waiters.isEmpty();
    }

    /** Runs queued writes while there is room; uploader thread. */
    public void resume() {
        PendingWrite w;
        while (stats.dirtyBytes.get() < maxDirtyBytes && (w = waiters.poll()) != null) {
            int r;
            try {
                r = runner.run(w.offset, w.src, w.length, w.flags, w.tag, w.done);
            } catch (RuntimeException e) {
                // e.g. a buffer this thread may not touch: that write fails, the uploader lives on
                LOG.error("volume '{}': a queued write failed", volume, e);
                r = -Requests.EIO;
            }
            if (r != BlockTarget.PENDING) {
                w.done.complete(w.tag, r);
            }
        }
    }

    /** Fails every queued write (close). */
    public void failAll() {
        PendingWrite w;
        while ((w = waiters.poll()) != null) {
            w.done.complete(w.tag, -Requests.EIO);
        }
    }
}
