package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Store faults under a running fio (VM tier). s3proxy runs as its own process and the server
 * reaches it through a {@link FaultProxy} in this JVM, on the guest's loopback. One server, one
 * worker ({@code --workers 1}), two 64 MiB cached volumes in the same store: {@code fx-0} (device
 * A), whose requests get the faults, and {@code fx-1} (device B), whose requests always pass.
 *
 * <p>Each phase injects one fault into A's store requests, writes 12 MiB on A with fio (crc32c
 * headers; {@code --max-dirty} is 8 MiB, so the job can only end once uploads get through),
 * heals after a set time, and waits until A's dirty bytes are all uploaded: 503 SlowDown on every
 * request, connection resets, 2 s added to every request, a blackhole for 60 s. fio must exit 0 in
 * every phase (writes wait, they do not fail: {@code --io-timeout} keeps its 5 minute default and
 * the writer lease lasts 3 minutes, longer than the blackhole, so FLUSH stays answered). During
 * the blackhole {@code --max-dirty} must fill (write waits counted, A's fio still running at the
 * heal) while B serves 4 KiB random reads at no less than half its solo IOPS of the same run (the
 * better of a solo run before the faults and one after them). B's IOPS during the other faults are
 * printed, not asserted: there A's uploads and retries share the guest's one emulated CPU with B.
 * At the end every byte written on A and B verifies.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class CacheFaultsVmIT {
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration FIO_TIMEOUT = Duration.ofMinutes(4);
    /** Longest wait for a healed volume's dirty bytes to be uploaded. */
    private static final Duration DRAIN = Duration.ofMinutes(2);
    private static final long MIB = 1 << 20;
    private static final String A = "fx-0";
    private static final String B = "fx-1";
    /** What A's store requests name (path-style keys and list prefixes): {@code fx-0/...}. */
    private static final String A_KEYS = A + "/";
    /** Per phase, more than --max-dirty (8 MiB in CacheFixture.TUNING): the job needs uploads to end. */
    private static final int A_JOB_MIB = 12;
    private static final int A_REGION_MIB = 16;
    private static final int B_REGION_MIB = 4;
    private static final int B_SECONDS = 10;
    private static final Duration SHORT_FAULT = Duration.ofSeconds(15);
    private static final Duration BLACKHOLE = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    private static S3ProxyProcess s3;
    private static FaultProxy proxy;
    private static ServerProcess server;
    private static int metricsPort;
    private static ExecutorService background;
    private static double soloIops;
    private static final List<String> report = new ArrayList<>();
    /** The A regions written so far (phase index), verified at the end. */
    private static final List<Integer> written = new ArrayList<>();

    @BeforeAll
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    static void start() throws Exception {
        RealUblk.require();
        background = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("fio-a").unstarted(r));
        s3 = S3ProxyProcess.start(dir.resolve("s3proxy"), "volumes", Duration.ofMinutes(3));
        proxy = FaultProxy.start(s3.endpoint());
        metricsPort = S3ProxyProcess.freePort();
        server = ServerProcess.start(dir.resolve("server"), START, S3ProxyProcess.env(),
                CacheFixture.args("fx", dir.resolve("cache"), s3.storeArgs(proxy.endpoint()), "--count", "2",
                        "--size", "64MiB", "--workers", "1", "--lease-ttl", "3m",
                        "--metrics-port", Integer.toString(metricsPort)));
        Metrics m = Metrics.scrapePlain(metricsPort);
        String a = CacheFixture.deviceOf(m, A);
        String b = CacheFixture.deviceOf(m, B);
        assertThat(m.value("ublk_queue_worker", "device", a)).as("both devices on one worker: %s", m.linesFor("ublk_queue_worker"))
                .isEqualTo(m.value("ublk_queue_worker", "device", b));
    }

    @AfterAll
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    static void stop() {
        System.err.println("[e2e] fault suite summary:\n[e2e]   " + String.join("\n[e2e]   ", report));
        CacheFixture.closeAll(server, proxy, s3, background == null ? null : background::shutdownNow);
    }

    private static Path device(String volume) {
        return Path.of("/dev/ublkb" + CacheFixture.deviceOf(Metrics.scrapePlain(metricsPort), volume));
    }

    /** Phase {@code i}'s job on A: 12 MiB of 128 KiB sequential writes at 16 MiB x i, crc32c headers. */
    private static List<String> aJob(int i) {
        return Fio.verified(device(A), "a" + i, "--rw=write", "--bs=128k", "--offset=" + (i * A_REGION_MIB) + "M",
                "--size=" + A_JOB_MIB + "M", "--ioengine=io_uring", "--iodepth=8");
    }

    private static List<String> bWrite() {
        return Fio.verified(device(B), "b", "--rw=write", "--bs=128k", "--size=" + B_REGION_MIB + "M",
                "--ioengine=io_uring", "--iodepth=8");
    }

    /** B's measurement: 4 KiB random reads of its written region (cache hits), QD16, time based. */
    private static double bIops() {
        return bIops(B_SECONDS);
    }

    private static double bIops(int seconds) {
        Fio.Result r = CacheFixture.fio(server, dir, FIO_TIMEOUT, List.of("--name=bread", "--filename=" + device(B),
                "--direct=1", "--rw=randread", "--bs=4k", "--size=" + B_REGION_MIB + "M", "--ioengine=io_uring",
                "--iodepth=16", "--time_based", "--runtime=" + seconds, "--randseed=31"));
        return r.job("bread").readIops();
    }

    private static double value(Metrics m, String name, String volume) {
        return CacheFixture.value(m, name, volume);
    }

    @Test
    @Order(1)
    void healthyDeviceSoloIops() throws Exception {
        Fio.Result w = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(bWrite(), "--do_verify=0"));
        assertThat(w.job("b").writeBytes()).isEqualTo(B_REGION_MIB * MIB);
        Metrics m = CacheFixture.awaitMeters(metricsPort, DRAIN, x -> value(x, "ublk_cache_dirty_bytes", B) == 0);
        assertThat(value(m, "ublk_cache_dirty_bytes", B)).as("B's region uploaded: %s", m.linesFor("ublk_cache_dirty_bytes"))
                .isZero();
        // Unmeasured first: under emulation the read path's first seconds are the JIT's (a cold first
        // run measured 329 IOPS against ~2000 later in the same server).
        double warmUp = bIops(5);
        soloIops = bIops();
        report.add(String.format(Locale.ROOT, "B solo: %.0f IOPS (4k randread QD16, %d s; after a 5 s warm-up at %.0f)",
                soloIops, B_SECONDS, warmUp));
        System.err.println("[e2e] " + report.getLast());
        assertThat(soloIops).isPositive();
    }

    @Test
    @Order(2)
    void burstsOf503sWaitAndHeal() throws Exception {
        phase(0, Fault.unavailable(A_KEYS), SHORT_FAULT, FaultProxy.Outcome.UNAVAILABLE);
    }

    @Test
    @Order(3)
    void connectionResetsWaitAndHeal() throws Exception {
        phase(1, Fault.reset(A_KEYS), SHORT_FAULT, FaultProxy.Outcome.RESET);
    }

    @Test
    @Order(4)
    void twoSecondsOfAddedLatency() throws Exception {
        phase(2, Fault.delay(A_KEYS, Duration.ofSeconds(2)), SHORT_FAULT, FaultProxy.Outcome.DELAYED);
    }

    @Test
    @Order(5)
    void aBlackholeFillsMaxDirtyWritesWaitAndTheNeighbourServes() throws Exception {
        Phase p = phase(3, Fault.blackhole(A_KEYS, Fault.OnHeal.FORWARD), BLACKHOLE, FaultProxy.Outcome.HELD);
        assertThat(p.writeWaits).as("A's writes waited: --max-dirty filled during the blackhole").isPositive();
        assertThat(p.runningAtHeal).as("A's fio was still running (waiting) when the blackhole healed").isTrue();
        // Solo again, A idle and healed: the reference is the better of the two solo runs.
        double soloAfter = bIops();
        double reference = Math.max(soloIops, soloAfter);
        double ratio = p.bIops / reference;
        report.add(String.format(Locale.ROOT, "B during A's blackhole: %.0f IOPS = %.2f x solo (solo %.0f before the "
                + "faults, %.0f after them)", p.bIops, ratio, soloIops, soloAfter));
        System.err.println("[e2e] " + report.getLast());
        assertThat(ratio).as("B's IOPS while A's store is blackholed, against its solo IOPS").isGreaterThanOrEqualTo(0.5);
    }

    @Test
    @Order(6)
    void everyByteVerifies() throws Exception {
        assertThat(written).as("phases that wrote").isNotEmpty();
        List<String> jobs = new ArrayList<>();
        for (int i : written) {
            jobs.addAll(Fio.plus(aJob(i), "--verify_only"));
        }
        jobs.addAll(Fio.plus(bWrite(), "--verify_only"));
        long t0 = System.nanoTime();
        Fio.Result v = CacheFixture.fio(server, dir, FIO_TIMEOUT, jobs);
        for (int i : written) {
            assertThat(v.job("a" + i).readBytes()).as("phase %d's region read back and verified", i).isEqualTo(A_JOB_MIB * MIB);
        }
        assertThat(v.job("b").readBytes()).isEqualTo(B_REGION_MIB * MIB);
        report.add(String.format(Locale.ROOT, "verify of %d MiB on A and %d MiB on B: %.1f s", written.size() * A_JOB_MIB,
                B_REGION_MIB, (System.nanoTime() - t0) / 1e9));
        Metrics m = Metrics.scrapePlain(metricsPort);
        String why = String.join("\n", m.linesFor("ublk_cache")) + "\n" + m.linesFor("ublk_store");
        System.err.println("[e2e] cache meters at the end:\n" + why);
        for (String vol : List.of(A, B)) {
            assertThat(value(m, "ublk_cache_failed", vol)).as(why).isZero();
            assertThat(value(m, "ublk_cache_io_timeouts_total", vol)).as(why).isZero();
            assertThat(value(m, "ublk_store_checksum_errors_total", vol)).as(why).isZero();
            assertThat(value(m, "ublk_cache_flush_refused_total", vol)).as(why).isZero();
        }
        assertThat(value(m, "ublk_cache_upload_failures_total", B)).as("B's store never failed: %s", why).isZero();
        server.stop();
    }

    /** What one phase measured. */
    private record Phase(long writeWaits, boolean runningAtHeal, double bIops) {}

    /**
     * One fault phase on A: inject, run A's 12 MiB job in the background, measure B meanwhile,
     * heal after {@code faultFor}, then A's fio must end with exit 0 and its dirty bytes drain.
     */
    private static Phase phase(int i, Fault fault, Duration faultFor, FaultProxy.Outcome outcome) throws Exception {
        Metrics before = Metrics.scrapePlain(metricsPort);
        long faultedBefore = proxy.count(outcome);
        List<String> job = Fio.plus(aJob(i), "--do_verify=0");
        long t0 = System.nanoTime();
        proxy.inject(fault);
        CompletableFuture<Fio.Result> a = CompletableFuture.supplyAsync(
                () -> CacheFixture.fio(server, dir, FIO_TIMEOUT, job), background);
        // B reads once A's writes wait (the dirty bound is full), or after a third of the fault.
        Metrics waiting = CacheFixture.awaitMeters(metricsPort, faultFor.dividedBy(3),
                m -> value(m, "ublk_cache_write_waits_total", A) > value(before, "ublk_cache_write_waits_total", A));
        boolean fullBeforeB = value(waiting, "ublk_cache_write_waits_total", A)
                > value(before, "ublk_cache_write_waits_total", A);
        double b = bIops();
        long left = t0 + faultFor.toNanos() - System.nanoTime();
        if (left > 0) {
            Thread.sleep(TimeUnit.NANOSECONDS.toMillis(left));
        }
        boolean runningAtHeal = !a.isDone();
        Metrics atHeal = Metrics.scrapePlain(metricsPort);
        proxy.heal();
        long healed = System.nanoTime();
        Fio.Result r = a.get(FIO_TIMEOUT.toSeconds() + 60, TimeUnit.SECONDS);
        assertThat(r.job("a" + i).writeBytes()).isEqualTo(A_JOB_MIB * MIB);
        written.add(i);
        double fioDone = (System.nanoTime() - healed) / 1e9;
        Metrics after = CacheFixture.awaitMeters(metricsPort, DRAIN, m -> value(m, "ublk_cache_dirty_bytes", A) == 0);
        double drained = (System.nanoTime() - healed) / 1e9;
        String why = fault + ": " + String.join("\n", after.linesFor("ublk_cache")) + "\n" + server.describe();
        assertThat(value(after, "ublk_cache_dirty_bytes", A)).as("A uploaded everything after the heal: %s", why).isZero();
        assertThat(value(after, "ublk_cache_failed", A)).as(why).isZero();
        assertThat(value(after, "ublk_cache_io_timeouts_total", A)).as(why)
                .isEqualTo(value(before, "ublk_cache_io_timeouts_total", A));
        long faulted = proxy.count(outcome) - faultedBefore;
        assertThat(faulted).as("the fault met A's store requests (%s)", proxy.summary()).isPositive();
        long waits = (long) (value(after, "ublk_cache_write_waits_total", A) - value(before, "ublk_cache_write_waits_total", A));
        long failures = (long) (value(after, "ublk_cache_upload_failures_total", A)
                - value(before, "ublk_cache_upload_failures_total", A));
        report.add(String.format(Locale.ROOT,
                "%s for %d s: fio A %.1f s (%s at heal, %.1f s after it), drained %.1f s after the heal; "
                        + "%d requests %s, write waits %d (full before B measured: %s), upload failures %d, "
                        + "dirty at heal %.1f MiB; B %.0f IOPS = %.2f x solo",
                fault, faultFor.toSeconds(), r.took().toMillis() / 1000.0, runningAtHeal ? "running" : "done",
                fioDone, drained, faulted, outcome.name().toLowerCase(Locale.ROOT), waits, fullBeforeB, failures,
                value(atHeal, "ublk_cache_dirty_bytes", A) / MIB, b, b / soloIops));
        System.err.println("[e2e] " + report.getLast());
        return new Phase(waits, runningAtHeal, b);
    }
}
