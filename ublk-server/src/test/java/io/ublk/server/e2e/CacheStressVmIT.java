package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cache devices under the two loads that once hung them (VM tier, local store), each run
 * {@link #RUNS} times, every run bounded in time:
 * <ul>
 *   <li>64 jobs of buffered 4 KiB random writes, an fsync after each write;
 *   <li>512 B random reads while the I/O scheduler of both devices switches every 0.2 s. A switch
 *       freezes the queue until every request in flight completes, so one lost completion hangs
 *       the switch, and the test sees it.
 * </ul>
 * Then an overwrite loop with no FLUSH: the journal on disk stays within {@code --max-dirty} plus
 * one open file per lane (trimmed as uploads commit). A {@code memory} target server in the same VM gives the reference figures: each test prints
 * IOPS of the cache device and of the memory device, and their ratio (bench-results/).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 40, unit = TimeUnit.MINUTES)
class CacheStressVmIT {
    static final int RUNS = runs();
    /** fio's run time per run, seconds. */
    private static final int SECONDS = 6;
    /** A run that takes longer than its run time plus this hangs (TCG is slow, but not this slow). */
    private static final Duration SLACK = Duration.ofMinutes(4);
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration SWITCH_EVERY = Duration.ofMillis(200);
    /** The region the jobs use: within the clean cache (8 MiB), so reads are answered from memory. */
    private static final String REGION = "4M";
    /** The overwrite loop's run time, seconds: long enough to write several times the journal bound. */
    private static final int JOURNAL_SECONDS = 30;

    /** {@code -Dublk.e2e.stressRuns=N}, or env {@code UBLK_STRESS_RUNS} (scripts/test passes it into the guest); default 10. */
    static int runs() {
        return (int) SuiteSize.of("ublk.e2e.stressRuns", "UBLK_STRESS_RUNS", 10);
    }

    @TempDir
    static Path dir;
    private static ServerProcess cache;
    private static ServerProcess memory;
    private static int metricsPort;

    @BeforeAll
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    static void start() throws IOException {
        RealUblk.require();
        System.err.printf("[e2e] CacheStressVmIT: %d run(s) of each load (UBLK_STRESS_RUNS)%n", RUNS);
        int port = S3ProxyProcess.freePort();
        metricsPort = port;
        cache = ServerProcess.start(dir.resolve("cache-server"), START, CacheFixture.args("stress", dir.resolve("cache"),
                CacheFixture.localStore(dir.resolve("store")), "--count", "2", "--size", "64MiB", "--metrics-port",
                Integer.toString(port)));
        memory = ServerProcess.start(dir.resolve("memory-server"), START, "--target", "memory", "--count", "1",
                "--size", "64MiB");
        for (Path dev : List.of(cache.device(0), cache.device(1), memory.device(0))) {
            CacheFixture.fio(cache, dir, SLACK, List.of("--name=fill", "--filename=" + dev, "--direct=1", "--rw=write",
                    "--bs=128k", "--size=" + REGION));
        }
    }

    @AfterAll
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    static void stop() {
        try {
            if (cache != null) {
                cache.close();
            }
        } finally {
            if (memory != null) {
                memory.close();
            }
        }
    }

    @Test
    @Order(1)
    void sixtyFourJobsOfBufferedWritesWithAnFsyncAfterEachAlwaysFinish() {
        List<Double> iops = new ArrayList<>();
        for (int run = 1; run <= RUNS; run++) {
            iops.add(fsyncWriters(cache, cache.device(0), "cache run " + run));
        }
        double reference = fsyncWriters(memory, memory.device(0), "memory");
        report("64 jobs x (4 KiB buffered write + fsync)", iops, reference);
    }

    @Test
    @Order(2)
    void smallRandomReadsDuringSchedulerSwitchesEveryFifthOfASecondNeverHang() throws Exception {
        List<Path> devs = List.of(cache.device(0), cache.device(1));
        for (Path dev : devs) {
            Schedulers.require(dev);
        }
        // the data the reads want, in memory: one pass over the region first
        CacheFixture.fio(cache, dir, SLACK, List.of("--name=warm", "--filename=" + devs.get(1), "--direct=1",
                "--rw=read", "--bs=128k", "--size=" + REGION));
        double solo = smallReads(cache, List.of(devs.get(1)), "cache, no switches");
        double reference = smallReads(memory, List.of(memory.device(0)), "memory");
        List<Double> iops = new ArrayList<>();
        for (int run = 1; run <= RUNS; run++) {
            try (Schedulers.Switcher s = Schedulers.switchEvery(SWITCH_EVERY, devs)) {
                iops.add(smallReads(cache, devs, "cache run " + run + " with switches") / devs.size());
                s.stopWithin(SLACK);
                System.err.printf(Locale.ROOT, "[e2e] run %d: %d scheduler switches, the longest %d ms%n", run,
                        s.switches(), s.longest().toMillis());
                assertThat(s.switches()).as("switches during run %d", run).isGreaterThanOrEqualTo(2L * devs.size());
            }
        }
        report("512 B random reads, QD16 (during switches: per device)", iops, reference);
        System.err.printf(Locale.ROOT, "[e2e] 512 B random reads without switches: cache %.0f IOPS, %.3fx memory%n",
                solo, solo / reference);
    }

