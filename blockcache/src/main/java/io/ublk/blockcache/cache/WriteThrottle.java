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
 * The bounds on dirty bytes and on the journal: once dirty bytes reach
 * {@link CacheConfig#maxDirtyBytes()}, or the journal bytes of epochs not committed yet reach
 * {@link CacheConfig#maxJournalBytes()}, writes queue in arrival order and run, on the uploader's
 * thread, once uploads made room. A write never passes
 * one that queued before it, so the order the device saw is the order the journal gets.
 */
public final class WriteThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(WriteThrottle.class);

    /** Runs one write that waited; answers like {@link BlockTarget#write}. */
    interface Runner {
        int run(long offset, MemorySegment src, int length, int flags, long tag, Completion done);
    }

    private record PendingWrite(long offset, MemorySegment src, int length, int flags, long tag, Completion done,
            long since) {}

    private record Admission(int length, long tag, Completion done, long since) {}

    private final long maxDirtyBytes;
    private final long maxJournalBytes;
    private final CacheStats stats;
    private final String volume;
    private final Runner runner;
    private final Queue<PendingWrite> waiters = new ConcurrentLinkedQueue<>();
    /** Writes that asked for room before taking a bounce slot ({@link #admitLater}), in arrival order. */
    private final Queue<Admission> admissions = new ConcurrentLinkedQueue<>();

    WriteThrottle(long maxDirtyBytes, long maxJournalBytes, CacheStats stats, String volume, Runner runner) {
        this.maxDirtyBytes = maxDirtyBytes;
        this.maxJournalBytes = maxJournalBytes;
        this.stats = stats;
        this.volume = volume;
        this.runner = runner;
    }

    /** Whether a write must queue now: others are waiting, or dirty or journal bytes are at their bound. */
    boolean mustWait() {
        return !waiters.isEmpty() || room() <= 0;
    }

    /** Bytes writes may add before one of the two bounds is reached. */
    private long room() {
        return Math.min(maxDirtyBytes - stats.dirtyBytes.get(), maxJournalBytes - stats.journalPendingBytes.get());
    }

    /** Whether a write asking for room must wait: others asked before it, or a write must wait now. */
    boolean mustAdmitLater() {
        return !admissions.isEmpty() || mustWait();
    }

    /** Answers {@code done} with 0 once there is room for {@code length} more bytes, behind earlier ones. */
    void admitLater(int length, long tag, Completion done) {
        admissions.add(new Admission(length, tag, done, System.nanoTime()));
        stats.writeWaits.increment();
    }

    void enqueue(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        waiters.add(new PendingWrite(offset, src, length, flags, tag, done, System.nanoTime()));
        stats.writeWaits.increment();
    }

    public boolean hasWaiters() {
        return !waiters.isEmpty() || !admissions.isEmpty();
    }

    /**
     * Runs queued writes while there is room, then admits waiting ones as far as the room left
     * goes (not a reservation: an admitted write that finds no room still queues); uploader thread.
     */
    public void resume() {
        runQueued();
        long room = room();
        Admission a;
        while (waiters.isEmpty() && room > 0 && (a = admissions.poll()) != null) {
            room -= a.length;
            a.done.complete(a.tag, 0);
        }
    }

    private void runQueued() {
        PendingWrite w;
        while (room() > 0 && (w = waiters.poll()) != null) {
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

    /**
     * Answers EIO to the writes that waited longer than {@code timeoutNanos} (oldest first: the
     * queues are in arrival order), counted in {@link CacheStats#ioTimeouts()}; any thread.
     */
    void expire(long now, long timeoutNanos) {
        Admission a;
        while ((a = admissions.peek()) != null && now - a.since > timeoutNanos) {
            if (admissions.remove(a)) { // not taken by resume() meanwhile
                stats.ioTimeouts.increment();
                a.done.complete(a.tag, -Requests.EIO);
            }
        }
        PendingWrite w;
        while ((w = waiters.peek()) != null && now - w.since > timeoutNanos) {
            if (waiters.remove(w)) {
                stats.ioTimeouts.increment();
                w.done.complete(w.tag, -Requests.EIO);
            }
        }
    }

    /** Fails every queued write and admission (close, a fenced or failed volume). */
    public void failAll() {
        PendingWrite w;
        while ((w = waiters.poll()) != null) {
            w.done.complete(w.tag, -Requests.EIO);
        }
        Admission a;
        while ((a = admissions.poll()) != null) {
            a.done.complete(a.tag, -Requests.EIO);
        }
    }
}
