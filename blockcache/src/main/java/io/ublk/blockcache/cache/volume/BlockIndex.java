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
 * numbering of segment keys (from 1); they are never persisted.
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
    /** Replaced (never mutated in place past its published length) when it grows. */
    private volatile SegmentRef[] segments = new SegmentRef[64];
    private int[] live = new int[64];
    /** Still in the store and not yet handed to the deleter. */
    private boolean[] present = new boolean[64];
    private int segmentCount = 1;
    /** Ids 1 .. this may be handed out. */
    private final int idSpace;

    BlockIndex(long blocks) {
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

    /** Registers a segment key; its entries are published by {@link #set}. Uploader or loader only. */
    public int addSegment(String key, int headerBytes, int slots) {
        if (segmentCount > idSpace) {
            throw new IllegalStateException("more than " + idSpace + " segments in one process");
        }
        SegmentRef[] s = segments;
        if (segmentCount == s.length) {
            s = Arrays.copyOf(s, s.length * 2);
            live = Arrays.copyOf(live, s.length);
            present = Arrays.copyOf(present, s.length);
        }
        s[segmentCount] = new SegmentRef(key, headerBytes, slots);
        present[segmentCount] = true;
        segments = s;
        return segmentCount++;
    }

    /** Ids handed out so far are 1 .. this - 1. */
    public int segmentLimit() {
        return segmentCount;
    }

    public int live(int id) {
        return live[id];
    }

    public boolean present(int id) {
        return present[id];
    }

    /** The segment will be deleted: it is no longer named by the latest generation. */
    public void retire(int id) {
        present[id] = false;
    }
}