    @Test
    @Order(3)
    void theJournalOnDiskStaysWithinItsBoundInAnOverwriteLoopWithoutAnyFlush() throws Exception {
        Path dev = cache.device(1);
        String volume = "stress-1";
        AtomicLong most = new AtomicLong();
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    most.accumulateAndGet((long) Metrics.scrapePlain(metricsPort).value("ublk_cache_journal_disk_bytes",
                            "volume", volume), Math::max);
                } catch (RuntimeException | AssertionError e) {
                    return;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
            }
        });
        Fio.Result r;
        try {
            // overwrites of the same 4 MiB, no fsync, no FUA: only uploads can trim the journal
            r = CacheFixture.fio(cache, dir, Duration.ofSeconds(JOURNAL_SECONDS).plus(SLACK), List.of("--name=overwrite",
                    "--filename=" + dev, "--direct=1", "--rw=randwrite", "--bs=64k", "--size=" + REGION,
                    "--ioengine=libaio", "--iodepth=8", "--time_based", "--runtime=" + JOURNAL_SECONDS));
        } finally {
            sampler.interrupt();
            sampler.join(10_000);
        }
        long written = r.jobs().get(0).writeBytes();
        // --max-dirty 8 MiB plus one open 4 MiB file for each lane that writes (two workers, the
        // throttle's and the shared one)
        long bound = (8L + 4 * 4) << 20;
        System.err.printf(Locale.ROOT, "[e2e] no-FLUSH overwrite loop: %d MiB written in %d s, journal on disk at most "
                + "%.1f MiB (bound %d MiB: --max-dirty 8 MiB + 4 lane files of 4 MiB)%n", written >> 20, JOURNAL_SECONDS,
                most.get() / (double) (1 << 20), bound >> 20);
        assertThat(written).as("bytes written: several times the bound, or the check proves nothing").isGreaterThan(2 * bound);
        assertThat(most.get()).as("journal bytes on disk, most seen").isLessThanOrEqualTo(bound);
    }

    /** One run of 64 buffered writers with an fsync after each write; answers its IOPS. */
    private double fsyncWriters(ServerProcess server, Path dev, String what) {
        Fio.Result r = CacheFixture.fio(server, dir, Duration.ofSeconds(SECONDS).plus(SLACK), List.of("--name=fsync64",
                "--filename=" + dev, "--rw=randwrite", "--bs=4k", "--numjobs=64", "--fsync=1", "--size=16M",
                "--ioengine=psync", "--time_based", "--runtime=" + SECONDS, "--group_reporting"));
        double iops = r.totalIos() / (double) SECONDS;
        System.err.printf(Locale.ROOT, "[e2e] 64 fsync writers, %s: %.0f IOPS in %.1f s%n", what, iops,
                r.took().toMillis() / 1000.0);
        return iops;
    }

    /** One run of 512 B random reads at QD16 on each of {@code devs} at once; answers the total IOPS. */
    private double smallReads(ServerProcess server, List<Path> devs, String what) {
        List<String> args = new ArrayList<>(List.of("--direct=1", "--rw=randread", "--bs=512", "--ioengine=libaio",
                "--iodepth=16", "--size=" + REGION, "--time_based", "--runtime=" + SECONDS));
        for (int i = 0; i < devs.size(); i++) {
            args.add("--name=r" + i);
            args.add("--filename=" + devs.get(i));
        }
        Fio.Result r = CacheFixture.fio(server, dir, Duration.ofSeconds(SECONDS).plus(SLACK), args);
        double iops = r.totalIos() / (double) SECONDS;
        System.err.printf(Locale.ROOT, "[e2e] 512 B random reads, %s: %.0f IOPS in %.1f s%n", what, iops,
                r.took().toMillis() / 1000.0);
        return iops;
    }

    private static void report(String load, List<Double> iops, double reference) {
        double min = iops.stream().mapToDouble(Double::doubleValue).min().orElse(0);
        double median = iops.stream().sorted().toList().get(iops.size() / 2);
        System.err.printf(Locale.ROOT, "[e2e] %s: %d run(s), cache median %.0f IOPS (min %.0f), memory %.0f IOPS: "
                + "%.3fx%n", load, iops.size(), median, min, reference, median / reference);
    }
}
