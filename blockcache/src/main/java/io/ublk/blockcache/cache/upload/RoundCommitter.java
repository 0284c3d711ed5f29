package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.format.Checkpoint;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.Manifest;
import io.ublk.blockcache.cache.format.SegmentHeader;
import io.ublk.blockcache.cache.journal.JournalViews;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.volume.BlockIndex;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.PreconditionFailedException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes blocks as the next generation: segments, a checkpoint when due, then the manifest with
 * If-None-Match, the one PUT that switches the store's image. Only after it succeeded does the
 * volume's chain move on; the caller then points the index at the answered locations. The
 * generation, chain and checkpoint are changed here and nowhere else. Uploader thread only.
 */
final class RoundCommitter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RoundCommitter.class);
    /** Segments named by manifests since the last checkpoint before the next round writes one. */
    static final int MAX_CHAIN = 64;
    /** Room in a segment buffer for a header of this many zero runs besides its blocks. */
    private static final int ZERO_RUNS_IN_BUFFER = 1024;

    /** What {@link #commitBlocks} committed: the blocks' new locations, and whether a checkpoint restarted the chain. */
    record Committed(long generation, long[] locations, boolean checkpointed, long bytes) {}

    private final Volume volume;
    private final DirtyTable dirty;
    private final CleanCache clean;
    private final BlockArrays arrays;
    private final CacheStats stats;
    private final CacheConfig config;
    private final DeleteQueue deletes;
    private final SegmentEncoder encoder;
    /** Where segments are assembled; freed while the uploader idles. */
    private final SegmentBuffers buffers;
    /** Journal mappings of failed PUTs, unmapped after a grace period. */
    private final JournalViews.Graveyard graveyard = new JournalViews.Graveyard();

    RoundCommitter(Volume volume, DirtyTable dirty, CleanCache clean, BlockArrays arrays, CacheStats stats,
            CacheConfig config, DeleteQueue deletes) {
        this.volume = volume;
        this.dirty = dirty;
        this.clean = clean;
        this.arrays = arrays;
        this.stats = stats;
        this.config = config;
        this.deletes = deletes;
        int bs = volume.blockSize();
        int slots = (int) Math.max(1, Math.min(BlockIndex.MAX_SLOTS, config.segmentBytes() / bs));
        this.encoder = new SegmentEncoder(volume.name, volume.header.uuid(), bs, slots);
        long capacity = SegmentHeader.headerBytes(slots + ZERO_RUNS_IN_BUFFER) + (long) slots * bs;
        this.buffers = new SegmentBuffers(capacity, config.uploadParallelism() + 1);
    }

    /**
     * Uploads one frozen epoch and commits it as the next generation; then the index points at
     * the new segments, full blocks move into the clean cache and the dirty versions go.
     */
    void commit(DirtyTable.Frozen frozen) {
        int n = frozen.count();
        int bs = volume.blockSize();
        BlockSource source = new BlockSource() {
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

    /**
     * Writes blocks as the next generation: segments (each made, PUT and let go before more than
     * the upload parallelism are in memory), then a checkpoint if asked or the chain is long, then
     * the manifest. Changes nothing in memory but the chain; the caller points the index at the
     * answered locations, then calls {@link #afterCommit}.
     */
    Committed commitBlocks(int[] blocks, BlockSource source, long epoch, boolean checkpoint) {
        int bs = volume.blockSize();
        long gen = volume.generation + 1;
        int nonce = ThreadLocalRandom.current().nextInt() & Integer.MAX_VALUE;
        List<SegmentEncoder.Plan> plans = encoder.plan(blocks, source, gen, nonce);
        long bytes = putSegments(plans, gen, blocks, source);
        stats.segmentPuts.add(plans.size());
        plans.forEach(p -> stats.journalSentBlocks.add(p.fromJournal));

        long[] locations = new long[blocks.length];
        for (SegmentEncoder.Plan p : plans) {
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

    /**
     * PUTs the planned segments through a sliding window: the next segment is made while the
     * others are on the wire, and goes up as soon as any of them is done, never waiting for a
     * whole batch. Answers the bytes sent.
     */
    private long putSegments(List<SegmentEncoder.Plan> plans, long gen, int[] blocks, BlockSource source) {
        int bs = volume.blockSize();
        ArrayDeque<CompletableFuture<String>> window = new ArrayDeque<>();
        long bytes = 0;
        try {
            for (SegmentEncoder.Plan p : plans) {
                SegmentBuffers.Buffer body = buffers.take(p.size(bs));
                JournalViews views = new JournalViews();
                CompletableFuture<String> put;
                try {
                    List<ByteBuffer> object = encoder.encode(p, gen, blocks, source, body.memory, views);
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
        return bytes;
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

    /** After a checkpoint, segments no block points at are named by no generation anymore: delete them (later). */
    void afterCommit(Committed c) {
        if (!c.checkpointed()) {
            return;
        }
        BlockIndex index = volume.index;
        for (int id = 1; id < index.segmentLimit(); id++) {
            if (index.present(id) && index.live(id) == 0) {
                index.retire(id);
                deletes.add(index.segment(id).key());
            }
        }
    }

    /** Manifests before a checkpoint, and the checkpoint before it, are history: delete them (later). */
    private void retireHistory(long checkpointGen, long previousCheckpoint) {
        try {
            for (var o : Volume.await(volume.store().listAll(Keys.manifestPrefix(volume.name)))) {
                long g = Keys.manifestGeneration(volume.name, o.key());
                if (g > 0 && g < checkpointGen) {
                    deletes.add(o.key());
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("volume '{}': cannot list old manifests (they stay): {}", volume.name, e.toString());
        }
        if (previousCheckpoint != 0) {
            deletes.add(Keys.checkpoint(volume.name, previousCheckpoint));
        }
    }

    /** Unmaps journal views whose grace period passed. */
    void sweep() {
        graveyard.sweep();
    }

    /** Whether segment buffers are held (worth {@link #trim}ming when idle). */
    boolean holdsBuffers() {
        return buffers.allocated() > 0;
    }

    /** Gives the free segment buffers back to the OS. */
    void trim() {
        buffers.trim();
    }

    @Override
    public void close() {
        buffers.close();
        graveyard.sweepLater();
    }
}
