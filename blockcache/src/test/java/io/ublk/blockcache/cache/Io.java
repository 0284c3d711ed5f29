package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** Calls a target as the data plane would (prefetch before read) and waits for late answers. */
final class Io implements AutoCloseable {
    static final int MAX_IO = 16 << 20;
    private final Arena arena = Arena.ofShared();
    final MemorySegment buf = arena.allocate(MAX_IO, 4096);
    private final BlockTarget t;
    /** Why the target will answer nothing more (it stopped for good), or null: a wait then gives up early. */
    private final Supplier<String> stopped;

    Io(BlockTarget t) {
        this(t, () -> null);
    }

    Io(BlockTarget t, Supplier<String> stopped) {
        this.t = t;
        this.stopped = stopped;
    }

    interface Op {
        int call(long tag, Completion done);
    }

    static int await(Op op) {
        return await(op, () -> null);
    }

    private int awaitHere(Op op) {
        return await(op, stopped);
    }

    /** Waits up to 60 s for a late answer; 2 s once {@code stopped} names a reason. */
    static int await(Op op, Supplier<String> stopped) {
        CompletableFuture<Integer> late = new CompletableFuture<>();
        int r = op.call(7, (tag, result) -> late.complete(result));
        if (r != BlockTarget.PENDING) {
            return r;
        }
        long start = System.nanoTime();
        long stoppedAt = 0;
        try {
            while (true) {
                try {
                    return late.get(100, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    long now = System.nanoTime();
                    String why = stopped.get();
                    if (why != null && stoppedAt == 0) {
                        stoppedAt = now;
                    }
                    if (stoppedAt != 0 && now - stoppedAt > TimeUnit.SECONDS.toNanos(2)) {
                        throw new AssertionError("no answer, and none will come: the target stopped (" + why + ")");
                    }
                    if (now - start > TimeUnit.SECONDS.toNanos(60)) {
                        throw e;
                    }
                }
            }
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            StringBuilder threads = new StringBuilder();
            Thread.getAllStackTraces().forEach((t, st) -> {
                threads.append('\n').append(t.getName()).append(' ').append(t.getState());
                for (StackTraceElement s : st) {
                    threads.append("\n    at ").append(s);
                }
            });
            throw new AssertionError("no answer within 60 s; threads:" + threads, e);
        }
    }

    int write(long offset, byte[] data, int flags) {
        MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
        return awaitHere((tag, done) -> t.write(offset, buf, data.length, flags, tag, done));
    }

    /** Reads {@code length} bytes; throws if the target answered an error. */
    byte[] read(long offset, int length) {
        int r = tryRead(offset, length);
        if (r != length) {
            throw new AssertionError("read of " + length + " at " + offset + " answered " + r);
        }
        byte[] out = new byte[length];
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, out, 0, length);
        return out;
    }

    int tryRead(long offset, int length) {
        int p = awaitHere((tag, done) -> t.prefetch(offset, length, tag, done));
        if (p != 0) {
            return p;
        }
        return awaitHere((tag, done) -> t.read(offset, buf, length, tag, done));
    }

    int flush() {
        return awaitHere(t::flush);
    }

    int discard(long offset, long length) {
        return awaitHere((tag, done) -> t.discard(offset, length, tag, done));
    }

    @Override
    public void close() {
        arena.close();
    }
}
