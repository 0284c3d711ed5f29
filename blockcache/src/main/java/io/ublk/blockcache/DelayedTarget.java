package io.ublk.blockcache;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Wraps a target so every answer arrives {@code delay} later from another thread, as a remote
 * store's would: the data work is done at once on the delegate (so buffers are used only before
 * the answer), the answer is late. A tool for tests and benchmarks of the late-answer path and of
 * bounce-slot backpressure; it allocates a task per operation, so it is not a production target.
 */
public final class DelayedTarget implements BlockTarget {
    private final BlockTarget delegate;
    private final long delayNanos;
    private final ScheduledExecutorService timer;

    public DelayedTarget(BlockTarget delegate, long delayNanos) {
        if (delayNanos <= 0) {
            throw new IllegalArgumentException("delay must be positive: " + delayNanos + " ns");
        }
        this.delegate = delegate;
        this.delayNanos = delayNanos;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delayed-target");
            t.setDaemon(true);
            return t;
        });
    }

    private int later(int result, long tag, Completion done) {
        if (result == PENDING) {
            return PENDING; // the delegate answers by itself
        }
        timer.schedule(() -> done.complete(tag, result), delayNanos, TimeUnit.NANOSECONDS);
        return PENDING;
    }

    @Override
    public long size() {
        return delegate.size();
    }

    @Override
    public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
        return later(delegate.read(offset, dst, length, tag, done), tag, done);
    }

    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        return later(delegate.write(offset, src, length, flags, tag, done), tag, done);
    }

    @Override
    public int flush(long tag, Completion done) {
        return later(delegate.flush(tag, done), tag, done);
    }

    @Override
    public int discard(long offset, long length, long tag, Completion done) {
        return later(delegate.discard(offset, length, tag, done), tag, done);
    }

    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        return later(delegate.writeZeroes(offset, length, flags, tag, done), tag, done);
    }

    @Override
    public void close() {
        timer.shutdownNow();
        delegate.close();
    }
}
