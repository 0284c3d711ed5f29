package io.ublk.blockcache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Zero-filling without allocation: copies from one shared, never-written block of zeros instead
 * of slicing the destination ({@code asSlice(..).fill(0)} creates a segment per call).
 */
public final class Zeros {
    /** Big enough that a 128 KiB bounce slot takes two copies; small enough to stay cached. */
    private static final long BLOCK_SIZE = 64 * 1024;
    private static final MemorySegment BLOCK = Arena.global().allocate(BLOCK_SIZE, 4096);

    private Zeros() {}

    /** Sets {@code dst[offset, offset+length)} to zero. */
    public static void fill(MemorySegment dst, long offset, long length) {
        long done = 0;
        while (done < length) {
            long n = Math.min(BLOCK_SIZE, length - done);
            MemorySegment.copy(BLOCK, 0, dst, offset + done, n);
            done += n;
        }
    }
}
