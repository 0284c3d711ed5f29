package io.ublk.blockcache.cache;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Where each block of the committed image lives in the store: one long per block, read by
 * workers without a lock, written only by the uploader after a manifest committed.
 *
 * <p>A location packs {@code crc32c (32) | segment id (22) | slot (10)}; 0 means the block is
 * in no segment and reads as zeros without a store call. Segment ids are this process's own
 * numbering of segment keys (from 1); they are never persisted.
 */
final class BlockIndex {
    static final int SLOT_BITS = 10;
    static final int MAX_SLOTS = 1 << SLOT_BITS;
    private static final int SEGMENT_BITS = 22;
    static final int MAX_SEGMENTS = (1 << SEGMENT_BITS) - 1;

    /** A segment object: its key and where its payloads start. */
    record SegmentRef(String key, int headerBytes) {}

    /** Segment keys by id, append-only, shared by an index and the staging copies made from it. */
    private static final class Segments {
        /** Replaced (never mutated in place past its published length) when it grows. */
        volatile SegmentRef[] refs = new SegmentRef[64];
        int count = 1;
    }

    private volatile AtomicLongArray locations;
    private final Segments segments;

    BlockIndex(long blocks) {
        this(blocks, new Segments());
    }

    private BlockIndex(long blocks, Segments segments) {
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many blocks for one volume: " + blocks);
        }
        this.locations = new AtomicLongArray((int) blocks);
        this.segments = segments;
    }

    /**
     * An empty index to load a newer generation into, numbering its segments after this one's so
     * no location of one can be mistaken for a location of the other; {@link #adopt} it after.
     */
    BlockIndex staging() {
        return new BlockIndex(blocks(), segments);
    }

    /** Switches every block to the staging index's locations at once. */
    void adopt(BlockIndex staged) {
        if (staged.segments != segments) {
            throw new IllegalArgumentException("not a staging copy of this index");
        }
        locations = staged.locations;
    }

    static long location(int segment, int slot, int crc) {
        return ((long) crc << 32) | ((long) segment << SLOT_BITS) | slot;
    }

    static int segmentOf(long location) {
        return (int) (location >>> SLOT_BITS) & MAX_SEGMENTS;
    }

    static int slotOf(long location) {
        return (int) location & (MAX_SLOTS - 1);
    }

    static int crcOf(long location) {
        return (int) (location >>> 32);
    }

    int blocks() {
        return locations.length();
    }

    long get(int block) {
        return locations.get(block);
    }

    /** Uploader (or loader) only. */
    void set(int block, long location) {
        locations.set(block, location);
    }

    SegmentRef segment(int id) {
        return segments.refs[id];
    }

    /** Registers a segment key; uploader (or loader) only. Its entries are published by {@link #set}. */
    int addSegment(String key, int headerBytes) {
        Segments t = segments;
        synchronized (t) {
            if (t.count > MAX_SEGMENTS) {
                throw new IllegalStateException("more than " + MAX_SEGMENTS + " segments in one process");
            }
            SegmentRef[] s = t.refs;
            if (t.count == s.length) {
                SegmentRef[] grown = java.util.Arrays.copyOf(s, s.length * 2);
                grown[t.count] = new SegmentRef(key, headerBytes);
                t.refs = grown;
            } else {
                s[t.count] = new SegmentRef(key, headerBytes);
            }
            return t.count++;
        }
    }
}
