package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.WriteThrottle;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.PreconditionFailedException;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upload loop: turns frozen epochs into store generations, oldest first, on its own thread.
 *
 * <p>A turn: freeze the current epoch when due (an exact image of the device at one instant),
 * spill the newest waiting epoch to the journal if dirty memory is over its bound, commit the
 * oldest waiting epoch ({@link RoundCommitter}), let queued writes in, compact when nothing waits
 * ({@link Compactor}), delete what is due ({@link DeleteQueue}). A failed round leaves the
 * previous image in force and is retried with jittered backoff while writes go on into new
 * epochs; a round that finds another writer's manifest fences this volume for good.
 *
 * <p><b>Bounded memory, order kept.</b> While rounds wait (a slow or unreachable store), writes
 * go on into new epochs, frozen in turn. When dirty memory passes its bound, the newest waiting
 * epoch drops its bytes ({@link Spiller}): they stay in the journal and are read back, one
 * segment at a time, when its turn to upload comes. Total dirty bytes have a second bound, where
 * writes wait.
 */
public final class Uploader implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Uploader.class);
    /** Frozen epochs waiting to upload, at most. */
    static final int MAX_BACKLOG = 8;
    /** How long an idle turn parks: the freeze deadline and deletes are checked this often. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** Idle this long, the uploader gives its segment buffers back to the OS. */
    private static final long TRIM_AFTER_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** First retry delay of a failed round; doubled per failure up to {@link #MAX_BACKOFF_MS}. */
    private static final long FIRST_BACKOFF_MS = 100;
    /** A store that is down for long is still retried twice a minute. */
    private static final long MAX_BACKOFF_MS = 30_000;

    private final WriteThrottle throttle;
    private final Volume volume;
    private final DirtyTable dirty;
    private final Journal journal;
    private final BlockArrays arrays;
    private final CacheStats stats;
    private final CacheConfig config;
    private final Spiller spiller;
    private final DeleteQueue deletes;
    private final RoundCommitter committer;
    private final Compactor compactor;
    private final Thread thread;
    private final ArrayDeque<DirtyTable.Frozen> backlog = new ArrayDeque<>();
    private final Object progress = new Object();
    private long nextAttempt;
    /** The replayed epoch adopted at open waits the upload delay until this (0: none waits). */
    private long replayedUntil;
    private long backoff = FIRST_BACKOFF_MS;
    private long idleSince;
    private volatile boolean stopping;
    private volatile long drainTarget = -1;
    private volatile String fenced;

    public Uploader(WriteThrottle throttle, Volume volume, DirtyTable dirty, CleanCache clean, Journal journal,
            BlockArrays arrays, CacheStats stats, CacheConfig config) {
        this.throttle = throttle;
        this.volume = volume;
        this.dirty = dirty;
        this.journal = journal;
        this.arrays = arrays;
        this.stats = stats;
        this.config = config;
        this.spiller = new Spiller(volume, dirty, journal, arrays, stats, config);
        this.deletes = new DeleteQueue(volume, config.compaction().deleteGrace(), stats);
        this.committer = new RoundCommitter(volume, dirty, clean, arrays, stats, config, deletes);
        this.compactor = new Compactor(volume, committer, clean, stats, config);
        this.thread = Thread.ofPlatform().daemon().name("uploader-" + volume.name).unstarted(this);
    }

    public void start() {
        thread.start();
    }

    /** An epoch frozen before {@link #start} (the replayed journal): it uploads first. */
    public void adopt(DirtyTable.Frozen f) {
        if (thread.isAlive()) {
            throw new IllegalStateException("the uploader runs already");
        }
        backlog.add(f);
        // replayed writes wait the upload delay like any others (a drain does not wait for it)
        replayedUntil = System.nanoTime() + config.uploadDelay().toNanos();
    }

    public void wake() {
        LockSupport.unpark(thread);
    }

    /** Why this volume stopped uploading for good (another writer opened it, or the uploader failed), or null. */
    public String fenced() {
        return fenced;
    }

    /** Blocks until every write of epochs up to {@code epoch} is in a committed generation. */
    public void awaitCommitted(long epoch) throws InterruptedException {
        synchronized (progress) {
            if (drainTarget < epoch) {
                drainTarget = epoch;
            }
        }
        wake();
        synchronized (progress) {
            while (volume.committedEpoch < epoch) {
                if (fenced != null) {
                    throw new IllegalStateException(fenced);
                }
                if (stopping) {
                    throw new IllegalStateException("the volume is closing");
                }
                progress.wait(100);
            }
        }
    }

    public void stop() {
        stopping = true;
        wake();
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        committer.close();
        synchronized (progress) {
            progress.notifyAll();
        }
    }

    @Override
    public void run() {
        long turnBackoff = FIRST_BACKOFF_MS;
        while (!stopping && fenced == null) {
            try {
                turn();
                turnBackoff = FIRST_BACKOFF_MS;
            } catch (RuntimeException e) {
                // A bug must not stop uploads for good (writes would wait forever): say it, back off, go on.
                stats.uploadFailures.increment();
                LOG.error("volume '{}': uploader turn failed (retrying in {} ms)", volume.name, turnBackoff, e);
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(turnBackoff));
                turnBackoff = Math.min(turnBackoff * 2, MAX_BACKOFF_MS);
            } catch (Error e) {
                // An Error (out of memory, a linkage problem) may have struck anywhere in a turn:
                // carrying on could commit a half-built round. The volume fails instead; what was
                // acknowledged is in the journal, and a restart replays it.
                stats.uploadFailures.increment();
                fenced = "volume '" + volume.name + "': the uploader failed (" + e + "); the volume answers EIO "
                        + "until the server restarts, which replays the journal";
                LOG.error(fenced, e);
            }
        }
        if (fenced != null) {
            // nothing will run the queued writes any more: they fail rather than wait forever
            throttle.failAll();
            synchronized (progress) {
                progress.notifyAll();
            }
        }
    }

    /** One turn: freeze, spill, commit, resume waiting writes, compact, delete. */
    private void turn() {
        arrays.reclaim();
        boolean worked = false;
        if (backlog.size() < MAX_BACKLOG && freezeDue()) {
            backlog.add(dirty.freeze());
            worked = true;
        }
        if (stats.dirtyMemory() > config.dirtyMemoryBytes()) {
            worked |= spill();
        }
        if (!backlog.isEmpty() && System.nanoTime() - nextAttempt >= 0 && (replayedUntil == 0
                || System.nanoTime() - replayedUntil >= 0 || drainTarget >= backlog.peek().number()
                || throttle.hasWaiters())) {
            replayedUntil = 0;
            worked |= commitOldest();
        }
        throttle.resume();
        if (backlog.isEmpty() && fenced == null && !stopping && !throttle.hasWaiters()) {
            try {
                compactor.maybeCompact();
            } catch (PreconditionFailedException lost) {
                // another writer's manifest (never our own: the round id tells), as in commitOldest
                fenced = "volume '" + volume.name + "' was opened by another writer (" + lost.getMessage()
                        + "); this one stopped uploading";
                LOG.error(fenced);
            } catch (RuntimeException e) {
                if (!stopping) {
                    stats.uploadFailures.increment();
                    LOG.warn("volume '{}': compaction failed (retried later): {}", volume.name, e.toString());
                }
            }
        }
        deletes.deleteDue();
        committer.sweep();
        if (!worked) {
            // files the syncer closed since the last commit (no FLUSH needed) go as soon as they are uploaded
            journal.trim(volume.committedEpoch);
            long now = System.nanoTime();
            if (!backlog.isEmpty()) {
                idleSince = now;
            } else if (now - idleSince >= TRIM_AFTER_NANOS && committer.holdsBuffers()) {
                committer.trim();
            }
            LockSupport.parkNanos(POLL_NANOS);
        } else {
            idleSince = System.nanoTime();
        }
    }

    private boolean freezeDue() {
        DirtyTable.Epoch e = dirty.current();
        if (drainTarget >= e.number) {
            return true;
        }
        if (e.blocks.get() == 0 && e.journalBytes.get() == 0) {
            return false; // (records that changed no block, e.g. zeroing zeros, still hold journal room)
        }
        if (throttle.hasWaiters() || e.bytes.get() >= config.segmentBytes()
                || stats.dirtyMemory() > config.dirtyMemoryBytes() / 2
                || stats.dirtyBytes() >= config.maxDirtyBytes() / 2
                || stats.journalPendingBytes() >= config.maxJournalBytes() / 2) {
            return true;
        }
        long first = e.firstTouch.get();
        return first != 0 && System.nanoTime() - first >= config.uploadDelay().toNanos();
    }

    private boolean spill() {
        try {
            return spiller.spillNewest(backlog, MAX_BACKLOG);
        } catch (IOException e) {
            if (!stopping) {
                LOG.warn("volume '{}': cannot spill to the journal, keeping it in memory: {}", volume.name, e.toString());
            }
            return false;
        }
    }

    /** Commits the oldest frozen epoch; on failure schedules a retry. Answers whether it got through. */
    private boolean commitOldest() {
        DirtyTable.Frozen f = backlog.peek();
        try {
            if (f.count() > 0) {
                committer.commit(f);
            }
        } catch (PreconditionFailedException lost) {
            fenced = "volume '" + volume.name + "' was opened by another writer (" + lost.getMessage()
                    + "); this one stopped uploading";
            LOG.error(fenced);
            return false;
        } catch (RuntimeException ex) {
            if (stopping) {
                return false;
            }
            stats.uploadFailures.increment();
            LOG.warn("volume '{}': upload of epoch {} failed, retrying in {} ms: {}", volume.name, f.number(), backoff,
                    ex.toString());
            nextAttempt = System.nanoTime()
                    + TimeUnit.MILLISECONDS.toNanos(backoff + ThreadLocalRandom.current().nextLong(backoff));
            backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
            return false;
        }
        backlog.poll();
        stats.journalPendingBytes.addAndGet(-f.epoch().journalBytes.get());
        spiller.committed(f.number());
        backoff = FIRST_BACKOFF_MS;
        synchronized (progress) {
            volume.committedEpoch = f.number();
            progress.notifyAll();
        }
        journal.trim(f.number());
        return true;
    }
}
