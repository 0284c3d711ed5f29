package io.ublk.server.worker;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A bounded many-producer, one-consumer queue of longs, each with an int beside it (Vyukov's
 * sequence-per-cell design): the way late target answers (tag, result) reach a worker without
 * locks or allocation. The pair travels in one cell, so an answerer that should not be answering
 * cannot overwrite another's result. {@link #offer} returns false when full.
 */
public final class LongMpscQueue {
    private final long[] values;
    private final int[] ints;
    private final AtomicLongArray sequences;
    private final int mask;
    private final AtomicLong tail = new AtomicLong();
    /** Consumer-only. */
    private long head;

    public LongMpscQueue(int capacity) {
        if (capacity <= 0 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two > 0: " + capacity);
        }
        values = new long[capacity];
        ints = new int[capacity];
        sequences = new AtomicLongArray(capacity);
        mask = capacity - 1;
        for (int i = 0; i < capacity; i++) {
            sequences.set(i, i);
        }
    }

    public int capacity() {
        return mask + 1;
    }

    /** Any thread: appends {@code value}; false when the queue is full. */
    public boolean offer(long value) {
        return offer(value, 0);
    }

    /** Any thread: appends {@code value} with {@code extra}; false when the queue is full. */
    public boolean offer(long value, int extra) {
        while (true) {
            long pos = tail.get();
            int cell = (int) pos & mask;
            long seq = sequences.getAcquire(cell);
            if (seq == pos) {
                if (tail.compareAndSet(pos, pos + 1)) {
                    values[cell] = value;
                    ints[cell] = extra;
                    sequences.setRelease(cell, pos + 1);
                    return true;
                }
            } else if (seq < pos) {
                return false;
            }
            // seq > pos: another producer took this cell; retry with the new tail.
        }
    }

    /** Consumer only: true when {@link #poll} would find nothing. */
    public boolean isEmpty() {
        return sequences.getAcquire((int) head & mask) != head + 1;
    }

    /**
     * Consumer only: takes the oldest value into {@code drain}, returning how many were taken
     * (at most {@code limit}).
     */
    public int drain(LongConsumer drain, int limit) {
        int n = 0;
        while (n < limit) {
            int cell = (int) head & mask;
            if (sequences.getAcquire(cell) != head + 1) {
                break;
            }
            long value = values[cell];
            int extra = ints[cell];
            sequences.setRelease(cell, head + mask + 1);
            head++;
            n++;
            drain.accept(value, extra);
        }
        return n;
    }

    /** Receives drained values with the int offered beside each. */
    @FunctionalInterface
    public interface LongConsumer {
        void accept(long value, int extra);
    }
}
