package io.ublk.blockcache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * What the JMH benchmarks of this module share: the view a worker calls a target through, a
 * bounce slot, a scratch folder and a check that an operation answered inline.
 */
public final class BenchSupport {
    private BenchSupport() {}

    /** For operations that answer inline: a late answer would be a failed benchmark, see {@link #inline}. */
    public static final Completion UNUSED = (tag, result) -> {
        throw new IllegalStateException("a benchmarked operation answered late (tag " + tag + ", result " + result + ")");
    };

    /** The view worker 0 serves the target through, as the data plane calls it (its own journal lane). */
    public static BlockTarget caller(BlockTarget target) {
        return target.lane(0);
    }

    /** A page-aligned slot of noise in shared memory, as the data plane's bounce slots are. */
    public static MemorySegment bounceSlot(Arena arena, int bytes) {
        MemorySegment slot = arena.allocate(bytes, 4096);
        SplittableRandom random = new SplittableRandom(bytes);
        for (long at = 0; at + Long.BYTES <= bytes; at += Long.BYTES) {
            slot.set(ValueLayout.JAVA_LONG_UNALIGNED, at, random.nextLong());
        }
        return slot;
    }

    /**
     * A new folder for a cache or store: under {@code $UBLK_BENCH_DIR} if set, else in
     * {@code /dev/shm} (tmpfs: the journal's writes cost what the code costs, not the disk's),
     * else in the JVM's temp folder. The environment, not a system property, because JMH's
     * forked JVMs inherit it.
     */
    public static Path scratch(String prefix) {
        String env = System.getenv("UBLK_BENCH_DIR");
        Path parent = env != null ? Path.of(env)
                : Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        try {
            Files.createDirectories(parent);
            return Files.createTempDirectory(parent, prefix);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a scratch folder in " + parent, e);
        }
    }

    /** Deletes {@code dir} and everything in it; a missing folder is fine. */
    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }

    /**
     * Returns {@code result} if the operation answered inline with {@code length} bytes; throws
     * otherwise, so that a benchmark never measures an error path or a queued write by mistake.
     */
    public static int inline(int result, int length, String what, long offset) {
        if (result != length) {
            throw new IllegalStateException(what + " at " + offset + " answered " + result
                    + (result == BlockTarget.PENDING ? " (PENDING: it would have waited)" : "") + ", not " + length);
        }
        return result;
    }
}
