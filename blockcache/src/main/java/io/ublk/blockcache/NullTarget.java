package io.ublk.blockcache;

import java.lang.foreign.MemorySegment;

/**
 * A device that stores nothing: reads return zeros, writes and the rest succeed and are dropped.
 * Measures the data plane alone (ring, copies, commits) with a target that costs nothing, like
 * the kernel's null_blk. Answers every request inline; safe from any number of threads.
 */
public final class NullTarget implements BlockTarget {
    private final long size;

    /** @param size device bytes, a positive multiple of 4096 */
    public NullTarget(long size) {
        this.size = Requests.checkDeviceSize(size);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, dst, length);
        if (r != 0) {
            return r;
        }
        Zeros.fill(dst, 0, length);
        return length;
    }

    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, src, length);
        return r != 0 ? r : length;
    }

    @Override
    public int flush(long tag, Completion done) {
        return 0;
    }

    @Override
    public int discard(long offset, long length, long tag, Completion done) {
        return Requests.checkRange(size, offset, length);
    }

    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        return Requests.checkRange(size, offset, length);
    }
}
