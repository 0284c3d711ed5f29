package io.ublk.blockcache.cache.read;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.volume.Volume;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Committed blocks in memory: a size-bounded Caffeine cache, one store fetch per block at a time
 * (single flight), and the blocks a prefetch fetched, held until the read that follows takes
 * them.
 *
 * <p>A cached block is valid only while the committed index still points at its location;
 * every lookup names the location it wants, so a stale copy is never answered.
 */
public final class CleanCache {
    private static final Logger LOG = LoggerFactory.getLogger(CleanCache.class);
    /** The cache never goes below this many blocks, so a prefetched block is still there for its read. */
    private static final int MIN_BLOCKS = 64;

    private final Volume volume;
    private final CacheStats stats;
    private final Cache<Integer, CleanBlock> cache;
    private final ConcurrentHashMap<Long, CompletableFuture<CleanBlock>> fetching = new ConcurrentHashMap<>();
    /**
     * Blocks a prefetch fetched, held until the read that follows takes them: the cache's
     * admission policy may turn a new entry away at once, and the read must not then wait on the
     * store again while it holds a bounce slot. Holds at most one entry per read in flight.
     */
    private final ConcurrentHashMap<Integer, CleanBlock> prefetched = new ConcurrentHashMap<>();

    public CleanCache(Volume volume, long bytes, BlockArrays arrays, CacheStats stats) {
        this.volume = volume;
        this.stats = stats;
        long weight = Math.max(bytes, (long) MIN_BLOCKS * volume.blockSize());
        this.cache = Caffeine.newBuilder()
                .maximumWeight(weight)
                .weigher((Integer b, CleanBlock c) -> c.data().length)
                .executor(Runnable::run)
                // evicted, a former dirty version's array is written again by a later write
                .removalListener((Integer b, CleanBlock c, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE && c != null && c.reused()) {
                        arrays.retire(c.data());
                    }
                })
                .build();
    }

    /** The cached copy of a block, whatever its location; or null. */
    public CleanBlock getIfPresent(int block) {
        return cache.getIfPresent(block);
    }

    public void put(int block, CleanBlock c) {
        cache.put(block, c);
    }

    public void invalidate(int block) {
        cache.invalidate(block);
    }

    /** Forgets every cached block (prefetches staged for reads in flight stay for those reads). */
    public void clear() {
        cache.invalidateAll();
    }

    /** The committed bytes at {@code loc} if memory holds them: the cache, or a prefetch awaiting its read. */
    public CleanBlock inMemory(int block, long loc) {
        CleanBlock c = cache.getIfPresent(block);
        if (c != null && c.location() == loc) {
            return c;
        }
        c = prefetched.get(block);
        return c != null && c.location() == loc ? c : null;
    }

    /**
     * The committed bytes at {@code loc} for a read: the prefetch staged for it, which the read
     * takes (so no prefetch stays behind once the cache holds the block too), or the cache's copy;
     * null if memory has neither.
     */
    public CleanBlock forRead(int block, long loc) {
        CleanBlock c = prefetched.isEmpty() ? null : takePrefetched(block, loc);
        if (c != null) {
            return c;
        }
        c = cache.getIfPresent(block);
        return c != null && c.location() == loc ? c : null;
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

    /** Fetches the block for a read that will follow, and holds it for that read. */
    public CompletableFuture<CleanBlock> stage(int block, long loc) {
        return fetch(block, loc).thenApply(c -> {
            prefetched.put(block, c);
            return c;
        });
    }

    /**
     * Fetches the committed block into the cache; one fetch per location at a time. Keyed by
     * location, not block: a fetch of an older version still under way must never answer for the
     * version the uploader committed since (the merge of a partial block would take stale bytes).
     */
    public CompletableFuture<CleanBlock> fetch(int block, long loc) {
        CompletableFuture<CleanBlock> running = fetching.get(loc);
        if (running != null) {
            return running;
        }
        CompletableFuture<CleanBlock> mine = new CompletableFuture<>();
        running = fetching.putIfAbsent(loc, mine);
        if (running != null) {
            return running;
        }
        stats.readMisses.increment();
        volume.fetch(loc).whenComplete((c, ex) -> {
            if (ex == null) {
                // The uploader may have committed a newer version meanwhile: never let the older
                // one replace it, nor stay cached.
                if (volume.index.get(block) == loc) {
                    cache.put(block, c);
                    if (volume.index.get(block) != loc) {
                        cache.asMap().remove(block, c);
                    }
                }
            } else {
                LOG.warn("volume '{}': cannot read block {} from the store: {}", volume.name, block,
                        Volume.unwrap(ex).getMessage());
            }
            fetching.remove(loc, mine);
            if (ex == null) {
                mine.complete(c);
            } else {
                mine.completeExceptionally(ex);
            }
        });
        return mine;
    }

    /** The committed bytes of a block (null: zeros), for the uploader's merge of partial blocks; may read the store. */
    public CompletableFuture<byte[]> committedBytesAsync(int block) {
        long loc = volume.index.get(block);
        if (loc == 0) {
            return CompletableFuture.completedFuture(null);
        }
        CleanBlock c = inMemory(block, loc);
        return c != null ? CompletableFuture.completedFuture(c.data()) : fetch(block, loc).thenApply(CleanBlock::data);
    }

    /** Block bytes this cache keeps reachable: the cached blocks and the prefetches awaiting their reads. */
    public long heldBytes() {
        long held = cache.policy().eviction().orElseThrow().weightedSize().orElse(0);
        for (CleanBlock c : prefetched.values()) {
            held += c.data().length;
        }
        return held;
    }

    /** Drops the prefetched blocks no read will take any more (close). */
    public void clearPrefetched() {
        prefetched.clear();
    }
}
