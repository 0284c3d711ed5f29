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

    private final AtomicLongArray locations;
    /** Replaced (never mutated in place past its published length) when it grows. */
    private volatile SegmentRef[] segments = new SegmentRef[64];
    private int segmentCount = 1;

    BlockIndex(long blocks) {
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many blocks for one volume: " + blocks);
        }
        this.locations = new AtomicLongArray((int) blocks);
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
        return segments[id];
    }

    /** Registers a segment key; uploader (or loader) only. Its entries are published by {@link #set}. */
    int addSegment(String key, int headerBytes) {
        if (segmentCount > MAX_SEGMENTS) {
            throw new IllegalStateException("more than " + MAX_SEGMENTS + " segments in one process");
        }
        SegmentRef[] s = segments;
        if (segmentCount == s.length) {
            SegmentRef[] grown = java.util.Arrays.copyOf(s, s.length * 2);
            grown[segmentCount] = new SegmentRef(key, headerBytes);
            segments = grown;
        } else {
            s[segmentCount] = new SegmentRef(key, headerBytes);
        }
        return segmentCount++;
    }

    int segmentCount() {
        return segmentCount - 1;
    }
}
