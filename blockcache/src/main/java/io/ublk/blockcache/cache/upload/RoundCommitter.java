package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.format.Checkpoint;
import io.ublk.blockcache.cache.format.CorruptBlockException;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.Manifest;
import io.ublk.blockcache.cache.format.SegmentHeader;
import io.ublk.blockcache.cache.journal.JournalViews;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.volume.BlockIndex;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.ObjectNotFoundException;
import io.ublk.s3.PreconditionFailedException;
import io.ublk.s3.StoreException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
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
 *
 * <p><b>Lost answers.</b> A PUT can land and its answer be lost (a dropped connection). So a
 * round keeps its identity across retries: one random id, which is the commit id in its
 * manifest and (its low bits) the nonce in its segment keys. A retry makes the same objects
 * under the same keys (the encoding is a function of the frozen epoch and the committed image,
 * neither of which changes until the round commits), so a segment or checkpoint that landed
 * unanswered is overwritten with the same bytes, not orphaned. A 412 on the manifest is then
 * told apart by identity: this writer and this round's id is our own commit that landed; another
 * writer is a fence; this writer with another id is a round of ours we gave up on (a
 * compaction), whose generation the next round moves past. The objects of a round given up are
 * deleted after the next commit (until then a manifest that landed may name them).
 */
final class RoundCommitter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RoundCommitter.class);
    /** Segments named by manifests since the last checkpoint before the next round writes one. */
    static final int MAX_CHAIN = 64;
    /** Room in a segment buffer for a header of this many zero runs besides its blocks. */
    private static final int ZERO_RUNS_IN_BUFFER = 1024;
    /** The round of a compaction: planned afresh on each try, so never retried as the same round. */
    static final long COMPACTION = -1;

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
    private final int checkpointPartBytes;
    /** Journal mappings of failed PUTs, unmapped after a grace period. */
    private final JournalViews.Graveyard graveyard = new JournalViews.Graveyard();
    /** The round being committed, kept until it commits or is given up; null between rounds. */
    private Round round;
    /** The epoch {@link #damaged} belongs to, and which of its inputs have a damaged committed base. */
    private long damagedOf = -1;
    private final BitSet damaged = new BitSet();
    /** Objects of rounds given up, handed to the delete queue after the next commit. */
    private final List<String> orphans = new ArrayList<>();

    /** One round's identity and what its attempts sent. */
    private static final class Round {
        final long generation;
        /** The frozen epoch it uploads, or {@link #COMPACTION}. */
        final long of;
        /** Its manifest's commit id, never {@link Manifest#NO_COMMIT}. */
        final long id;
        /** Keys its attempts PUT (some may not have landed). */
        final List<String> sent = new ArrayList<>();
        /** A manifest PUT of it went out: it may have landed. */
        boolean manifestSent;

        Round(long generation, long of) {
            this.generation = generation;
            this.of = of;
            long id;
            do {
                id = ThreadLocalRandom.current().nextLong();
            } while (id == Manifest.NO_COMMIT);
            this.id = id;
        }

        /** The segment key nonce. */
        int nonce() {
            return (int) id & Integer.MAX_VALUE;
        }

        void sent(String key) {
            if (!sent.contains(key)) {
                sent.add(key);
            }
        }
    }

    /** The generation a round targeted holds another commit of this writer: the next round goes past it. */
    static final class GenerationTaken extends RuntimeException {
        GenerationTaken(String key) {
            super(key + " holds an earlier commit of this cache whose answer was lost; the next round goes past it");
        }
    }

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
        this.checkpointPartBytes = Math.clamp(Integer.getInteger(Checkpoint.PART_BYTES_PROPERTY, Checkpoint.PART_BYTES),
                Checkpoint.MIN_PART_BYTES, Checkpoint.PART_BYTES);
    }

    /**
     * Uploads one frozen epoch and commits it as the next generation; then the index points at
     * the new segments, full blocks move into the clean cache and the dirty versions go.
     *
     * <p>A partial block whose committed bytes fail their checksum twice is <b>damaged</b>: it
     * cannot be merged, so the round is retried without it and the index keeps its damaged
     * location. Its reads answer EIO (the checksum fails again), the rest of the volume uploads
     * on, and a later full-block write, which needs no merge, heals it.
     */
    void commit(DirtyTable.Frozen frozen) {
        if (damagedOf != frozen.number()) {
            damagedOf = frozen.number();
            damaged.clear();
        }
        int[] inputs = new int[frozen.count() - damaged.cardinality()];
        for (int j = 0, k = 0; j < frozen.count(); j++) {
            if (!damaged.get(j)) {
                inputs[k++] = j;
            }
        }
        int n = inputs.length;
        int[] blocks = new int[n];
        for (int k = 0; k < n; k++) {
            blocks[k] = frozen.blocks()[inputs[k]];
        }
        int bs = volume.blockSize();
        // the committed bytes partial blocks merge with, read one segment's worth at a time (prepare)
        @SuppressWarnings("unchecked")
        CompletableFuture<byte[]>[] bases = new CompletableFuture[n];
        BlockSource source = new BlockSource() {
            @Override
            public boolean zero(int i) {
                return frozen.versions()[inputs[i]].zero;
            }

            @Override
            public void prepare(int i) {
                if (!frozen.versions()[inputs[i]].full()) {
                    bases[i] = clean.committedBytesAsync(blocks[i]);
                }
            }

            @Override
            public void copy(int i, MemorySegment dst, long at) {
                DirtyBlock d = frozen.versions()[inputs[i]];
                byte[] base = null;
                if (!d.full()) {
                    CompletableFuture<byte[]> f = bases[i] != null ? bases[i] : clean.committedBytesAsync(blocks[i]);
                    bases[i] = null;
                    try {
                        base = Volume.await(f);
                    } catch (CorruptBlockException e) {
                        throw damagedBase(inputs[i], blocks[i], e);
                    }
                }
                d.mergeInto(base, dst, at, bs);
            }

            @Override
            public DirtyBlock.Piece whole(int i) {
                return frozen.versions()[inputs[i]].wholePiece(bs);
            }
        };
        Committed c = commitBlocks(blocks, source, frozen.number(), volume.chain.size() >= MAX_CHAIN,
                frozen.number());
        // Committed: readers may now find the bytes through the index instead of the dirty table.
        for (int k = 0; k < n; k++) {
            int b = blocks[k];
            DirtyBlock d = frozen.versions()[inputs[k]];
            volume.index.set(b, c.locations()[k]);
            byte[] bytes = d.data;
            boolean keep = bytes != null && d.full();
            if (keep) {
                // the array moves on as the clean copy; back to the pool when the cache evicts it
                clean.put(b, new CleanBlock(c.locations()[k], bytes, true));
            } else {
                clean.invalidate(b);
            }
            dirty.release(b, d);
            if (bytes != null && !keep) {
                arrays.retire(bytes);
            }
        }
        // The damaged ones: their writes went into a block whose other bytes are lost; the index
        // keeps the damaged location, so reads of the block answer EIO until a full write.
        for (int j = damaged.nextSetBit(0); j >= 0; j = damaged.nextSetBit(j + 1)) {
            DirtyBlock d = frozen.versions()[j];
            clean.invalidate(frozen.blocks()[j]);
            dirty.release(frozen.blocks()[j], d);
            if (d.data != null) {
                arrays.retire(d.data);
            }
        }
        afterCommit(c);
        stats.uploadRounds.increment();
    }

    /**
     * The committed bytes of input {@code j} (block {@code block}) failed their checksum: read
     * once more, as a flipped bit on the way is not damage. Failing again, the block is damaged
     * and left out when the round is retried. Answers what the round throws.
     */
    private RuntimeException damagedBase(int j, int block, CorruptBlockException first) {
        try {
            Volume.await(clean.committedBytesAsync(block));
            return new StoreException("volume '" + volume.name + "' block " + block + ": a read of its committed bytes "
                    + "failed its checksum, the next one did not; the round is retried: " + first.getMessage());
        } catch (CorruptBlockException again) {
            damaged.set(j);
            stats.damagedBlocks.increment();
            LOG.error("volume '{}' block {} is damaged in the store ({}); writes to part of it cannot be merged and "
                    + "its reads answer EIO until a write of the whole block replaces it; the other blocks upload on",
                    volume.name, block, again.getMessage());
            return again;
        } catch (RuntimeException other) {
            return other;
        }
    }

    /**
     * Writes blocks as the next generation: segments (each made, PUT and let go before more than
     * the upload parallelism are in memory), then a checkpoint if asked or the chain is long, then
     * the manifest. Changes nothing in memory but the chain; the caller points the index at the
     * answered locations, then calls {@link #afterCommit}.
     *
     * @param of the frozen epoch these blocks are, retried as the same round until it commits; or
     *           {@link #COMPACTION}
     */
    Committed commitBlocks(int[] blocks, BlockSource source, long epoch, boolean checkpoint, long of) {
        Round r = round(of);
        long gen = r.generation;
        List<SegmentEncoder.Plan> plans = encoder.plan(blocks, source, gen, r.nonce());
        long bytes = putSegments(r, plans, gen, blocks, source);
        stats.segmentPuts.add(plans.size());
        plans.forEach(p -> stats.journalSentBlocks.add(p.fromJournal));

        long[] locations = new long[blocks.length];
        int[] ids = new int[plans.size()];
        int registered = 0;
        List<String> chain = new ArrayList<>(volume.chain);
        plans.forEach(p -> chain.add(p.key));
        long ckpt = volume.checkpoint;
        int parts = volume.checkpointParts;
        boolean checkpointed = checkpoint || chain.size() > MAX_CHAIN || volume.index.idsScarce();
        try {
            for (SegmentEncoder.Plan p : plans) {
                int id = volume.index.addSegment(p.key, p.header.headerBytes, p.header.dataSlots());
                ids[registered++] = id;
                for (int i = 0; i < p.header.count(); i++) {
                    if (p.header.kinds[i] == SegmentHeader.DATA) {
                        locations[p.source[i]] = BlockIndex.location(id, p.header.args[i], p.header.crcs[i]);
                    }
                }
            }
            if (checkpointed) {
                long[] all = new long[volume.index.blocks()];
                for (int b = 0; b < all.length; b++) {
                    all[b] = volume.index.get(b);
                }
                for (int i = 0; i < blocks.length; i++) {
                    all[blocks[i]] = locations[i];
                }
                // one part in memory at a time; the manifest, PUT after the last, makes them count
                Checkpoint.Writer w = new Checkpoint.Writer(volume.header.uuid(), gen, all, volume.index,
                        checkpointPartBytes);
                while (w.hasNext()) {
                    String key = Keys.checkpointPart(volume.name, gen, w.part());
                    byte[] encoded = w.next();
                    r.sent(key);
                    Volume.await(volume.store().put(key, encoded));
                    bytes += encoded.length;
                    stats.checkpointPuts.increment();
                }
                ckpt = gen;
                parts = w.part();
                chain.clear();
            }
            r.manifestSent = true;
            putManifest(r, new Manifest(volume.header.uuid(), volume.writer, gen, epoch, ckpt, chain, r.id));
        } catch (RuntimeException e) {
            // No location with these ids was published, so they are free again at once (a retry
            // registers the keys anew; left present, afterCommit would delete them).
            for (int i = 0; i < registered; i++) {
                volume.index.retire(ids[i]);
                volume.index.release(ids[i]);
            }
            throw e;
        }
        round = null;
        long previousCheckpoint = volume.checkpoint;
        int previousParts = volume.checkpointParts;
        volume.generation = gen;
        volume.checkpoint = ckpt;
        volume.checkpointParts = parts;
        volume.chain.clear();
        volume.chain.addAll(chain);
        stats.committedGeneration.set(gen);
        stats.uploadedBytes.add(bytes);
        if (checkpointed) {
            retireHistory(gen, previousCheckpoint, previousParts);
        }
        deleteOrphans(chain, ckpt, parts);
        return new Committed(gen, locations, checkpointed, bytes);
    }

    /** The round for blocks {@code of}: the one in progress if it is a retry of the same, else a new one. */
    private Round round(long of) {
        Round r = round;
        if (r != null && r.of == of && of != COMPACTION && r.generation == volume.generation + 1) {
            return r;
        }
        if (r != null) {
            giveUp(r);
        }
        round = new Round(volume.generation + 1, of);
        return round;
    }

    /**
     * Gives up a round that will not be retried as such (a compaction). If its manifest may have
     * landed, that is found out first, before a new round PUTs anything at that generation (its
     * checkpoint key is the generation's). Throws, keeping the round, if the store cannot tell.
     */
    private void giveUp(Round r) {
        if (r.manifestSent) {
            String key = Keys.manifest(volume.name, r.generation);
            Manifest there = manifestAt(key);
            if (there != null) {
                taken(key, there);
            }
        }
        orphans.addAll(r.sent);
        round = null;
    }

    /** The manifest at {@code key}, or null if there is none. */
    private Manifest manifestAt(String key) {
        try {
            return Manifest.decode(key, Volume.await(volume.store().get(key)).data());
        } catch (ObjectNotFoundException e) {
            return null;
        }
    }

    /**
     * {@code there}, a commit that is not the round's, holds the generation of {@code key}: another
     * writer's is a fence; one of this writer's (a round given up whose PUT landed unanswered) is
     * an image this cache committed already, so the next round commits past it.
     */
    private void taken(String key, Manifest there) {
        if (!there.writer().equals(volume.writer)) {
            throw new PreconditionFailedException(key + " (written by cache " + there.writer() + ")");
        }
        long gen = Keys.manifestGeneration(volume.name, key);
        if (gen > volume.generation) {
            volume.generation = gen;
            stats.committedGeneration.set(gen);
        }
        LOG.warn("volume '{}': {} holds an earlier commit of this cache (its answer was lost); going past it",
                volume.name, key);
    }

    /** Objects of rounds given up, now that a newer manifest is in force: delete them (later). */
    private void deleteOrphans(List<String> chain, long checkpoint, int parts) {
        List<String> inUse = new ArrayList<>(parts);
        for (int n = 0; n < parts; n++) {
            inUse.add(Keys.checkpointPart(volume.name, checkpoint, n));
        }
        for (String key : orphans) {
            // a round given up at this generation wrote checkpoint keys this commit rewrote (its
            // parts past this one's last are named by nothing: they go)
            if (!inUse.contains(key) && !chain.contains(key)) {
                deletes.add(key);
            }
        }
        orphans.clear();
    }

    /**
     * PUTs the planned segments through a sliding window: the next segment is made while the
     * others are on the wire, and goes up as soon as any of them is done, never waiting for a
     * whole batch. Answers the bytes sent.
     */
    private long putSegments(Round r, List<SegmentEncoder.Plan> plans, long gen, int[] blocks, BlockSource source) {
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
                    r.sent(p.key);
                    put = volume.store().put(p.key, object);
                } catch (RuntimeException e) {
                    buffers.give(body);
                    graveyard.release(views, false);
                    throw e;
                }
                // the buffer and mappings go only once the store is done reading them (every retry included)
                window.add(put.whenComplete((etag, ex) -> {
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

    private void putManifest(Round r, Manifest m) {
        String key = Keys.manifest(volume.name, m.generation());
        try {
            Volume.await(volume.store().putIfAbsent(key, m.encode()));
        } catch (PreconditionFailedException e) {
            // A retry whose first PUT landed unanswered looks the same as losing the race: tell them apart.
            Manifest there = manifestAt(key);
            if (there == null) {
                throw new StoreException(key + " failed its If-None-Match but cannot be read");
            }
            if (!there.isCommit(volume.writer, r.id)) {
                taken(key, there);
                orphans.addAll(r.sent);
                round = null;
                throw new GenerationTaken(key);
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
                deletes.add(index.segment(id).key(), id);
            }
        }
    }

    /** Manifests before a checkpoint, and the checkpoint before it, are history: delete them (later). */
    private void retireHistory(long checkpointGen, long previousCheckpoint, int previousParts) {
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
        for (int n = 0; previousCheckpoint != 0 && n < previousParts; n++) {
            deletes.add(Keys.checkpointPart(volume.name, previousCheckpoint, n));
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
