package io.ublk.blockcache.cache;

import io.ublk.blockcache.BenchSupport;
import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.blockcache.NullTarget;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
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
 * The cache's write path as a worker calls it: {@link CacheTarget#write} of one page-aligned
 * bounce slot, answered inline (journal append into this thread's lane, dirty-table copy). One
 * thread writes sequentially through a {@value #REGION_MIB} MiB volume and wraps around, so the
 * dirty bytes stay bounded; with {@code target=memory} and {@code target=null} the same call goes
 * to {@link MemoryTarget} (a copy into RAM) and {@link NullTarget} (nothing), the reference a
 * report's ratio is taken against in the same run.
 *
 * <p><b>What is held off.</b> No upload competes: the segment size, dirty memory and upload delay
 * are set so that no epoch freezes while an iteration runs, as the old hand-written bench held
 * every PUT back. What remains is what a worker's write costs. Between iterations, untimed, the
 * setup does what a file system and the uploader would: a flush, then {@link CacheTarget#drain},
 * which commits the region (to a local store in the scratch folder), deletes the journal files
 * and gives the block arrays back through a small clean cache; then it writes the region once,
 * so that every measured write overwrites a
 * version of the current epoch (journal append and a copy). The region's first write in an epoch
 * takes an array an upload gave back, as in steady state; without that pass, a new volume's first
 * writes each allocate a fresh 128 KiB array. JMH's {@code -prof gc} counts what the setup
 * allocates too, spread over the iteration's writes: the pass takes new arrays for the blocks
 * whose arrays the clean cache still holds (64 at least) or the reclaimer has not handed back yet,
 * 8-22 MiB per iteration here (~500 B per 128 KiB write). A JFR allocation profile of a run
 * showed nothing else of note: the measured overwrites allocate nothing.
 *
 * <p><b>Disk.</b> The journal keeps every write until an upload commits it, and none does while
 * an iteration runs: one that journals more than {@value #BUDGET_GIB} GiB stops with an error
 * rather than fill the tmpfs ({@link BenchSupport#scratch}): shorten {@code -r}. The store keeps
 * each drained image (no compaction): {@value #REGION_MIB} MiB per iteration, deleted with the trial.
 * Deleting the journal between iterations matters on a VM host that hands freed memory back to
 * its hypervisor (docs/testing.md): appends to tmpfs pages never touched before ran at ~360 MB/s
 * here, against 5 GB/s into pages a deleted file had just freed, and a journal that grew for a
 * whole trial made the score a measure of that (2.5k instead of 10k 128 KiB writes/s). For the
 * same reason keep iterations short: 6 s ones (3 GiB of journal each) ran at half the rate of
 * 2 s ones.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CacheTargetWriteBenchmark {
    static final int REGION_MIB = 64;
    private static final long REGION = (long) REGION_MIB << 20;
    /** Journal bytes one iteration may write: at ~1.5 GiB/s here, 2 s iterations use under half of it. */
    static final int BUDGET_GIB = 8;
    private static final long BUDGET = (long) BUDGET_GIB << 30;
    /** Block arrays an upload gave back are handed out again two uploader turns (50 ms each) later. */
    private static final long RECLAIM_MILLIS = 200;

    @Param({"cache", "memory", "null"})
    public String target;

    @Param({"4096", "131072"})
    public int size;

    private Arena arena;
    private MemorySegment slot;
    private Path dir;
    private LocalObjectStore store;
    private BlockTarget device;
    private BlockTarget caller;
    private long offset;
    private long written;
    /** Bytes an iteration may write: the journal's, for the cache; no bound for the others (they keep the region only). */
    private long budget;

    @Setup(Level.Trial)
    public void open() {
        arena = Arena.ofShared();
        slot = BenchSupport.bounceSlot(arena, size);
        device = switch (target) {
            case "cache" -> {
                dir = BenchSupport.scratch("ublk-jmh-write-");
                store = new LocalObjectStore(dir.resolve("store"));
                // a clean cache of its least: the drained blocks' arrays go back to the writes
                yield CacheTarget.open(heldOff(dir.resolve("cache"), 0), store);
            }
            case "memory" -> new MemoryTarget(REGION);
            case "null" -> new NullTarget(REGION);
            default -> throw new IllegalArgumentException("target must be cache, memory or null: " + target);
        };
        caller = BenchSupport.caller(device);
        budget = target.equals("cache") ? BUDGET : Long.MAX_VALUE;
    }

    /**
     * Defaults, except that nothing makes an upload round start while the region is written, and
     * nothing is compacted (the benchmark overwrites all of it, so each round leaves it all dead).
     */
    static CacheConfig heldOff(Path cacheDir, long cleanCacheBytes) {
        return CacheConfig.of(cacheDir, "v", REGION)
                .withSizes(CacheConfig.DEFAULT_MAX_DIRTY, cleanCacheBytes, 1L << 30) // epoch bytes < segment
                .withDirtyMemory(4 * REGION) // dirty memory < half of it
                .withUpload(Duration.ofHours(1), CacheConfig.DEFAULT_UPLOAD_PARALLELISM) // no round on a timer
                .withCompaction(new CacheConfig.Compaction(0, Long.MAX_VALUE, Duration.ZERO));
    }

    @Setup(Level.Iteration)
    public void steady() throws InterruptedException {
        if (device instanceof CacheTarget cache) {
            // The flush closes the journal files the lane filled (only the syncer does), so that
            // the drain's commit can delete them: the next iteration's appends reuse those pages.
            CompletableFuture<Integer> synced = new CompletableFuture<>();
            int r = caller.flush(0, (tag, result) -> synced.complete(result));
            BenchSupport.inline(r == BlockTarget.PENDING ? synced.join() : r, 0, "flush", 0);
            cache.drain();
            Thread.sleep(RECLAIM_MILLIS);
        }
        for (offset = 0, written = 0; written < REGION; ) {
            write();
        }
        offset = 0;
        written = 0;
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
    public int write() {
        long at = offset;
        offset = (at + size) & (REGION - 1);
        if ((written += size) > budget) {
            throw new IllegalStateException("this iteration journaled " + BUDGET_GIB + " GiB: use shorter iterations (-r)");
        }
        return BenchSupport.inline(caller.write(at, slot, size, 0, at, BenchSupport.UNUSED), size, "write", at);
    }
}
