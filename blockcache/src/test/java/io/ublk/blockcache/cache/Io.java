package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Calls a target as the data plane would (prefetch before read) and waits for late answers. */
final class Io implements AutoCloseable {
    static final int MAX_IO = 16 << 20;
    private final Arena arena = Arena.ofShared();
    final MemorySegment buf = arena.allocate(MAX_IO, 4096);
    private final BlockTarget t;

    Io(BlockTarget t) {
        this.t = t;
    }

    interface Op {
        int call(long tag, Completion done);
    }

    static int await(Op op) {
        CompletableFuture<Integer> late = new CompletableFuture<>();
        int r = op.call(7, (tag, result) -> late.complete(result));
        if (r != BlockTarget.PENDING) {
            return r;
        }
        try {
            return late.get(60, TimeUnit.SECONDS);
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
        return await((tag, done) -> t.write(offset, buf, data.length, flags, tag, done));
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
        int p = await((tag, done) -> t.prefetch(offset, length, tag, done));
        if (p != 0) {
            return p;
        }
        return await((tag, done) -> t.read(offset, buf, length, tag, done));
    }

    int flush() {
        return await(t::flush);
    }

    int discard(long offset, long length) {
        return await((tag, done) -> t.discard(offset, length, tag, done));
    }

    @Override
    public void close() {
        arena.close();
    }
}
