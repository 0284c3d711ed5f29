package io.ublk.blockcache.cache;

import io.ublk.blockcache.BenchSupport;
import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A cache read hit as a worker calls it: {@link CacheTarget#read} into a page-aligned bounce
 * slot, answered inline. The volume's first {@value #HALF_MIB} MiB were written in whole blocks
 * and drained, so they sit in the clean cache; the next {@value #HALF_MIB} MiB were written after
 * and stay dirty (no upload round starts). One thread reads sequentially through one half and
 * wraps around:
 *
 * <ul>
 *   <li>{@code from=clean}: no dirty version, the index names a location, the clean cache
 *       (Caffeine, which boxes the block number) has it: one copy out of its array;</li>
 *   <li>{@code from=dirty}: the current epoch's version covers the range: one copy out of it;</li>
 *   <li>{@code from=memory}: {@link MemoryTarget#read} of the same bytes, the same-run reference.</li>
 * </ul>
 *
 * The setup reads every block once and refuses to go on if one needed the store (a miss), so the
 * numbers are of hits only.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CacheTargetReadBenchmark {
    static final int HALF_MIB = 32;
    private static final long HALF = (long) HALF_MIB << 20;

    @Param({"clean", "dirty", "memory"})
    public String from;

    @Param({"4096", "131072"})
    public int size;

    private Arena arena;
    private MemorySegment slot;
    private Path dir;
    private LocalObjectStore store;
    private BlockTarget device;
    private BlockTarget caller;
    /** Where the half being read starts. */
    private long base;
    private long offset;

    @Setup(Level.Trial)
    public void open() throws Exception {
        arena = Arena.ofShared();
        int block = CacheConfig.DEFAULT_BLOCK_SIZE;
        MemorySegment fill = BenchSupport.bounceSlot(arena, block);
        slot = arena.allocate(size, 4096);
        if (from.equals("memory")) {
            device = new MemoryTarget(2 * HALF);
        } else {
            dir = BenchSupport.scratch("ublk-jmh-read-");
            store = new LocalObjectStore(dir.resolve("store"));
            device = CacheTarget.open(CacheTargetWriteBenchmark.heldOff(dir.resolve("cache"), CacheConfig.DEFAULT_CLEAN_CACHE), store);
        }
        BlockTarget writer = BenchSupport.caller(device);
        for (long at = 0; at < 2 * HALF; at += block) {
            if (at == HALF && device instanceof CacheTarget cache) {
                cache.drain(); // the first half is committed now, and its blocks are clean
            }
            BenchSupport.inline(writer.write(at, fill, block, 0, at, BenchSupport.UNUSED), block, "write", at);
        }
        caller = BenchSupport.caller(device);
        base = from.equals("dirty") ? HALF : 0;
        for (long at = 0; at < 2 * HALF; at += size) {
            BenchSupport.inline(caller.read(at, slot, size, at, BenchSupport.UNUSED), size, "read", at);
        }
        if (device instanceof CacheTarget cache && cache.stats().readMisses() != 0) {
            throw new IllegalStateException(cache.stats().readMisses() + " reads needed the store: not a hit benchmark");
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        device.close();
        if (store != null) {
            store.close();
        }
        BenchSupport.deleteTree(dir);
        arena.close();
    }

    @Benchmark
    public int read() {
        long at = base + offset;
        offset = (offset + size) & (HALF - 1);
        return BenchSupport.inline(caller.read(at, slot, size, at, BenchSupport.UNUSED), size, "read", at);
    }
}
