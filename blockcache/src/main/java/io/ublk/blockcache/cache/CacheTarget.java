package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.blockcache.IoFlags;
import io.ublk.blockcache.Requests;
import io.ublk.blockcache.Zeros;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.dirty.ReadGuard;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.journal.JournalLane;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalReplay;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.upload.Uploader;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.blockcache.cache.volume.WriterLease;
import io.ublk.s3.ObjectStore;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A volume kept in an object store, served through a local write-back cache.
 *
 * <p><b>Writes</b> are appended to this thread's journal lane and copied into the dirty table,
 * then answered: no thread hop, no lock. FLUSH and FUA answer once the journal is forced (group
 * commit). When dirty bytes reach {@link CacheConfig#maxDirtyBytes()} new writes queue in order
 * and answer once the uploader made room.
 *
 * <p><b>Reads</b> take each block from the newest of: this epoch's dirty version, the frozen
 * epoch's version being uploaded, the clean cache, the store; a block no generation names reads
 * as zeros without a store call. A read that needs the store goes through {@link #prefetch}
 * first, so the worker holds no bounce slot while it waits.
 *
 * <p><b>Durability.</b> Once a FLUSH answered, every write answered before it survives a crash
 * of the process: it is in the journal, which {@link #open} replays. The store always holds the
 * image of one instant (an upload round freezes an epoch), never a mix of two.
 */
public final class CacheTarget implements BlockTarget {
    private static final Logger LOG = LoggerFactory.getLogger(CacheTarget.class);
    private static final int EIO = Requests.EIO;

    private final CacheConfig config;
    private final Volume volume;
    private final long size;
    private final int blockSize;
    private final int blockShift;
    private final CacheStats stats;
    private final DirtyTable dirty;
    private final CleanCache clean;
    private final Journal journal;
    private final WriteThrottle throttle;
    /** For writes that come through no lane (tools, tests): appends to it are serialised. */
    private final JournalLane sharedLane;
    /** For queued writes, which run on the uploader's thread. */
    private final JournalLane throttleLane;
    private final Uploader uploader;
    /** Readers of block arrays enter it, so that {@link #arrays} reuses an array only once nobody reads it. */
    private final ReadGuard guard = new ReadGuard();
    private final BlockArrays arrays;
    private final AtomicLong nextSeq;
    private final WriterLease lease;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Runnable onRelease;
    private volatile boolean closed;

    /** The check that fails writes waiting longer than --io-timeout; null with no limit. */
    private java.util.concurrent.ScheduledFuture<?> timeouts;
    private final long ioTimeoutMillis;

    private CacheTarget(CacheConfig config, Volume volume, CacheStats stats, Journal journal, long firstEpoch,
            long firstSeq, WriterLease lease, FileChannel lockChannel, FileLock lock, Runnable onRelease) {
        this.lease = lease;
        this.config = config;
        this.volume = volume;
        this.size = volume.header.size();
        this.blockSize = volume.blockSize();
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.stats = stats;
        this.journal = journal;
        this.arrays = new BlockArrays(blockSize, (int) Math.min(config.dirtyMemoryBytes() / blockSize, 1 << 16), guard);
        this.dirty = new DirtyTable(volume.index.blocks(), blockSize, firstEpoch, volume.committedEpoch, stats.dirtyBytes,
                stats.dirtyMemory, arrays);
        this.clean = new CleanCache(volume, config.cleanCacheBytes(), arrays, stats);
        this.ioTimeoutMillis = config.ioTimeout().toMillis();
        this.throttle = new WriteThrottle(config.maxDirtyBytes(), config.maxJournalBytes(), stats, volume.name,
                this::writeQueued);
        this.sharedLane = journal.newLane();
        this.throttleLane = journal.newLane();
        this.nextSeq = new AtomicLong(firstSeq);
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.onRelease = onRelease;
        this.uploader = new Uploader(throttle, volume, dirty, clean, journal, arrays, stats, config);
        stats.cleanBytes = clean::heldBytes;
        stats.journalDiskBytes = journal::bytesOnDisk;
        stats.failed = () -> stopped() != null;
        stats.journalStalled = throttle::stalled;
    }

    /**
     * Opens (or with {@code config.size() > 0}, creates) the volume in the store, replays this
     * host's journal of it, and starts the uploader.
     *
     * @throws VolumeException the volume cannot be opened as asked (one-line reason; nothing changed)
     */
    public static CacheTarget open(CacheConfig config, ObjectStore store) {
        return open(config, store, OpenOptions.DEFAULT);
    }

    /**
     * As {@link #open(CacheConfig, ObjectStore)}, with the operator's one-time choices for an open
     * that would be refused otherwise (a live lease of another writer, a stale journal).
     */
    public static CacheTarget open(CacheConfig config, ObjectStore store, OpenOptions options) {
        return CacheOpener.open(config, store, options);
    }

    /** Called by {@link CacheOpener} once the store and the cache folder agree. */
    static CacheTarget start(CacheConfig config, Volume volume, CacheStats stats, Path journalDir,
            JournalReplay.Result replay, WriterLease lease, FileChannel lockChannel, FileLock lock,
            Runnable onRelease) throws IOException {
        int maxData = Math.max(volume.blockSize(), 1 << 20);
        // FLUSH and FUA are answered only while this writer holds the volume's lease
        Journal journal = new Journal(journalDir, config.journalFileBytes(), maxData, stats, replay.files(),
                lease::valid, config.journalChannels());
        // the replayed files' names are durable before any FLUSH is answered over them: the crashed
        // process may have made them without a folder force
        Journal.forceDir(journalDir);
        long firstEpoch = Math.max(replay.maxEpoch(), volume.committedEpoch) + 1;
        CacheTarget t = new CacheTarget(config, volume, stats, journal, firstEpoch, replay.maxSeq() + 1, lease,
                lockChannel, lock, onRelease);
        if (!replay.records().isEmpty()) {
            Replayer.Outcome o = Replayer.apply(replay.records(), t.dirty, t.dirty.current(), volume.index, t.blockSize,
                    config.dirtyMemoryBytes());
            t.stats.spilledBlocks.add(o.spilled());
            // the replayed files are the replayed epoch's journal: room for new writes once it commits
            long replayed = journal.bytesOnDisk();
            t.dirty.current().journalBytes.set(replayed);
            t.stats.journalPendingBytes.set(replayed);
            // frozen before any write comes: a writer must never meet a spilled version in its own epoch
            t.uploader.adopt(t.dirty.freeze());
            LOG.info("volume '{}': replayed {} journal records ({} data bytes) after generation {} into {} blocks, {} of "
                    + "them left in the journal only (dirty memory {} bytes); cut {} torn bytes", volume.name,
                    o.records(), o.dataBytes(), volume.generation, o.blocks(), o.spilled(), config.dirtyMemoryBytes(),
                    replay.tornBytes());
        } else if (replay.tornBytes() > 0) {
            LOG.info("volume '{}': nothing to replay after generation {}; cut {} torn bytes", volume.name,
                    volume.generation, replay.tornBytes());
        }
        t.uploader.start();
        if (!config.ioTimeout().isZero()) {
            t.timeouts = IoTimeouts.watch(t.throttle, config.ioTimeout().toNanos());
        }
        return t;
    }

    /** Uploads every write answered before this call; returns once the store's latest generation holds them. */
    public void drain() throws InterruptedException {
        uploader.awaitCommitted(dirty.epoch());
    }

    /**
     * Forgets the clean cache: later reads of committed blocks fetch them from the store (the
     * operator's cold-read check after a {@link #drain}). Dirty data is not touched.
     */
    public void dropClean() {
        clean.clear();
    }

    public CacheStats stats() {
        return stats;
    }

    public int blockSize() {
        return blockSize;
    }

    /** The store generation this cache last committed or loaded. */
    public long generation() {
        return volume.generation;
    }

    @Override
    public long size() {
        return size;
    }

    private boolean broken() {
        return journal.failed() || uploader.fenced() != null || lease.lost() != null || closed;
    }

    /** Why this cache stopped serving for good (another writer, a failed journal), or null while it serves. */
    public String stopped() {
        String why = lease.lost();
        if (why == null) {
            why = uploader.fenced();
        }
        if (why == null && journal.failed()) {
            why = "volume '" + volume.name + "': the journal failed";
        }
        return why;
    }

    // ---- reads

    @Override
    public int prefetch(long offset, int length, long tag, Completion done) {
        if (Requests.checkRange(size, offset, length) != 0) {
            return 0; // the read itself answers the error
        }
        CompletableFuture<?> wait = missing(offset, length, true);
        if (wait == null) {
            return 0;
        }
        limited(wait).whenComplete((v, ex) -> done.complete(tag, ex == null ? 0 : -EIO));
        return PENDING;
    }

    @Override
    public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, dst, length);
        if (r != 0) {
            return r;
        }
        int g = guard.enter();
        try {
            if (readNow(offset, dst, length)) {
                return length;
            }
        } catch (java.io.UncheckedIOException e) {
            // A spilled version whose journal file went away: it was committed meanwhile, and the
            // store has it now; read again below.
        } finally {
            guard.exit(g);
        }
        // Evicted since the prefetch (or none was made): fetch while holding the slot, and read
        // from the fetched bytes themselves, so a thrashing clean cache cannot starve the read.
        readLate(offset, dst, length, tag, done, 3);
        return PENDING;
    }

    /**
     * {@code f}, or a timeout past --io-timeout (the store call itself goes on; its result still
     * fills the cache). Counted when it fires.
     */
    private CompletableFuture<?> limited(CompletableFuture<?> f) {
        if (ioTimeoutMillis == 0 || f.isDone()) {
            return f;
        }
        return f.copy().orTimeout(ioTimeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS).whenComplete((v, ex) -> {
            if (ex instanceof java.util.concurrent.TimeoutException) {
                stats.ioTimeouts.increment();
            }
        });
    }

    private void readLate(long offset, MemorySegment dst, int length, long tag, Completion done, int attempts) {
        int first = (int) (offset >>> blockShift);
        int last = (int) ((offset + length - 1) >>> blockShift);
        CleanBlock[] fetched = new CleanBlock[last - first + 1];
        CompletableFuture<?> all = CompletableFuture.completedFuture(null);
        for (int b = first; b <= last; b++) {
            int in = b == first ? (int) (offset & (blockSize - 1)) : 0;
            int n = (int) Math.min(blockSize - in, offset + length - ((long) b << blockShift) - in);
            long loc = needsStore(b, in, n);
            int k = b - first;
            if (loc != 0) {
                all = CompletableFuture.allOf(all, clean.fetch(b, loc).thenAccept(c -> fetched[k] = c));
            } else {
                // hold on to what the cache has now: it may evict (and reuse) it before the read gets there
                int g = guard.enter();
                try {
                    CleanBlock c = clean.getIfPresent(b);
                    fetched[k] = c == null ? null : c.detached();
                } finally {
                    guard.exit(g);
                }
            }
        }
        limited(all).whenComplete((v, ex) -> {
            try {
                finishLate(offset, dst, length, tag, done, attempts, ex, fetched, first);
            } catch (Throwable e) {
                // A CompletableFuture swallows what its callback throws: answer here, or the
                // request would never complete (and a queue freeze would wait on it forever).
                LOG.error("volume '{}': a read failed unexpectedly; it answers EIO", volume.name, e);
                done.complete(tag, -EIO);
            }
        });
    }

    private void finishLate(long offset, MemorySegment dst, int length, long tag, Completion done, int attempts,
            Throwable ex, CleanBlock[] fetched, int first) {
        if (ex != null) {
            done.complete(tag, -EIO);
            return;
        }
        boolean ok;
        int g = guard.enter();
        try {
            ok = readNow(offset, dst, length, fetched, first);
        } catch (java.io.UncheckedIOException e) {
            if (attempts == 0) {
                LOG.warn("volume '{}': cannot read back dirty data from the journal: {}", volume.name, e.getMessage());
            }
            ok = false;
        } finally {
            guard.exit(g);
        }
        if (ok) {
            done.complete(tag, length);
        } else if (attempts > 0) {
            // the uploader committed a newer version meanwhile: fetch that one
            readLate(offset, dst, length, tag, done, attempts - 1);
        } else {
            done.complete(tag, -EIO);
        }
    }

    private boolean readNow(long offset, MemorySegment dst, int length) {
        return readNow(offset, dst, length, null, 0);
    }

    /**
     * Copies the range into dst if every block of it is in memory (or zeros), or in {@code fetched}
     * (indexed from block {@code first}); false if one needs the store.
     */
    private boolean readNow(long offset, MemorySegment dst, int length, CleanBlock[] fetched, int first) {
        long pos = offset;
        int at = 0;
        while (at < length) {
            int block = (int) (pos >>> blockShift);
            int in = (int) (pos & (blockSize - 1));
            int n = Math.min(blockSize - in, length - at);
            CleanBlock hint = fetched == null ? null : fetched[block - first];
            if (!fill(dirty.head(block), block, in, n, in >>> DirtyBlock.SECTOR_SHIFT,
                    (in + n) >>> DirtyBlock.SECTOR_SHIFT, dst, at, hint)) {
                return false;
            }
            stats.readHits.increment();
            pos += n;
            at += n;
        }
        return true;
    }

    /**
     * Fills dst with block bytes [in, in+n) as version {@code d} leaves them ({@code d == null}:
     * the committed image): the newest version that covers the range alone, or the older ones
     * with each newer version's sectors over them. False if the committed bytes are needed and
     * neither in the clean cache nor the {@code fetched} copy of the same location.
     */
    private boolean fill(DirtyBlock d, int block, int in, int n, int from, int to, MemorySegment dst, long dstAt,
            CleanBlock fetched) {
        if (d == null) {
            long loc = volume.index.get(block);
            if (loc == 0) {
                Zeros.fill(dst, dstAt, n);
                return true;
            }
            CleanBlock c = clean.forRead(block, loc);
            if (c == null) {
                c = fetched;
                if (c == null || c.location() != loc) {
                    return false;
                }
            }
            MemorySegment.copy(c.data(), in, dst, ValueLayout.JAVA_BYTE, dstAt, n);
            return true;
        }
        if (!d.covers(from, to) && !fill(d.older, block, in, n, from, to, dst, dstAt, fetched)) {
            return false;
        }
        d.overlay(in, n, dst, dstAt);
        return true;
    }

    /** Starts fetching every block of the range a read would need from the store; null if none. */
    private CompletableFuture<?> missing(long offset, int length, boolean stage) {
        CompletableFuture<?> all = null;
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int block = (int) (pos >>> blockShift);
            int in = (int) (pos & (blockSize - 1));
            int n = (int) Math.min(blockSize - in, end - pos);
            long loc = needsStore(block, in, n);
            if (loc != 0) {
                CompletableFuture<?> f = stage ? clean.stage(block, loc) : clean.fetch(block, loc);
                all = all == null ? f : CompletableFuture.allOf(all, f);
            }
            pos += n;
        }
        return all;
    }

    /** The location to fetch for a read of the block's [in, in+n), or 0 if memory can answer it. */
    private long needsStore(int block, int in, int n) {
        int from = in >>> DirtyBlock.SECTOR_SHIFT;
        int to = (in + n) >>> DirtyBlock.SECTOR_SHIFT;
        for (DirtyBlock d = dirty.head(block); d != null; d = d.older) {
            if (d.covers(from, to)) {
                return 0;
            }
        }
        long loc = volume.index.get(block);
        if (loc == 0) {
            return 0;
        }
        return clean.inMemory(block, loc) != null ? 0 : loc;
    }

    // ---- writes

    /** A write through no lane (tools, tests): serialised on a shared lane. Workers use {@link #lane}. */
    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        synchronized (sharedLane) {
            return write(sharedLane, offset, src, length, flags, tag, done);
        }
    }

    /** Waits for room before the caller takes a bounce slot, while dirty bytes are at --max-dirty. */
    @Override
    public int admit(long offset, int length, long tag, Completion done) {
        if (Requests.checkRange(size, offset, length) != 0 || !throttle.mustAdmitLater()) {
            return 0; // the write itself answers a bad range
        }
        if (broken()) {
            return -EIO;
        }
        throttle.admitLater(length, tag, done);
        uploader.wake();
        return PENDING;
    }

    private int write(JournalLane lane, long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, src, length);
        if (r != 0) {
            return r;
        }
        if (broken()) {
            return -EIO;
        }
        if (throttle.mustWait()) {
            return queue(offset, src, length, flags, tag, done);
        }
        r = writeNow(lane, offset, src, length, flags, tag, done);
        // the journal disk refused it: it waits, first in line, and is tried again
        return r == WriteThrottle.STALLED ? queue(offset, src, length, flags, tag, done) : r;
    }

    /** Queues a write in the throttle (run by the uploader once it may go) and answers PENDING. */
    private int queue(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        throttle.enqueue(offset, src, length, flags, tag, done);
        uploader.wake();
        return PENDING;
    }

    private int writeNow(JournalLane lane, long offset, MemorySegment src, int length, int flags, long tag,
            Completion done) {
        int r = log(lane, JournalRecord.WRITE, offset, length, src);
        if (r < 0) {
            return r;
        }
        if ((flags & IoFlags.FUA) != 0) {
            journal.requestSync(tag, done, length);
            return PENDING;
        }
        return length;
    }

    /** A queued write, run by the throttle on the uploader's thread. */
    private int writeQueued(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        return broken() ? -EIO : writeNow(throttleLane, offset, src, length, flags, tag, done);
    }

    @Override
    public int flush(long tag, Completion done) {
        if (broken()) {
            return -EIO;
        }
        journal.requestSync(tag, done, 0);
        return PENDING;
    }

    @Override
    public int discard(long offset, long length, long tag, Completion done) {
        synchronized (sharedLane) {
            return zero(sharedLane, offset, length);
        }
    }

    /** Zeroed blocks cost nothing here either way, so NOUNMAP changes nothing. */
    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        return discard(offset, length, tag, done);
    }

    private int zero(JournalLane lane, long offset, long length) {
        int r = Requests.checkRange(size, offset, length);
        if (r != 0) {
            return r;
        }
        if (broken()) {
            return -EIO;
        }
        r = log(lane, JournalRecord.ZERO, offset, length, null);
        // a discard the journal disk refused fails (writes wait instead: they carry data)
        return r == WriteThrottle.STALLED ? -EIO : r < 0 ? r : 0;
    }

    /**
     * Journals and applies one write or zeroing in the current epoch; a zero-length one is a no-op.
     * Answers {@link WriteThrottle#STALLED}, with nothing applied, when the journal disk refused it.
     */
    private int log(JournalLane lane, int type, long offset, long length, MemorySegment src) {
        if (length == 0) {
            return 0;
        }
        long record = JournalRecord.HEADER + (src == null ? 0 : length);
        DirtyTable.Epoch e = dirty.enter();
        try {
            lane.append(type, e.number, nextSeq.getAndIncrement(), offset, length, src, 0);
            e.journalBytes.addAndGet(record);
            stats.journalPendingBytes.addAndGet(record);
            apply(e, offset, length, src);
        } catch (IOException ex) {
            throttle.stall(ex);
            return WriteThrottle.STALLED;
        } finally {
            dirty.leave(e);
        }
        stats.journalBytes.add(record);
        return 0;
    }

    /** Applies bytes (or zeros, src null) to the dirty table, block by block. */
    private void apply(DirtyTable.Epoch e, long offset, long length, MemorySegment src) {
        long pos = offset;
        long at = 0;
        while (at < length) {
            int block = (int) (pos >>> blockShift);
            int in = (int) (pos & (blockSize - 1));
            int n = (int) Math.min(blockSize - in, length - at);
            if (src == null && dirty.head(block) == null && volume.index.get(block) == 0) {
                // already zeros and nothing older in flight: nothing to record for the store
            } else {
                dirty.write(e, block, in, n, src, at);
            }
            pos += n;
            at += n;
        }
    }

    /**
     * The view a worker serves this device through: its writes go to the worker's own journal
     * lane, so appends take no lock and every lane file has one writer.
     */
    @Override
    public BlockTarget lane(int index) {
        JournalLane lane = journal.lane(index);
        CacheTarget t = this;
        return new BlockTarget() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public int prefetch(long offset, int length, long tag, Completion done) {
                return t.prefetch(offset, length, tag, done);
            }

            @Override
            public int admit(long offset, int length, long tag, Completion done) {
                return t.admit(offset, length, tag, done);
            }

            @Override
            public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
                return t.read(offset, dst, length, tag, done);
            }

            @Override
            public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
                return t.write(lane, offset, src, length, flags, tag, done);
            }

            @Override
            public int flush(long tag, Completion done) {
                return t.flush(tag, done);
            }

            @Override
            public int discard(long offset, long length, long tag, Completion done) {
                return t.zero(lane, offset, length);
            }

            @Override
            public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
                return t.zero(lane, offset, length);
            }

            @Override
            public void close() {
                // the device's owner closes the target itself
            }
        };
    }

    // ---- lifecycle

    /** Stops the uploader without draining, syncs the journal and releases the cache folder. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopTimeouts();
        uploader.stop();
        throttle.failAll();
        clean.clearPrefetched();
        journal.close();
        lease.release();
        release();
    }

    private void stopTimeouts() {
        if (timeouts != null) {
            timeouts.cancel(false);
        }
    }

    /** Stops everything without syncing anything: what a crash of the process leaves behind (tests). */
    void crash() {
        closed = true;
        stopTimeouts();
        lease.abandon();
        uploader.stop();
        journal.abandon();
        release();
    }

    WriterLease lease() {
        return lease;
    }

    Journal journal() {
        return journal;
    }

    BlockArrays arrays() {
        return arrays;
    }

    private void release() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("volume '{}': cannot release the cache folder lock: {}", volume.name, e.toString());
        }
        onRelease.run();
    }
}
