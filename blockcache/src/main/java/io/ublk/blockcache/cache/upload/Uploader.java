package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.WriteThrottle;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.format.Checkpoint;
import io.ublk.blockcache.cache.format.Codec;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.Manifest;
import io.ublk.blockcache.cache.format.SegmentHeader;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.journal.JournalFile;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalScan;
import io.ublk.blockcache.cache.journal.JournalViews;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.volume.BlockIndex;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.PreconditionFailedException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns frozen epochs into store generations, oldest first, on its own thread.
 *
 * <p>A round: freeze the current epoch (an exact image of the device at one instant), merge
 * partially written blocks with their committed bytes, pack the blocks into segments, PUT them
 * (invisible until named), then PUT the next manifest with If-None-Match: that one PUT switches
 * the store from the previous image to this one. Only after it succeeded does the round point the
 * index at the new segments, move the bytes into the clean cache, release the dirty versions and
 * trim the journal. A failure anywhere before the manifest leaves the previous image in force;
 * the round retries with backoff.
 *
 * <p><b>Bounded memory, order kept.</b> While rounds wait (a slow or unreachable store), writes
 * go on into new epochs, frozen in turn. When dirty memory passes its bound, the newest waiting
 * epoch drops its bytes: they stay in the journal and are read back, one segment at a time, when
 * its turn to upload comes. Total dirty bytes have a second bound, where writes wait.
 */
