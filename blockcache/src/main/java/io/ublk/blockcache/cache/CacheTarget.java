package io.ublk.blockcache.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
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
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.upload.Uploader;
import io.ublk.blockcache.cache.volume.Volume;
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
    /** The clean cache never goes below this many blocks, so a prefetched block is still there for its read. */
    private static final int MIN_CLEAN_BLOCKS = 64;

    private record PendingWrite(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {}

    private final CacheConfig config;
    private final Volume volume;
    private final long size;
    private final int blockSize;
    private final int blockShift;
    private final CacheStats stats;
    private final DirtyTable dirty;
    private final Cache<Integer, CleanBlock> clean;
    private final Journal journal;
    private final Uploader uploader;
    /** Readers of block arrays enter it, so that {@link #arrays} reuses an array only once nobody reads it. */
    private final ReadGuard guard = new ReadGuard();
    private final BlockArrays arrays;
    private final AtomicLong nextSeq;
    private final Queue<PendingWrite> waiters = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<Integer, CompletableFuture<CleanBlock>> fetching = new ConcurrentHashMap<>();
    /**
     * Blocks a prefetch fetched, held until the read that follows takes them: the clean cache's
     * admission policy may turn a new entry away at once, and the read must not then wait on the
     * store again while it holds a bounce slot. Holds at most one entry per read in flight.
     */
    private final ConcurrentHashMap<Integer, CleanBlock> prefetched = new ConcurrentHashMap<>();
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Runnable onRelease;
    private volatile boolean closed;

    private CacheTarget(CacheConfig config, Volume volume, CacheStats stats, Journal journal, long firstEpoch,
            long firstSeq, FileChannel lockChannel, FileLock lock, Runnable onRelease) {
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
        long cleanBytes = Math.max(config.cleanCacheBytes(), (long) MIN_CLEAN_BLOCKS * blockSize);
        this.clean = Caffeine.newBuilder()
                .maximumWeight(cleanBytes)
                .weigher((Integer b, CleanBlock c) -> c.data().length)
                .executor(Runnable::run)
                // evicted, a former dirty version's array is written again by a later write
                .removalListener((Integer b, CleanBlock c, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE && c != null && c.reused()) {
                        arrays.retire(c.data());
                    }
                })
                .build();
        this.nextSeq = new AtomicLong(firstSeq);
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.onRelease = onRelease;
        this.uploader = new Uploader(this, volume, dirty, clean, journal, arrays, stats, config);
    }

    /**
     * Opens (or with {@code config.size() > 0}, creates) the volume in the store, replays this
     * host's journal of it, and starts the uploader.
     *
     * @throws VolumeException the volume cannot be opened as asked (one-line reason; nothing changed)
     */
    public static CacheTarget open(CacheConfig config, ObjectStore store) {
        return CacheOpener.open(config, store);
    }

    /** Called by {@link CacheOpener} once the store and the cache folder agree. */
    static CacheTarget start(CacheConfig config, Volume volume, CacheStats stats, Path journalDir,
            FileChannel lockChannel, FileLock lock, Runnable onRelease) throws IOException {
        int maxData = Math.max(volume.blockSize(), 1 << 20);
        Journal.Replay replay = Journal.replay(journalDir, volume.committedEpoch, 64 << 20);
        Journal journal = new Journal(journalDir, Journal.DEFAULT_FILE_BYTES, maxData, stats, replay.files());
        long firstEpoch = Math.max(replay.maxEpoch(), volume.committedEpoch) + 1;
        CacheTarget t = new CacheTarget(config, volume, stats, journal, firstEpoch, replay.maxSeq() + 1, lockChannel, lock, onRelease);
        long replayed = 0;
        DirtyTable.Epoch e = t.dirty.current();
        for (JournalRecord r : replay.records()) {
            MemorySegment src = r.type() == JournalRecord.WRITE ? MemorySegment.ofArray(r.data()) : null;
            t.apply(e, r.offset(), r.length(), src);
            replayed += r.dataBytes();
        }
        if (!replay.records().isEmpty() || replay.tornBytes() > 0) {
            LOG.info("volume '{}': replayed {} journal records ({} data bytes) after generation {}; cut {} torn bytes",
                    volume.name, replay.records().size(), replayed, volume.generation, replay.tornBytes());
        }
        t.uploader.start();
        return t;
    }

    /** Uploads every write answered before this call; returns once the store's latest generation holds them. */
    public void drain() throws InterruptedException {
        uploader.awaitCommitted(dirty.epoch());
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
        return journal.failed() || uploader.fenced() != null || closed;
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
        wait.whenComplete((v, ex) -> done.complete(tag, ex == null ? 0 : -EIO));
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
                all = CompletableFuture.allOf(all, fetch(b, loc).thenAccept(c -> fetched[k] = c));
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
        all.whenComplete((v, ex) -> {
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
        });
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
            CleanBlock c = clean.getIfPresent(block);
            if (c == null || c.location() != loc) {
                c = takePrefetched(block, loc);
                if (c == null) {
                    c = fetched;
                    if (c == null || c.location() != loc) {
                        return false;
                    }
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
                int b = block;
                CompletableFuture<?> f = stage ? fetch(block, loc).thenAccept(c -> prefetched.put(b, c)) : fetch(block, loc);
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
        return inMemory(block, loc) != null ? 0 : loc;
    }

    /** A prefetched copy of the committed bytes at {@code loc}, taken by the read it was fetched for; or null. */
    private CleanBlock takePrefetched(int block, long loc) {
        CleanBlock c = prefetched.get(block);
        if (c == null || c.location() != loc) {
            return null;
        }
        prefetched.remove(block, c);
        return c;
    }

    /** The committed bytes at {@code loc} if memory holds them: the clean cache, or a prefetch awaiting its read. */
    private CleanBlock inMemory(int block, long loc) {
        CleanBlock c = clean.getIfPresent(block);
        if (c != null && c.location() == loc) {
            return c;
        }
        c = prefetched.get(block);
        return c != null && c.location() == loc ? c : null;
    }

    /** Fetches the committed block into the clean cache; one fetch per block at a time. */
    private CompletableFuture<CleanBlock> fetch(int block, long loc) {
        CompletableFuture<CleanBlock> running = fetching.get(block);
        if (running != null) {
            return running;
        }
        CompletableFuture<CleanBlock> mine = new CompletableFuture<>();
        running = fetching.putIfAbsent(block, mine);
        if (running != null) {
            return running;
        }
        stats.readMisses.increment();
        volume.fetch(loc).whenComplete((c, ex) -> {
            if (ex == null) {
                clean.put(block, c);
                // The uploader may have committed a newer version meanwhile: never leave the older one cached.
                if (volume.index.get(block) != loc) {
                    clean.asMap().remove(block, c);
                }
            } else {
                LOG.warn("volume '{}': cannot read block {} from the store: {}", volume.name, block,
                        Volume.unwrap(ex).getMessage());
            }
            fetching.remove(block, mine);
            if (ex == null) {
                mine.complete(c);
            } else {
                mine.completeExceptionally(ex);
            }
        });
        return mine;
    }

    /** The committed bytes of a block (null: zeros), for the uploader's merge of partial blocks. */
    public byte[] committedBytes(int block) {
        long loc = volume.index.get(block);
        if (loc == 0) {
            return null;
        }
        CleanBlock c = inMemory(block, loc);
        return c != null ? c.data() : Volume.await(fetch(block, loc)).data();
    }

    // ---- writes

    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, src, length);
        if (r != 0) {
            return r;
        }
        if (broken()) {
            return -EIO;
        }
        if (!waiters.isEmpty() || stats.dirtyBytes.get() >= config.maxDirtyBytes()) {
            waiters.add(new PendingWrite(offset, src, length, flags, tag, done));
            stats.writeWaits.increment();
            uploader.wake();
            return PENDING;
        }
        return writeNow(offset, src, length, flags, tag, done);
    }

    private int writeNow(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        int r = log(JournalRecord.WRITE, offset, length, src);
        if (r < 0) {
            return r;
        }
        if ((flags & IoFlags.FUA) != 0) {
            journal.requestSync(tag, done, length);
            return PENDING;
        }
        return length;
    }

    public boolean hasWaiters() {
        return !waiters.isEmpty();
    }

    /** Runs queued writes while there is room; uploader thread. */
    public void resumeWaiters() {
        PendingWrite w;
        while (stats.dirtyBytes.get() < config.maxDirtyBytes() && (w = waiters.poll()) != null) {
            int r;
            try {
                r = broken() ? -EIO : writeNow(w.offset, w.src, w.length, w.flags, w.tag, w.done);
            } catch (RuntimeException e) {
                // e.g. a buffer this thread may not touch: that write fails, the uploader lives on
                LOG.error("volume '{}': a queued write failed", volume.name, e);
                r = -EIO;
            }
            if (r != PENDING) {
                w.done.complete(w.tag, r);
            }
        }
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
        return zero(offset, length);
    }

    /** Zeroed blocks cost nothing here either way, so NOUNMAP changes nothing. */
    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        return zero(offset, length);
    }

    private int zero(long offset, long length) {
        int r = Requests.checkRange(size, offset, length);
        if (r != 0) {
            return r;
        }
        if (broken()) {
            return -EIO;
        }
        r = log(JournalRecord.ZERO, offset, length, null);
        return r < 0 ? r : 0;
    }

    /** Journals and applies one write or zeroing in the current epoch. */
    private int log(int type, long offset, long length, MemorySegment src) {
        DirtyTable.Epoch e = dirty.enter();
        try {
            journal.lane().append(type, e.number, nextSeq.getAndIncrement(), offset, length, src, 0);
            apply(e, offset, length, src);
        } catch (IOException ex) {
            journal.fail(ex);
            return -EIO;
        } finally {
            dirty.leave(e);
        }
        stats.journalBytes.add(JournalRecord.HEADER + (src == null ? 0 : length));
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

    // ---- lifecycle

    /** Stops the uploader without draining, syncs the journal and releases the cache folder. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        uploader.stop();
        PendingWrite w;
        while ((w = waiters.poll()) != null) {
            w.done.complete(w.tag, -EIO);
        }
        prefetched.clear();
        journal.close();
        release();
    }

    /** Stops everything without syncing anything: what a crash of the process leaves behind (tests). */
    void crash() {
        closed = true;
        uploader.stop();
        journal.abandon();
        release();
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
