package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.dirty.DirtyBlock;
import java.lang.foreign.MemorySegment;

/**
 * Where the blocks of one upload come from, by input index: zero, or bytes made on demand (merged
 * in memory, read back from the journal if spilled, or copied out of a segment being compacted).
 */
interface BlockSource {
    /** Whether input {@code i} is a zeroed block (it goes into a ZERO run, no payload). */
    boolean zero(int i);

    /**
     * Starts whatever read input {@code i} needs before {@link #copy} (a committed block to merge
     * with), so that the reads of one segment's inputs overlap instead of queueing one by one.
     */
    default void prepare(int i) {
    }

    /** Writes input {@code i}'s whole block into {@code dst[at, at + blockSize)}. */
    void copy(int i, MemorySegment dst, long at);

    /** The journal piece that holds input {@code i}'s whole block, to send from there without a copy; or null. */
    default DirtyBlock.Piece whole(int i) {
        return null;
    }
}
