package io.ublk.blockcache.cache.upload;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * Reusable off-heap buffers a segment object is assembled in before its PUT: header, then the
 * block payloads, read straight from the dirty table or the journal. One per PUT in flight plus
 * the one being filled; each goes back when its PUT answered (with all its retries).
 *
 * <p>Why not send the blocks' own arrays: a spilled block has no array (it is read back from the
 * journal), and per-segment arrays are garbage the collector copies on a 2-core host that has
 * no CPU to spare. A reused buffer costs one memcpy per in-memory block and nothing else.
 *
 * <p>Allocated on first use, freed by {@link #trim} when idle (an idle volume holds none) and
 * by {@link #close}. Taken on the uploader thread; given back from any thread.
 */
final class SegmentBuffers implements AutoCloseable {
    private final long capacity;
    private final int max;
    private final ArrayDeque<Buffer> free = new ArrayDeque<>();
    private int allocated;
    private boolean closed;

    /** One buffer: its memory and the arena that frees it. */
    static final class Buffer {
        private final Arena arena;
        final MemorySegment memory;
        /** Larger than the pool's buffers (a header of many zero runs): freed when given back. */
        private final boolean oneOff;

        private Buffer(Arena arena, MemorySegment memory, boolean oneOff) {
            this.arena = arena;
            this.memory = memory;
            this.oneOff = oneOff;
        }
    }

    SegmentBuffers(long capacity, int max) {
        this.capacity = capacity;
        this.max = max;
    }

    /**
     * A buffer of at least {@code needed} bytes: a free pooled one, or a new one while fewer than
     * {@code max} exist. Never waits: past that (PUTs of a failed round still running, or a rare
     * oversized header) it answers a one-off buffer, freed when given back, so the uploader can
     * go on spilling and retrying while a store hangs.
     */
    synchronized Buffer take(long needed) {
        if (closed) {
            throw new IllegalStateException("segment buffers are closed");
        }
        if (needed <= capacity) {
            if (!free.isEmpty()) {
                return free.pop();
            }
            if (allocated < max) {
                allocated++;
                return allocate(capacity, false);
            }
        }
        return allocate(Math.max(needed, capacity), true);
    }

    private static Buffer allocate(long bytes, boolean oneOff) {
        Arena arena = Arena.ofShared();
        return new Buffer(arena, arena.allocate(bytes, 4096), oneOff);
    }

    synchronized void give(Buffer b) {
        if (b.oneOff) {
            b.arena.close();
            return;
        }
        if (closed) {
            b.arena.close();
            allocated--;
            return;
        }
        free.push(b);
    }

    /** Frees the buffers nobody holds. */
    synchronized void trim() {
        while (!free.isEmpty()) {
            free.pop().arena.close();
            allocated--;
        }
    }

    synchronized int allocated() {
        return allocated;
    }

    /** Frees the free buffers now, and the others when they come back. */
    @Override
    public synchronized void close() {
        closed = true;
        trim();
    }
}
