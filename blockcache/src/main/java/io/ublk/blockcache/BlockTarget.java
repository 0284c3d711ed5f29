package io.ublk.blockcache;

import java.lang.foreign.MemorySegment;

/**
 * The storage behind one block device: what the ublk data plane calls for every request.
 *
 * <p><b>Answering.</b> Every operation either answers at once, by returning the result (bytes
 * done, or 0 for operations without data, or {@code -errno}), or returns {@link #PENDING} and later
 * calls {@code done.complete(tag, result)} exactly once, from any thread. An inline answer lets the
 * worker commit without a thread hop; a pending one is handed back to the worker's ring.
 *
 * <p><b>Buffers.</b> {@code dst}/{@code src} are bounce slots owned by the caller and valid only
 * until the operation answers: a target copies what it keeps and never retains the segment.
 *
 * <p><b>Durability.</b> For a durable target (the cache target), data written before a
 * {@link #flush} (or by a write with {@link IoFlags#FUA}) that answered successfully survives a
 * crash of the process. The volatile targets ({@link MemoryTarget}, {@link NullTarget}) keep
 * nothing beyond the process and say so; the device they back is a scratch disk.
 *
 * <p>Implementations allocate nothing per call on their fast path: the tag is an opaque long the
 * caller uses to find its request, not an object.
 */
public interface BlockTarget extends AutoCloseable {
    /** Returned by an operation that will answer later through its {@link Completion}. */
    int PENDING = Integer.MIN_VALUE;

    /** The device size in bytes (a multiple of 4096). */
    long size();

    /**
     * Makes {@code [offset, offset+length)} readable without waiting, e.g. by fetching it from the
     * store into cache memory. The caller holds no bounce slot meanwhile and calls {@link #read}
     * once this answered. Returns 0 when the range is ready now.
     */
    default int prefetch(long offset, int length, long tag, Completion done) {
        return 0;
    }

    /**
     * Asks for room for a write of {@code [offset, offset+length)} before the caller takes a
     * bounce slot for its data: returns 0 when the write may come now, or {@link #PENDING} and
     * answers 0 once there is room (or {@code -errno}). A target with a bound on buffered writes
     * waits here, so one whose store is stalled holds no slot that other devices need. The
     * answer is advice, not a reservation: {@link #write} may still wait.
     */
    default int admit(long offset, int length, long tag, Completion done) {
        return 0;
    }

    /** Fills {@code dst[0, length)} with the bytes at {@code offset}. */
    int read(long offset, MemorySegment dst, int length, long tag, Completion done);

    /** Stores {@code src[0, length)} at {@code offset}; {@code flags} may carry {@link IoFlags#FUA}. */
    int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done);

    /** Makes every write that answered before this call durable. */
    int flush(long tag, Completion done);

    /** The range's contents are no longer needed; it reads back as zeros. */
    int discard(long offset, long length, long tag, Completion done);

    /** The range reads back as zeros; {@link IoFlags#NOUNMAP} asks to keep its space allocated. */
    int writeZeroes(long offset, long length, int flags, long tag, Completion done);

    /**
     * The view caller {@code index} (a worker) serves this target through, made once when the
     * worker attaches a queue. A target that keeps per-caller state (the cache's journal lanes)
     * answers a view bound to it, so the hot path need not find it per request; others answer
     * themselves. Closing a view does nothing: the target's owner closes the target.
     */
    default BlockTarget lane(int index) {
        return this;
    }

    /** Releases the target's resources; no operation is in flight when this is called. */
    @Override
    default void close() {}
}