public final class Uploader implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Uploader.class);
    /** Segments named by manifests since the last checkpoint before the next round writes one. */
    static final int MAX_CHAIN = 64;
    /** Frozen epochs waiting to upload, at most. */
    static final int MAX_BACKLOG = 8;
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final WriteThrottle throttle;
    private final Volume volume;
    private final DirtyTable dirty;
    private final CleanCache clean;
    private final Journal journal;
    private final BlockArrays arrays;
    private final CacheStats stats;
    private final CacheConfig config;
    private final int slotsPerSegment;
    private final Thread thread;
    private final ArrayDeque<DirtyTable.Frozen> backlog = new ArrayDeque<>();
    private final java.util.Set<Long> spilledEpochs = new java.util.HashSet<>();
    private long nextAttempt;
    private long backoff = 100;
    private volatile boolean stopping;
    private volatile long drainTarget = -1;
    private volatile String fenced;
    private final Object progress = new Object();
    /** Where segments are assembled; freed while the uploader idles. */
    private final SegmentBuffers buffers;
    /** Journal mappings of failed PUTs, unmapped after a grace period. */
    private final JournalViews.Graveyard graveyard = new JournalViews.Graveyard();
    private long idleSince;
    /** Idle this long, the uploader gives its segment buffers back to the OS. */
    private static final long TRIM_AFTER_NANOS = TimeUnit.SECONDS.toNanos(10);

    public Uploader(WriteThrottle throttle, Volume volume, DirtyTable dirty, CleanCache clean, Journal journal,
            BlockArrays arrays, CacheStats stats, CacheConfig config) {
        this.throttle = throttle;
        this.volume = volume;
        this.dirty = dirty;
        this.clean = clean;
        this.journal = journal;
        this.arrays = arrays;
        this.stats = stats;
        this.config = config;
        this.slotsPerSegment = (int) Math.max(1, Math.min(BlockIndex.MAX_SLOTS, config.segmentBytes() / volume.blockSize()));
        this.thread = Thread.ofPlatform().daemon().name("uploader-" + volume.name).unstarted(this);
        // room for a full segment with a header of up to 1024 zero runs besides its blocks
        long capacity = SegmentHeader.headerBytes(slotsPerSegment + 1024) + (long) slotsPerSegment * volume.blockSize();
        this.buffers = new SegmentBuffers(capacity, config.uploadParallelism() + 1);
    }

    public void start() {
        thread.start();
    }

    public void wake() {
        LockSupport.unpark(thread);
    }

    /** Why this volume stopped uploading (another writer opened it), or null. */
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
        buffers.close();
        graveyard.sweepLater();
        synchronized (progress) {
            progress.notifyAll();
        }
    }

    @Override
    public void run() {
        while (!stopping && fenced == null) {
            try {
                turn();
            } catch (RuntimeException e) {
                // A bug must not stop uploads for good (writes would wait forever): say it, go on.
                stats.uploadFailures.increment();
                LOG.error("volume '{}': uploader turn failed", volume.name, e);
                LockSupport.parkNanos(POLL_NANOS);
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
            worked |= spillNewest();
        }
        if (!backlog.isEmpty() && System.nanoTime() - nextAttempt >= 0) {
            worked |= commitOldest();
        }
        throttle.resume();
        if (backlog.isEmpty() && fenced == null && !stopping && !throttle.hasWaiters()) {
            try {
                maybeCompact();
            } catch (RuntimeException e) {
                if (!stopping) {
                    stats.uploadFailures.increment();
                    LOG.warn("volume '{}': compaction failed (retried later): {}", volume.name, e.toString());
                }
            }
        }
        deleteDue();
        graveyard.sweep();
        if (!worked) {
            long now = System.nanoTime();
            if (!backlog.isEmpty()) {
                idleSince = now;
            } else if (now - idleSince >= TRIM_AFTER_NANOS && buffers.allocated() > 0) {
                buffers.trim();
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
        if (e.blocks.get() == 0) {
            return false;
        }
        if (throttle.hasWaiters() || e.bytes.get() >= config.segmentBytes()
                || stats.dirtyMemory() > config.dirtyMemoryBytes() / 2
                || stats.dirtyBytes() >= config.maxDirtyBytes() / 2) {
            return true;
        }
        long first = e.firstTouch.get();
        return first != 0 && System.nanoTime() - first >= config.uploadDelay().toNanos();
    }

    /** Commits the oldest frozen epoch; on failure schedules a retry. Answers whether it got through. */
    private boolean commitOldest() {
        DirtyTable.Frozen f = backlog.peek();
        try {
            if (f.count() > 0) {
                commit(f);
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
            nextAttempt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff + ThreadLocalRandom.current().nextLong(backoff));
            backoff = Math.min(backoff * 2, 30_000);
            return false;
        }
        backlog.poll();
        spilledEpochs.remove(f.number());
        backoff = 100;
        synchronized (progress) {
            volume.committedEpoch = f.number();
            progress.notifyAll();
        }
        journal.trim(f.number());
        return true;
    }

    /**
     * Drops the bytes of the newest waiting epoch that still holds some (freezing the current one
     * first if no waiting epoch does): they are in the journal already.
     */
    private boolean spillNewest() {
        DirtyTable.Frozen victim = null;
        for (var it = backlog.descendingIterator(); it.hasNext(); ) {
            DirtyTable.Frozen f = it.next();
            if (!spilledEpochs.contains(f.number()) && f != backlog.peekFirst()) {
                victim = f;
                break;
            }
        }
        if (victim == null && backlog.size() < MAX_BACKLOG && dirty.current().bytes.get() > 0) {
            victim = dirty.freeze();
            backlog.add(victim);
        }
        if (victim == null) {
            // only the epoch uploading now holds memory: it goes as soon as the store takes it
            DirtyTable.Frozen head = backlog.peekFirst();
            if (head == null || spilledEpochs.contains(head.number())) {
                return false;
            }
            victim = head;
        }
        try {
            spill(victim);
        } catch (IOException e) {
            if (!stopping) {
                LOG.warn("volume '{}': cannot spill epoch {} to the journal, keeping it in memory: {}", volume.name,
                        victim.number(), e.toString());
            }
            return false;
        }
        spilledEpochs.add(victim.number());
        return true;
    }

    private void spill(DirtyTable.Frozen f) throws IOException {
        int bs = volume.blockSize();
        Map<Integer, List<DirtyBlock.Piece>> pieces = new HashMap<>();
        for (JournalScan.Located l : journal.scan(f.epoch().lower, f.number())) {
            JournalRecord r = l.record();
            long pos = r.offset();
            long end = r.offset() + r.length();
            while (pos < end) {
                int block = (int) (pos / bs);
                int at = (int) (pos % bs);
                int len = (int) Math.min(bs - at, end - pos);
                JournalFile file = r.type() == JournalRecord.WRITE ? l.file() : null;
                long dataPos = file == null ? 0 : l.dataPos() + (pos - r.offset());
                // a piece that is the record's whole data has its CRC in the record already
                long crc = file != null && len == r.length() ? l.dataCrc() & 0xFFFF_FFFFL : -1;
                pieces.computeIfAbsent(block, b -> new ArrayList<>()).add(new DirtyBlock.Piece(file, dataPos, at, len, crc));
                pos += len;
            }
        }
        int spilled = 0;
        for (int i = 0; i < f.count(); i++) {
            DirtyBlock d = f.versions()[i];
            if (d.zero || d.spilled()) {
                continue;
            }
            List<DirtyBlock.Piece> p = pieces.get(f.blocks()[i]);
            if (p == null) {
                throw new IOException("no journal record of epoch " + f.number() + " for block " + f.blocks()[i]);
            }
            arrays.retire(d.spill(p.toArray(DirtyBlock.Piece[]::new)));
            dirty.spilled(d);
            spilled++;
        }
        stats.spilledBlocks.add(spilled);
        LOG.debug("volume '{}': dirty memory over {} bytes: epoch {} keeps its {} blocks in the journal only",
                volume.name, config.dirtyMemoryBytes(), f.number(), spilled);
    }

    /** Where the blocks of one upload come from: zero, or bytes made on demand (read back if spilled). */
    private interface Source {
        boolean zero(int i);

        /** Writes input i's whole block into {@code dst[at, at+blockSize)}. */
        void copy(int i, MemorySegment dst, long at);

        /** The journal piece that holds input i's whole block, to send from there without a copy; or null. */
        default DirtyBlock.Piece whole(int i) {
            return null;
        }
    }

    /** Uploads one frozen epoch and commits it as the next generation. */
    private void commit(DirtyTable.Frozen frozen) {
        int n = frozen.count();
        int bs = volume.blockSize();
        Source source = new Source() {
            @Override
            public boolean zero(int i) {
                return frozen.versions()[i].zero;
            }

            @Override
            public void copy(int i, MemorySegment dst, long at) {
                DirtyBlock d = frozen.versions()[i];
                d.mergeInto(d.full() ? null : clean.committedBytes(frozen.blocks()[i]), dst, at, bs);
            }

            @Override
            public DirtyBlock.Piece whole(int i) {
                return frozen.versions()[i].wholePiece(bs);
            }
        };
        Committed c = commitBlocks(frozen.blocks(), source, frozen.number(), volume.chain.size() >= MAX_CHAIN);
        // Committed: readers may now find the bytes through the index instead of the dirty table.
        for (int i = 0; i < n; i++) {
            int b = frozen.blocks()[i];
            DirtyBlock d = frozen.versions()[i];
            volume.index.set(b, c.locations()[i]);
            byte[] bytes = d.data;
            boolean keep = bytes != null && d.full();
            if (keep) {
                // the array moves on as the clean copy; back to the pool when the cache evicts it
                clean.put(b, new CleanBlock(c.locations()[i], bytes, true));
            } else {
                clean.invalidate(b);
            }
            dirty.release(b, d);
            if (bytes != null && !keep) {
                arrays.retire(bytes);
            }
        }
        afterCommit(c);
        stats.uploadRounds.increment();
    }

    /** What {@link #commitBlocks} committed: the blocks' new locations, and whether a checkpoint restarted the chain. */
    private record Committed(long generation, long[] locations, boolean checkpointed, long bytes) {}

    /**
     * Writes blocks as the next generation: segments (each made, PUT and let go before more than
     * the upload parallelism are in memory), then a checkpoint if asked or the chain is long, then
     * the manifest. Changes nothing in memory but the chain; the caller points the index at the
     * answered locations.
     */
    private Committed commitBlocks(int[] blocks, Source source, long epoch, boolean checkpoint) {
        int bs = volume.blockSize();
        long gen = volume.generation + 1;
        List<SegmentPlan> plans = plan(blocks, source, gen);
        // A sliding window of PUTs: the next segment is made while the others are on the wire, and
        // goes up as soon as any of them is done, never waiting for a whole batch.
        ArrayDeque<CompletableFuture<String>> window = new ArrayDeque<>();
        long bytes = 0;
        try {
            for (SegmentPlan p : plans) {
                SegmentBuffers.Buffer body = buffers.take(p.size(bs));
                JournalViews views = new JournalViews();
                CompletableFuture<String> put;
                try {
                    List<java.nio.ByteBuffer> object = p.encode(volume.header.uuid(), gen, blocks, source, bs, body.memory, views);
                    bytes += p.size(bs);
                    while (window.size() >= config.uploadParallelism()) {
                        Volume.await(CompletableFuture.anyOf(window.toArray(CompletableFuture[]::new)));
                        window.removeIf(f -> {
                            if (f.isDone()) {
                                Volume.await(f); // throws if it failed
                                return true;
                            }
                            return false;
                        });
                    }
                    put = volume.store().put(p.key, object);
                } catch (RuntimeException e) {
                    buffers.give(body);
                    graveyard.release(views, false);
                    throw e;
                }
                // the buffer and mappings go only once the store is done reading them (every retry included)
                window.add(put.whenComplete((r, ex) -> {
                    buffers.give(body);
                    graveyard.release(views, ex == null);
                }));
            }
            Volume.await(CompletableFuture.allOf(window.toArray(CompletableFuture[]::new)));
        } finally {
            // a failed round leaves its other PUTs running: they still own their buffers
            window.clear();
        }
        stats.segmentPuts.add(plans.size());
        plans.forEach(p -> stats.journalSentBlocks.add(p.fromJournal));

        long[] locations = new long[blocks.length];
        for (SegmentPlan p : plans) {
            int id = volume.index.addSegment(p.key, p.header.headerBytes, p.header.dataSlots());
            for (int i = 0; i < p.header.count(); i++) {
                if (p.header.kinds[i] == SegmentHeader.DATA) {
                    locations[p.source[i]] = BlockIndex.location(id, p.header.args[i], p.header.crcs[i]);
                }
            }
        }
        List<String> chain = new ArrayList<>(volume.chain);
        plans.forEach(p -> chain.add(p.key));
        long ckpt = volume.checkpoint;
        boolean checkpointed = checkpoint || chain.size() > MAX_CHAIN;
        if (checkpointed) {
            long[] all = new long[volume.index.blocks()];
            for (int b = 0; b < all.length; b++) {
                all[b] = volume.index.get(b);
            }
            for (int i = 0; i < blocks.length; i++) {
                all[blocks[i]] = locations[i];
            }
            byte[] encoded = Checkpoint.encode(volume.header.uuid(), gen, all, volume.index);
            Volume.await(volume.store().put(Keys.checkpoint(volume.name, gen), encoded));
            bytes += encoded.length;
            stats.checkpointPuts.increment();
            ckpt = gen;
            chain.clear();
        }
        putManifest(new Manifest(volume.header.uuid(), volume.writer, gen, epoch, ckpt, chain));
        long previousCheckpoint = volume.checkpoint;
        volume.generation = gen;
        volume.checkpoint = ckpt;
        volume.chain.clear();
        volume.chain.addAll(chain);
        stats.committedGeneration.set(gen);
        stats.uploadedBytes.add(bytes);
        if (checkpointed) {
            retireHistory(gen, previousCheckpoint);
        }
        return new Committed(gen, locations, checkpointed, bytes);
    }

    /** After a checkpoint, segments no block points at are named by no generation anymore: delete them (later). */
    private void afterCommit(Committed c) {
        if (!c.checkpointed()) {
            return;
        }
        BlockIndex index = volume.index;
        for (int id = 1; id < index.segmentLimit(); id++) {
            if (index.present(id) && index.live(id) == 0) {
                index.retire(id);
                deleteLater(index.segment(id).key());
            }
        }
    }

    /** Manifests before a checkpoint, and the checkpoint before it, are history: delete them (later). */
    private void retireHistory(long checkpointGen, long previousCheckpoint) {
        try {
            for (var o : Volume.await(volume.store().listAll(Keys.manifestPrefix(volume.name)))) {
                long g = Keys.manifestGeneration(volume.name, o.key());
                if (g > 0 && g < checkpointGen) {
                    deleteLater(o.key());
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("volume '{}': cannot list old manifests (they stay): {}", volume.name, e.toString());
        }
        if (previousCheckpoint != 0) {
            deleteLater(Keys.checkpoint(volume.name, previousCheckpoint));
        }
    }

    private record Doomed(String key, long since) {}

    private final java.util.ArrayDeque<Doomed> doomed = new java.util.ArrayDeque<>();

    private void deleteLater(String key) {
        doomed.add(new Doomed(key, System.nanoTime()));
    }

    /** Deletes objects whose grace period ended; failures are retried on a later turn. */
    private void deleteDue() {
        long grace = config.compaction().deleteGrace().toNanos();
        List<String> keys = new ArrayList<>();
        while (!doomed.isEmpty() && System.nanoTime() - doomed.peek().since() >= grace && keys.size() < 1000) {
            keys.add(doomed.poll().key());
        }
        if (keys.isEmpty()) {
            return;
        }
        try {
            Volume.await(volume.store().deleteAll(keys));
            stats.deletedObjects.add(keys.size());
        } catch (RuntimeException e) {
            LOG.warn("volume '{}': cannot delete {} dead objects yet: {}", volume.name, keys.size(), e.toString());
            long now = System.nanoTime();
            keys.forEach(k -> doomed.add(new Doomed(k, now)));
        }
    }

    /**
     * Rewrites the live blocks of mostly-dead segments into new ones when enough of the store is
     * garbage, then checkpoints so the dead segments can go. Runs between rounds on this thread,
     * so the committed index cannot change underneath; dirty blocks are not involved (their
     * newer versions come in later rounds and win, being later in the chain).
     */
    private void maybeCompact() {
        BlockIndex index = volume.index;
        int bs = volume.blockSize();
        // Reclaimable: dead slots of segments that are all dead, or mostly dead (worth rewriting).
        long garbage = 0;
        List<int[]> sparse = new ArrayList<>(); // {id, live}
        for (int id = 1; id < index.segmentLimit(); id++) {
            if (!index.present(id)) {
                continue;
            }
            int slots = index.segment(id).slots();
            int live = index.live(id);
            if (live == 0 || live < slots * config.compaction().liveBelow()) {
                garbage += (long) (slots - live) * bs;
                if (live > 0) {
                    sparse.add(new int[] {id, live});
                }
            }
        }
        if (garbage == 0 || garbage < config.compaction().minGarbage()) {
            return;
        }
        sparse.sort((a, b) -> Integer.compare(a[1], b[1]));
        boolean[] chosen = new boolean[index.segmentLimit()];
        long liveBytes = 0;
        for (int[] s : sparse) {
            if (liveBytes + (long) s[1] * bs > config.segmentBytes() && liveBytes > 0) {
                break;
            }
            chosen[s[0]] = true;
            liveBytes += (long) s[1] * bs;
        }
        int count = (int) (liveBytes / bs);
        int[] blocks = new int[count];
        long[] from = new long[count];
        int k = 0;
        for (int b = 0; b < index.blocks() && k < count; b++) {
            long loc = index.get(b);
            if (loc != 0 && chosen[BlockIndex.segmentOf(loc)]) {
                blocks[k] = b;
                from[k] = loc;
                k++;
            }
        }
        // each block stays where its segment object was read: copied once, into the new segment
        byte[][] data = new byte[count][];
        int[] dataAt = new int[count];
        Map<Integer, byte[]> objects = new java.util.HashMap<>();
        for (int i = 0; i < count; i++) {
            int id = BlockIndex.segmentOf(from[i]);
            BlockIndex.SegmentRef ref = index.segment(id);
            byte[] object = objects.computeIfAbsent(id, x -> Volume.await(volume.store().get(ref.key())).data());
            int at = ref.headerBytes() + BlockIndex.slotOf(from[i]) * bs;
            if (object.length < at + bs || Codec.crc32c(object, at, bs) != BlockIndex.crcOf(from[i])) {
                stats.checksumErrors.increment();
                LOG.error("volume '{}': block {} in {} fails its checksum; compaction leaves it where it is",
                        volume.name, blocks[i], ref.key());
                return;
            }
            data[i] = object;
            dataAt[i] = at;
        }
        Source source = new Source() {
            @Override
            public boolean zero(int i) {
                return false;
            }

            @Override
            public void copy(int i, MemorySegment dst, long at) {
                MemorySegment.copy(data[i], dataAt[i], dst, ValueLayout.JAVA_BYTE, at, bs);
            }
        };
        Committed c = commitBlocks(blocks, source, volume.committedEpoch, true);
        for (int i = 0; i < count; i++) {
            index.set(blocks[i], c.locations()[i]);
            // the bytes did not change, only where they are: keep a cached copy valid
            CleanBlock cached = clean.getIfPresent(blocks[i]);
            if (cached != null && cached.location() == from[i]) {
                clean.put(blocks[i], new CleanBlock(c.locations()[i], cached.data(), cached.reused()));
            }
        }
        afterCommit(c);
        stats.compactions.increment();
        stats.compactedBytes.add(liveBytes);
        LOG.info("volume '{}': compaction moved {} live blocks out of {} segments ({} bytes of garbage before)",
                volume.name, count, objects.size(), garbage);
    }

    private void putManifest(Manifest m) {
        String key = Keys.manifest(volume.name, m.generation());
        byte[] bytes = m.encode();
        try {
            Volume.await(volume.store().putIfAbsent(key, bytes));
        } catch (PreconditionFailedException e) {
            // A retried PUT whose first attempt did land looks the same as losing the race: tell them apart.
            byte[] there = Volume.await(volume.store().get(key)).data();
            if (!Arrays.equals(there, bytes)) {
                throw new PreconditionFailedException(key + " (written by cache " + Manifest.decode(key, there).writer() + ")");
            }
        }
        stats.manifestPuts.increment();
    }

    /** Which blocks go into which segment: data in block order, runs of zeroed blocks in the first. */
    private List<SegmentPlan> plan(int[] blocks, Source source, long gen) {
        List<SegmentPlan> plans = new ArrayList<>();
        int attempt = ThreadLocalRandom.current().nextInt() & Integer.MAX_VALUE;
        List<long[]> zeroRuns = new ArrayList<>();
        List<Integer> withData = new ArrayList<>();
        for (int i = 0; i < blocks.length; i++) {
            int b = blocks[i];
            if (source.zero(i)) {
                long[] last = zeroRuns.isEmpty() ? null : zeroRuns.get(zeroRuns.size() - 1);
                if (last != null && last[0] + last[1] == b && last[1] < Integer.MAX_VALUE) {
                    last[1]++;
                } else {
                    zeroRuns.add(new long[] {b, 1});
                }
            } else {
                withData.add(i);
            }
        }
        int n = 0;
        int at = 0;
        do {
            int count = Math.min(slotsPerSegment, withData.size() - at);
            plans.add(new SegmentPlan(Keys.segment(volume.name, gen, attempt, n), withData.subList(at, at + count),
                    n == 0 ? zeroRuns : List.of()));
            at += count;
            n++;
        } while (at < withData.size());
        return plans;
    }

    /** One segment to write: which inputs it carries; its header once encoded. */
    private static final class SegmentPlan {
        final String key;
        final List<Integer> withData;
        final List<long[]> zeros;
        /** For each header entry, the index into the inputs it came from (-1 for a zero run). */
        int[] source;
        /** Blocks {@link #encode} left in the journal (sent from a mapping of it). */
        int fromJournal;
        SegmentHeader header;

        SegmentPlan(String key, List<Integer> withData, List<long[]> zeros) {
            this.key = key;
            this.withData = List.copyOf(withData);
            this.zeros = zeros;
        }

        /** The object's size for blocks of {@code bs} bytes. */
        long size(int bs) {
            return SegmentHeader.headerBytes(zeros.size() + withData.size()) + (long) withData.size() * bs;
        }

        /**
         * Makes the object: the header, then each block, checksummed. A block whose bytes are one
         * whole journal record piece is sent from a mapping of the journal ({@code views}); the
         * others are merged (or read back) into {@code body}, after the header, in slot order.
         * Answers the object's bytes in order: runs of {@code body}, and journal slices.
         */
        List<java.nio.ByteBuffer> encode(java.util.UUID uuid, long gen, int[] blockNos, Source in, int bs, MemorySegment body,
                JournalViews views) {
            int count = zeros.size() + withData.size();
            long[] blocks = new long[count];
            int[] kinds = new int[count];
            int[] args = new int[count];
            int[] crcs = new int[count];
            source = new int[count];
            int e = 0;
            for (long[] run : zeros) {
                blocks[e] = run[0];
                kinds[e] = SegmentHeader.ZERO;
                args[e] = (int) run[1];
                source[e] = -1;
                e++;
            }
            int headerBytes = SegmentHeader.headerBytes(count);
            List<java.nio.ByteBuffer> parts = new ArrayList<>();
            long runStart = 0; // the run of body bytes not yet in parts, header included
            long fill = headerBytes;
            int slot = 0;
            fromJournal = 0;
            for (int i : withData) {
                DirtyBlock.Piece whole = in.whole(i);
                if (whole != null) {
                    MemorySegment m = views.slice(whole.file(), whole.dataPos(), bs);
                    // the journal's checksum travels on: the uploader need not touch the bytes at all
                    crcs[e] = whole.crc() >= 0 ? (int) whole.crc() : Codec.crc32c(m, 0, bs);
                    if (fill > runStart) {
                        parts.add(body.asSlice(runStart, fill - runStart).asByteBuffer());
                    }
                    parts.add(m.asByteBuffer());
                    runStart = fill;
                    fromJournal++;
                } else {
                    in.copy(i, body, fill);
                    crcs[e] = Codec.crc32c(body, fill, bs);
                    fill += bs;
                }
                blocks[e] = blockNos[i];
                kinds[e] = SegmentHeader.DATA;
                args[e] = slot++;
                source[e] = i;
                e++;
            }
            if (fill > runStart) {
                parts.add(body.asSlice(runStart, fill - runStart).asByteBuffer());
            }
            header = new SegmentHeader(uuid, gen, blocks, kinds, args, crcs);
            byte[] encoded = header.encode();
            MemorySegment.copy(encoded, 0, body, ValueLayout.JAVA_BYTE, 0, encoded.length);
            return parts;
        }
    }
}
