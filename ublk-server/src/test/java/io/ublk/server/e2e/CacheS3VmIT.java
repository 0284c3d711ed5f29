package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * The cache target over a real S3 server (VM tier): s3proxy as its own process on the guest's
 * loopback, one server with three 64 MiB cached volumes ({@code s3-0..s3-2}), small dirty and clean
 * bounds so uploads and store reads happen during the test. fio crc32c: sequential and random
 * writes verified by a separate {@code --verify_only} run, a mixed randrw with inline verify; the
 * metrics must show upload rounds and segment PUTs. Then the cold wake: stop, {@code drain},
 * wipe the cache folder, start again on the empty folder, and fio verifies everything written,
 * which now comes from the store alone.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CacheS3VmIT {
    private static final Duration FIO_TIMEOUT = Duration.ofMinutes(6);
    private static final Duration START = Duration.ofMinutes(5);
    private static final long MIB = 1 << 20;
    /**
     * Job sizes: each several times the 8 MiB dirty and clean bounds, so uploads, merges, store
     * reads and compaction all happen, yet small enough for one TCG thread (each 16 KiB random
     * write there costs a 128 KiB block merge, a store read and its upload: ~7 writes/s).
     */
    private static final int SEQ_MIB = 32;
    private static final int RAND_MIB = 16;

    @TempDir
    static Path dir;
    private static S3ProxyProcess s3;
    private static ServerProcess server;
    private static int metricsPort;

    @BeforeAll
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    static void start() throws IOException {
        RealUblk.require();
        s3 = S3ProxyProcess.start(dir.resolve("s3proxy"), "volumes", Duration.ofMinutes(3));
        server = startServer("server", "--size", "64MiB");
        assertThat(server.devices()).hasSize(3);
    }

    private static ServerProcess startServer(String name, String... more) throws IOException {
        metricsPort = S3ProxyProcess.freePort();
        List<String> extra = new ArrayList<>(List.of("--count", "3", "--metrics-port", Integer.toString(metricsPort)));
        extra.addAll(List.of(more));
        return ServerProcess.start(dir.resolve(name), START, S3ProxyProcess.env(),
                CacheFixture.args("s3", dir.resolve("cache"), s3.storeArgs(), extra.toArray(String[]::new)));
    }

    @AfterAll
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    static void stop() {
        CacheFixture.closeAll(server, s3);
    }

    /** {@code /dev/ublkbN} serving volume {@code s3-i}. */
    private static Path device(int i) {
        return Path.of("/dev/ublkb" + CacheFixture.deviceOf(Metrics.scrape(metricsPort), "s3-" + i));
    }

    private static List<String> seqJob() {
        return Fio.verified(device(0), "seq", "--rw=write", "--bs=128k", "--size=" + SEQ_MIB + "M", "--ioengine=io_uring",
                "--iodepth=16");
    }

    private static List<String> randJob() {
        // 16 KiB writes at random offsets: partial blocks (128 KiB) the cache must merge.
        return Fio.verified(device(1), "rand", "--rw=randwrite", "--bs=16k", "--size=" + RAND_MIB + "M", "--ioengine=io_uring",
                "--iodepth=32", "--randseed=4711");
    }

    @Test
    @Order(1)
    void sequentialWriteThenVerify() {
        Fio.Result w = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(seqJob(), "--do_verify=0"));
        assertThat(w.job("seq").writeBytes()).isEqualTo(SEQ_MIB * MIB);
        Fio.Result v = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(seqJob(), "--verify_only"));
        assertThat(v.job("seq").readBytes()).as("bytes read back and verified").isEqualTo(SEQ_MIB * MIB);
        server.assertAlive();
    }

    @Test
    @Order(2)
    void randomWriteThenVerify() {
        Fio.Result w = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(randJob(), "--do_verify=0"));
        assertThat(w.job("rand").writeBytes()).isEqualTo(RAND_MIB * MIB);
        Fio.Result v = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(randJob(), "--verify_only"));
        assertThat(v.job("rand").readBytes()).isEqualTo(RAND_MIB * MIB);
        server.assertAlive();
    }

    @Test
    @Order(3)
    void mixedRandRwWithInlineVerify() {
        Fio.Result r = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.verified(device(2), "mixed", "--rw=randrw", "--rwmixwrite=50",
                "--bs=8k", "--size=8M", "--ioengine=io_uring", "--iodepth=16", "--verify_backlog=16"));
        Fio.Job j = r.job("mixed");
        assertThat(j.writeIos()).isGreaterThan(400);
        assertThat(j.readIos()).isGreaterThan(j.writeIos());
        server.assertAlive();
    }

    @Test
    @Order(4)
    void uploadsReachedTheStore() throws InterruptedException {
        // The uploader runs on its own (--upload-delay 200ms); give it a moment to empty the dirty set.
        Metrics m = CacheFixture.awaitMeters(metricsPort, Duration.ofMinutes(2), x -> x.sum("ublk_cache_dirty_bytes") == 0);
        String why = String.join("\n", m.linesFor("ublk_cache")) + "\n" + String.join("\n", m.linesFor("ublk_store"));
        System.err.println("[e2e] cache metrics after the fio runs:\n" + why);
        for (int i = 0; i < 3; i++) {
            String v = "s3-" + i;
            assertThat(CacheFixture.value(m, "ublk_cache_upload_rounds_total", v)).as(why).isPositive();
            assertThat(CacheFixture.value(m, "ublk_store_segment_puts_total", v)).as(why).isPositive();
            assertThat(CacheFixture.value(m, "ublk_store_manifest_puts_total", v)).as(why).isPositive();
            assertThat(CacheFixture.value(m, "ublk_store_checksum_errors_total", v)).as(why).isZero();
            assertThat(CacheFixture.value(m, "ublk_cache_upload_failures_total", v)).as(why).isZero();
        }
        // 32 MiB through an 8 MiB clean cache: the verify pass had to read blocks back from S3.
        assertThat(CacheFixture.value(m, "ublk_cache_read_misses_total", "s3-0")).as(why).isPositive();
        assertThat(s3.bucketDir()).isNotEmptyDirectory();
    }

    @Test
    @Order(5)
    void coldWakeServesEverythingFromTheStore() throws IOException {
        List<String> seq = seqJob();
        List<String> rand = randJob();
        server.stop();
        Cmd.Result drain = ServerProcess.cli(dir, Duration.ofMinutes(5), S3ProxyProcess.env(),
                Fio.plus(List.of("drain", "--count", "3", "--volume", "s3", "--cache-dir", dir.resolve("cache").toString()),
                        s3.storeArgs().toArray(String[]::new)).toArray(String[]::new)).ok();
        System.err.println("[e2e] " + drain.out().strip().replace("\n", "\n[e2e] "));
        assertThat(drain.out().lines()).hasSize(3).allMatch(l -> l.startsWith("drained s3-"));

        CacheFixture.wipe(dir.resolve("cache"));
        // No --size: the volumes exist in the store and are opened as they are.
        server = startServer("server-cold");
        // (The kernel's partition scan at START_DEV already read a few blocks.)
        Metrics before = Metrics.scrape(metricsPort);

        Fio.Result v0 = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(retarget(seq, device(0)), "--verify_only"));
        assertThat(v0.job("seq").readBytes()).isEqualTo(SEQ_MIB * MIB);
        Fio.Result v1 = CacheFixture.fio(server, dir, FIO_TIMEOUT, Fio.plus(retarget(rand, device(1)), "--verify_only"));
        assertThat(v1.job("rand").readBytes()).isEqualTo(RAND_MIB * MIB);

        Metrics after = Metrics.scrape(metricsPort);
        String why = String.join("\n", after.linesFor("ublk_cache_read")) + "\n"
                + String.join("\n", after.linesFor("ublk_store_read"));
        System.err.println("[e2e] cache metrics after the cold wake:\n" + why);
        assertThat(CacheFixture.value(after, "ublk_cache_read_misses_total", "s3-0")).as(why)
                .isGreaterThan(CacheFixture.value(before, "ublk_cache_read_misses_total", "s3-0"));
        assertThat(CacheFixture.value(after, "ublk_store_read_bytes_total", "s3-0")
                - CacheFixture.value(before, "ublk_store_read_bytes_total", "s3-0")).as(why)
                .isGreaterThanOrEqualTo((SEQ_MIB - 4.0) * MIB);
        assertThat(CacheFixture.value(after, "ublk_cache_read_misses_total", "s3-1")).as(why)
                .isGreaterThan(CacheFixture.value(before, "ublk_cache_read_misses_total", "s3-1"));
        assertThat(after.sum("ublk_store_checksum_errors_total")).as(why).isZero();
        server.stop();
    }

    /** The same job on another device node (device ids may differ after a restart). */
    private static List<String> retarget(List<String> job, Path dev) {
        return job.stream().map(a -> a.startsWith("--filename=") ? "--filename=" + dev : a).toList();
    }
}
