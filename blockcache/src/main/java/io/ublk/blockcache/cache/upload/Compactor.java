package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.format.CorruptObjectException;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.blockcache.cache.read.CleanCache;
import io.ublk.blockcache.cache.volume.BlockIndex;
import io.ublk.blockcache.cache.volume.Volume;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rewrites the live blocks of mostly-dead segments into new ones when enough of the store is
 * garbage, then checkpoints so the dead segments can go. Runs between rounds on the uploader's
 * thread, so the committed index cannot change underneath; dirty blocks are not involved (their
 * newer versions come in later rounds and win, being later in the chain).
 */
final class Compactor {
    private static final Logger LOG = LoggerFactory.getLogger(Compactor.class);

    private final Volume volume;
    private final RoundCommitter committer;
    private final CleanCache clean;
    private final CacheStats stats;
    private final CacheConfig.Compaction policy;
    private final long segmentBytes;

    Compactor(Volume volume, RoundCommitter committer, CleanCache clean, CacheStats stats, CacheConfig config) {
        this.volume = volume;
        this.committer = committer;
        this.clean = clean;
        this.stats = stats;
        this.policy = config.compaction();
        this.segmentBytes = config.segmentBytes();
    }

    /** First wait after a failed compaction; doubled per failure up to {@link #MAX_BACKOFF_NANOS}. */
    static final long FIRST_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long MAX_BACKOFF_NANOS = TimeUnit.MINUTES.toNanos(10);

    private long backoffNanos = FIRST_BACKOFF_NANOS;
    /** No attempt before this (System.nanoTime()); 0 with no failure pending. */
    private long notBefore;
    /** Segments holding a block that failed its checksum: left where they are (reads of it answer EIO). */
    private final Set<Integer> damaged = new HashSet<>();

    /**
     * Compacts if the reclaimable bytes passed the policy's minimum. A failure backs off
     * exponentially (one turn of the uploader is 50 ms: retrying each would hammer the store);
     * it throws, except a damaged block, which leaves its segment out from then on.
     */
    void maybeCompact() {
        if (notBefore != 0 && System.nanoTime() - notBefore < 0) {
            return;
        }
        boolean ok = false;
        try {
            ok = compact();
        } finally {
            if (ok) {
                notBefore = 0;
                backoffNanos = FIRST_BACKOFF_NANOS;
            } else {
                notBefore = System.nanoTime() + backoffNanos;
                backoffNanos = Math.min(backoffNanos * 2, MAX_BACKOFF_NANOS);
            }
        }
    }

    /** One attempt; false if a damaged block stopped it. */
    private boolean compact() {
        BlockIndex index = volume.index;
        int bs = volume.blockSize();
        // Reclaimable: dead slots of segments that are all dead, or mostly dead (worth rewriting).
        long garbage = 0;
        List<int[]> sparse = new ArrayList<>(); // {id, live}
        for (int id = 1; id < index.segmentLimit(); id++) {
            if (!index.present(id) || damaged.contains(id)) {
                continue;
            }
            int slots = index.segment(id).slots();
            int live = index.live(id);
            if (live == 0 || live < slots * policy.liveBelow()) {
                garbage += (long) (slots - live) * bs;
                if (live > 0) {
                    sparse.add(new int[] {id, live});
                }
            }
        }
        if (garbage == 0 || garbage < policy.minGarbage()) {
            return true;
        }
        sparse.sort((a, b) -> Integer.compare(a[1], b[1]));
        boolean[] chosen = new boolean[index.segmentLimit()];
        int segments = 0;
        long liveBytes = 0;
        for (int[] s : sparse) {
            if (liveBytes + (long) s[1] * bs > segmentBytes && liveBytes > 0) {
                break;
            }
            chosen[s[0]] = true;
            segments++;
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
        // Only the live blocks are read (range reads, all under way at once, checksums verified):
        // at most one segment's bytes are in memory, and the dead bytes never cross the wire.
        @SuppressWarnings("unchecked")
        CompletableFuture<byte[]>[] reads = new CompletableFuture[count];
        for (int i = 0; i < count; i++) {
            CleanBlock cached = clean.inMemory(blocks[i], from[i]);
            reads[i] = cached != null ? CompletableFuture.completedFuture(cached.data())
                    : volume.fetch(from[i]).thenApply(CleanBlock::data);
        }
        byte[][] data = new byte[count][];
        for (int i = 0; i < count; i++) {
            try {
                data[i] = Volume.await(reads[i]);
            } catch (CorruptObjectException e) {
                int id = BlockIndex.segmentOf(from[i]);
                damaged.add(id);
                LOG.error("volume '{}': block {} in {} fails its checksum; compaction leaves that segment where it is",
                        volume.name, blocks[i], index.segment(id).key());
                return false;
            }
        }
        BlockSource source = new BlockSource() {
            @Override
            public boolean zero(int i) {
                return false;
            }

            @Override
            public void copy(int i, MemorySegment dst, long at) {
                MemorySegment.copy(data[i], 0, dst, ValueLayout.JAVA_BYTE, at, bs);
            }
        };
        RoundCommitter.Committed c = committer.commitBlocks(blocks, source, volume.committedEpoch, true,
                RoundCommitter.COMPACTION);
        for (int i = 0; i < count; i++) {
            index.set(blocks[i], c.locations()[i]);
            // the bytes did not change, only where they are: keep a cached copy valid
            CleanBlock cached = clean.getIfPresent(blocks[i]);
            if (cached != null && cached.location() == from[i]) {
                clean.put(blocks[i], new CleanBlock(c.locations()[i], cached.data(), cached.reused()));
            }
        }
        committer.afterCommit(c);
        stats.compactions.increment();
        stats.compactedBytes.add(liveBytes);
        LOG.info("volume '{}': compaction moved {} live blocks out of {} segments ({} bytes of garbage before)",
                volume.name, count, segments, garbage);
        return true;
    }
}
