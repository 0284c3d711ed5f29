package io.ublk.blockcache.cache;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One block's writes of one epoch, not yet in the store. Sub-block writes mark the 512-byte
 * sectors they filled; the rest of the block comes from older versions (the frozen epoch, then
 * the store) when read, and is merged in by the uploader before the block is uploaded.
 *
 * <p>{@code data == null} means the whole block was discarded or zeroed: it reads as zeros and
 * is uploaded as a ZERO entry, costing no memory.
 */
final class DirtyBlock {
    static final int SECTOR_SHIFT = 9;

    final long epoch;
    final byte[] data;
    private final AtomicLongArray valid;
    private volatile boolean full;
    /** The frozen epoch's version of the same block while it uploads; cut once it committed. */
    volatile DirtyBlock older;

    DirtyBlock(long epoch, byte[] data, int sectors, DirtyBlock older) {
        this.epoch = epoch;
        this.data = data;
        this.older = older;
        this.valid = data == null ? null : new AtomicLongArray((sectors + 63) >>> 6);
        this.full = data == null;
    }

    boolean full() {
        return full;
    }

    /** Marks sectors [from, to) as holding this epoch's bytes. */
    void markValid(int from, int to) {
        if (full) {
            return;
        }
        int sectors = data.length >>> SECTOR_SHIFT;
        if (from == 0 && to == sectors) {
            full = true;
            return;
        }
        for (int s = from; s < to; ) {
            int word = s >>> 6;
            int end = Math.min(to, (word + 1) << 6);
            long bits = rangeBits(s & 63, end - (word << 6));
            valid.accumulateAndGet(word, bits, DirtyBlock::or);
            s = end;
        }
        if (allValid(sectors)) {
            full = true;
        }
    }

    /** Every sector the uploader filled from the base is now valid. */
    void markFull() {
        full = true;
    }

    boolean isValid(int sector) {
        return full || (valid.get(sector >>> 6) & (1L << (sector & 63))) != 0;
    }

    /** True if sectors [from, to) are all this epoch's. */
    boolean covers(int from, int to) {
        if (full) {
            return true;
        }
        for (int s = from; s < to; ) {
            int word = s >>> 6;
            int end = Math.min(to, (word + 1) << 6);
            long bits = rangeBits(s & 63, end - (word << 6));
            if ((valid.get(word) & bits) != bits) {
                return false;
            }
            s = end;
        }
        return true;
    }

    private boolean allValid(int sectors) {
        return covers(0, sectors);
    }

    static long or(long a, long b) {
        return a | b;
    }

    /** Bits [from, to) of a word, 0 <= from < to <= 64. */
    private static long rangeBits(int from, int to) {
        long hi = to == 64 ? -1L : (1L << to) - 1;
        return hi & ~((1L << from) - 1);
    }

    /** Copies bytes [at, at+n) of the block into dst (all must be valid). */
    void copyTo(int at, int n, MemorySegment dst, long dstAt) {
        if (data == null) {
            io.ublk.blockcache.Zeros.fill(dst, dstAt, n);
        } else {
            MemorySegment.copy(data, at, dst, ValueLayout.JAVA_BYTE, dstAt, n);
        }
    }

    /** Copies this epoch's sectors within [at, at+n) over dst, leaving the others as they are. */
    void overlay(int at, int n, MemorySegment dst, long dstAt) {
        if (full) {
            copyTo(at, n, dst, dstAt);
            return;
        }
        int end = at + n;
        int s = at >>> SECTOR_SHIFT;
        int last = (end + 511) >>> SECTOR_SHIFT;
        while (s < last) {
            if (!isValid(s)) {
                s++;
                continue;
            }
            int runEnd = s + 1;
            while (runEnd < last && isValid(runEnd)) {
                runEnd++;
            }
            int from = Math.max(at, s << SECTOR_SHIFT);
            int to = Math.min(end, runEnd << SECTOR_SHIFT);
            MemorySegment.copy(data, from, dst, ValueLayout.JAVA_BYTE, dstAt + (from - at), to - from);
            s = runEnd;
        }
    }

    /** Fills the sectors this epoch did not write from {@code base} (null: zeros); uploader only. */
    void mergeBase(byte[] base) {
        if (full) {
            return;
        }
        int sectors = data.length >>> SECTOR_SHIFT;
        for (int s = 0; s < sectors; s++) {
            if (!isValid(s)) {
                int off = s << SECTOR_SHIFT;
                if (base == null) {
                    java.util.Arrays.fill(data, off, off + 512, (byte) 0);
                } else {
                    System.arraycopy(base, off, data, off, 512);
                }
            }
        }
        full = true;
    }
}
