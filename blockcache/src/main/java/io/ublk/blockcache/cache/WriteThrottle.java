package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.blockcache.Requests;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounds on dirty bytes and on the journal: once dirty bytes reach
 * {@link CacheConfig#maxDirtyBytes()}, or the journal bytes of epochs not committed yet reach
 * {@link CacheConfig#maxJournalBytes()}, writes queue in arrival order and run, on the uploader's
 * thread, once uploads made room. A write never passes
 * one that queued before it, so the order the device saw is the order the journal gets.
 *
 * <p><b>A full or failing journal disk</b> (ENOSPC, EIO on append) is a third reason to wait: the
 * write that failed queues, every write after it queues behind it, and the uploader tries the
 * oldest again every {@link #RETRY_NANOS} until an append succeeds (uploads trim the journal and
 * give space back; an operator may free some). Nothing is answered that is not in the journal;
 * {@code --io-timeout} bounds the wait.
 */
public final class WriteThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(WriteThrottle.class);

    /** What a {@link Runner} answers when the journal could not take the write: it waits and is tried again. */
    static final int STALLED = BlockTarget.PENDING + 1; // never an answer: PENDING, errnos and lengths differ
    /** How often a write that met a full or failing journal disk is tried again. */
    static final long RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** Runs one write that waited; answers like {@link BlockTarget#write}, or {@link #STALLED}. */
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
    /** The oldest queued write, taken out by the uploader after its append failed; tried again first. */
    private final AtomicReference<PendingWrite> retry = new AtomicReference<>();
    /** Set when an append failed, cleared when one succeeds again: writes queue meanwhile. */
    private volatile boolean stalled;
    /** When the uploader may try the oldest write again (uploader thread only). */
    private long retryAt;
    /** When the current stall began (for its log lines). */
    private volatile long stalledSince;

    WriteThrottle(long maxDirtyBytes, long maxJournalBytes, CacheStats stats, String volume, Runner runner) {
        this.maxDirtyBytes = maxDirtyBytes;
        this.maxJournalBytes = maxJournalBytes;
        this.stats = stats;
        this.volume = volume;
        this.runner = runner;
    }

    /** Whether a write must queue now: others are waiting, or dirty or journal bytes are at their bound. */
    boolean mustWait() {
        return stalled || !waiters.isEmpty() || room() <= 0;
    }

    /**
     * Marks the journal disk as unable to take appends now (any thread): the write that met it
     * queues ({@link #enqueue}) or stays first in line, and every later write queues behind it.
     */
    void stall(IOException why) {
        stats.journalWriteFailures.increment();
        if (!stalled) {
            stalledSince = System.nanoTime();
            stalled = true;
            LOG.warn("volume '{}': the journal disk took no write ({}); writes wait and are tried again every {} ms",
                    volume, why.toString(), TimeUnit.NANOSECONDS.toMillis(RETRY_NANOS));
        }
    }

    /** Whether writes wait for the journal disk now. */
    public boolean stalled() {
        return stalled;
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
        return retry.get() != null || !waiters.isEmpty() || !admissions.isEmpty();
    }

    /**
     * Runs queued writes while there is room, then admits waiting ones as far as the room left
     * goes (not a reservation: an admitted write that finds no room still queues); uploader thread.
     */
    public void resume() {
        if (stalled && System.nanoTime() - retryAt < 0) {
            return; // the journal disk failed the last try: nothing goes before the next one
        }
        if (!runQueued()) {
            return;
        }
        if (stalled && retry.get() == null && waiters.isEmpty()) {
            // no write left to try (they timed out): the next one that comes is the try
            unstall();
        }
        long room = room();
        Admission a;
        while (!stalled && waiters.isEmpty() && room > 0 && (a = admissions.poll()) != null) {
            room -= a.length;
            a.done.complete(a.tag, 0);
        }
    }

    /** Runs queued writes, oldest first, while there is room; false if the journal disk failed one again. */
    private boolean runQueued() {
        PendingWrite w;
        while (room() > 0 && ((w = retry.getAndSet(null)) != null || (w = waiters.poll()) != null)) {
            int r;
            try {
                r = runner.run(w.offset, w.src, w.length, w.flags, w.tag, w.done);
            } catch (RuntimeException e) {
                // e.g. a buffer this thread may not touch: that write fails, the uploader lives on
                LOG.error("volume '{}': a queued write failed", volume, e);
                r = -Requests.EIO;
            }
            if (r == STALLED) {
                retry.set(w); // first in line again (expire may still take it)
                retryAt = System.nanoTime() + RETRY_NANOS;
                return false;
            }
            if (stalled) {
                unstall();
            }
            if (r != BlockTarget.PENDING) {
                w.done.complete(w.tag, r);
            }
        }
        return true;
    }

    private void unstall() {
        stalled = false;
        LOG.info("volume '{}': the journal disk takes writes again after {} ms", volume,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stalledSince));
    }

    /**
     * Answers EIO to the writes that waited longer than {@code timeoutNanos} (oldest first: the
     * queues are in arrival order), counted in {@link CacheStats#ioTimeouts()}; any thread.
     */
    void expire(long now, long timeoutNanos) {
        PendingWrite first = retry.get();
        if (first != null && now - first.since > timeoutNanos && retry.compareAndSet(first, null)) {
            stats.ioTimeouts.increment();
            first.done.complete(first.tag, -Requests.EIO);
        }
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
        PendingWrite w = retry.getAndSet(null);
        if (w != null) {
            w.done.complete(w.tag, -Requests.EIO);
        }
        while ((w = waiters.poll()) != null) {
            w.done.complete(w.tag, -Requests.EIO);
        }
        Admission a;
        while ((a = admissions.poll()) != null) {
            a.done.complete(a.tag, -Requests.EIO);
        }
    }
}
