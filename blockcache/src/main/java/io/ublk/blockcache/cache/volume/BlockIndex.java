package io.ublk.blockcache.cache.volume;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Where each block of the committed image lives in the store: one long per block, read by
 * workers without a lock, written only by the uploader after a manifest committed (or by the
 * loader before anyone reads).
 *
 * <p>A location packs {@code crc32c (32) | segment id (22) | slot (10)}; 0 means the block is
 * in no segment and reads as zeros without a store call. Segment ids are this process's own
 * numbering of segment keys (from 1); they are never persisted, so the store format does not
 * depend on their width.
 *
 * <p><b>Ids are reused</b>, or 22 bits would run out after 4M segments (97 days at one round
 * per 2 s, failed rounds included) and uploads would stop for good. An id goes back to the free
 * list only when nothing can resolve it any more: a segment the latest generation no longer
 * names is {@link #retire}d, and {@link #release}d once the delete grace period has passed
 * (a reader that looked up its location just before has long resolved the key by then); a
 * round that failed releases its new ids at once, as no location with them was ever published.
 *
 * <p>The index also counts, per segment, how many of its slots are still live, which is what
 * compaction and the deletion of dead segments go by. Those counts are the uploader's alone.
 */
public final class BlockIndex {
    static final int SLOT_BITS = 10;
    public static final int MAX_SLOTS = 1 << SLOT_BITS;
    private static final int SEGMENT_BITS = 22;
    static final int MAX_SEGMENTS = (1 << SEGMENT_BITS) - 1;
    /**
     * Shrinks the id space to this many ids (tests only: a few dozen ids run out in seconds
     * instead of months). Read when an index is made.
     */
    public static final String ID_SPACE_PROPERTY = "ublk.blockcache.segmentIds";

    /** A segment object: its key, where its payloads start, and how many data slots it has. */
    public record SegmentRef(String key, int headerBytes, int slots) {}

    private final AtomicLongArray locations;
    private static final byte FREE = 0;
    /** Named by the latest generation, or by the round being committed. */
    private static final byte PRESENT = 1;
    /** Handed to the deleter; its id waits for the grace period. */
    private static final byte RETIRED = 2;

    /**
     * Replaced when it grows; a slot is written again only when its id is reused, which is after
     * any reader resolved the old segment (see above). The write of {@link #segments} after each
     * change publishes the slot to a reader that finds the id in a location set later.
     */
    private volatile SegmentRef[] segments = new SegmentRef[64];
    private int[] live = new int[64];
    private byte[] state = new byte[64];
    private int segmentCount = 1;
    /** Released ids, reused last in, first out. */
    private int[] free = new int[16];
    private int freeCount;
    /** Ids 1 .. this may be handed out. */
    private final int idSpace;

    /** An empty index (the loader fills it). */
    public BlockIndex(long blocks) {
        this.idSpace = Math.clamp(Integer.getInteger(ID_SPACE_PROPERTY, MAX_SEGMENTS), 1, MAX_SEGMENTS);
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many blocks for one volume: " + blocks);
        }
        this.locations = new AtomicLongArray((int) blocks);
    }

    public static long location(int segment, int slot, int crc) {
        return ((long) crc << 32) | ((long) segment << SLOT_BITS) | slot;
    }

    public static int segmentOf(long location) {
        return (int) (location >>> SLOT_BITS) & MAX_SEGMENTS;
    }

    public static int slotOf(long location) {
        return (int) location & (MAX_SLOTS - 1);
    }

    public static int crcOf(long location) {
        return (int) (location >>> 32);
    }

    public int blocks() {
        return locations.length();
    }

    public long get(int block) {
        return locations.get(block);
    }

    /** Points a block somewhere else (0: zeros), keeping the live counts. Uploader or loader only. */
    public void set(int block, long location) {
        long old = locations.getAndSet(block, location);
        if (old != 0) {
            live[segmentOf(old)]--;
        }
        if (location != 0) {
            live[segmentOf(location)]++;
        }
    }

    public SegmentRef segment(int id) {
        return segments[id];
    }

    /**
     * Registers a segment key under a free id; its entries are published by {@link #set}.
     * Uploader or loader only. Throws if every id is in use or waiting for its grace period
     * (the caller's round fails and is retried later, when some were released).
     */
    public int addSegment(String key, int headerBytes, int slots) {
        int id;
        if (freeCount > 0) {
            id = free[--freeCount];
        } else if (segmentCount <= idSpace) {
            id = segmentCount++;
        } else {
            throw new IllegalStateException("all " + idSpace + " segment ids are in use or waiting for the delete grace period");
        }
        SegmentRef[] s = segments;
        if (id == s.length) {
            s = Arrays.copyOf(s, s.length * 2);
            live = Arrays.copyOf(live, s.length);
            state = Arrays.copyOf(state, s.length);
        }
        s[id] = new SegmentRef(key, headerBytes, slots);
        state[id] = PRESENT;
        segments = s;
        return id;
    }

    /** Ids handed out so far are below this (some may be free: see {@link #present}). */
    public int segmentLimit() {
        return segmentCount;
    }

    /** Ids {@link #addSegment} can still hand out. */
    public int freeIds() {
        return idSpace - (segmentCount - 1) + freeCount;
    }

    /**
     * True once half the id space is taken: time for a checkpoint, which lets the dead segments
     * of the chain go (and their ids after the grace period) before a round finds none.
     */
    public boolean idsScarce() {
        return freeIds() < idSpace / 2;
    }

    public int live(int id) {
        return live[id];
    }

    public boolean present(int id) {
        return state[id] == PRESENT;
    }

    /** The segment will be deleted: it is no longer named by the latest generation. */
    public void retire(int id) {
        state[id] = RETIRED;
    }

    /**
     * Gives a retired id back for reuse: its grace period passed, or no location with it was
     * ever published. A location still pointing at it is a bug, and reusing the id would
     * silently point that block at another segment's slot, so it throws instead.
     */
    public void release(int id) {
        if (state[id] != RETIRED || live[id] != 0) {
            throw new IllegalStateException("segment id " + id + " released while " + (state[id] == RETIRED
                    ? live[id] + " blocks point at it" : "not retired"));
        }
        state[id] = FREE;
        if (freeCount == free.length) {
            free = Arrays.copyOf(free, free.length * 2);
        }
        free[freeCount++] = id;
    }
}
