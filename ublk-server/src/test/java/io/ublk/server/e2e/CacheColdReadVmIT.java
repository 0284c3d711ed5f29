package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cold full read of a large cached volume with the default budgets (VM tier, local store): the
 * volume ({@link #SIZE_MIB}, default 1.5 GiB, six times the clean cache) is written, drained to
 * the store, its cache folder wiped; a cold server then serves a {@code dd} of all of it. The dd
 * succeeds, the server's RSS (sampled throughout) stays below its heap plus fixed overhead, and
 * the clean cache's gauge never passes {@code --clean-cache}. Before the fix, a read-through kept
 * every fetched block on the heap: the server died of OutOfMemoryError and the dd hung.
 */
@Timeout(value = 40, unit = TimeUnit.MINUTES)
class CacheColdReadVmIT {
    static final long SIZE_MIB = sizeMib();
    private static final long MIB = 1 << 20;
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration LONG = Duration.ofMinutes(20);
    /** Just above what run requires for one volume with the default budgets (about 800 MiB, plus 64 MiB). */
    private static final long HEAP_MIB = 900;
    /** Bounce pools (16 MiB per worker, two workers here) and the JVM's own memory beyond the heap. */
    private static final long FIXED_MIB = 64 + 256;
    private static final long CLEAN_CACHE = 256 * MIB;

    /** {@code -Dublk.e2e.coldReadMib=N}, or env {@code UBLK_COLD_READ_MIB}; default 1536. */
    static long sizeMib() {
        return SuiteSize.of("ublk.e2e.coldReadMib", "UBLK_COLD_READ_MIB", 1536);
    }

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    @Test
    void aColdFullReadStaysWithinTheBudgets() throws Exception {
        Path cache = dir.resolve("cache");
        List<String> store = CacheFixture.localStore(dir.resolve("store"));
        int port = S3ProxyProcess.freePort();
        List<String> common = new java.util.ArrayList<>(List.of("--target", "cache", "--volume", "cold", "--cache-dir",
                cache.toString(), "--metrics-port", Integer.toString(port)));
        common.addAll(store);
        Map<String, String> env = Map.of("UBLK_JAVA_OPTS", ClassArchive.forCommand() + " -Xmx" + HEAP_MIB + "m");

        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), START, env,
                plus(common, "--size", SIZE_MIB + "MiB"))) {
            Fio.Result w = CacheFixture.fio(server, dir, LONG, List.of("--name=fill", "--filename=" + server.device(0),
                    "--direct=1", "--rw=write", "--bs=1M", "--ioengine=libaio", "--iodepth=4", "--size=" + SIZE_MIB + "M"));
            System.err.printf(Locale.ROOT, "[e2e] wrote %d MiB in %.1f s%n", SIZE_MIB, w.took().toMillis() / 1000.0);
            server.stop();
        }
        String[] drain = {"drain", "--volume", "cold", "--cache-dir", cache.toString(), "--store", "local",
            "--store-dir", dir.resolve("store").toString()};
        ServerProcess.cli(dir, LONG, Map.of(), drain).ok();
        CacheFixture.wipe(cache);

        try (ServerProcess server = ServerProcess.start(dir.resolve("server-cold"), START, env,
                common.toArray(String[]::new))) {
            AtomicLong rssKib = new AtomicLong();
            AtomicLong cleanBytes = new AtomicLong();
            Thread sampler = Thread.ofPlatform().daemon().start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        rssKib.accumulateAndGet(HostStats.process(server.pid()).rssKib(), Math::max);
                        cleanBytes.accumulateAndGet((long) Metrics.scrapePlain(port).sum("ublk_cache_clean_bytes"),
                                Math::max);
                    } catch (Exception | AssertionError e) {
                        return; // the server is gone: the dd's result says why
                    }
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                }
            });
            Cmd.Result dd;
            try {
                dd = Cmd.run(LONG, dir, "dd", "if=" + server.device(0), "of=/dev/null", "bs=1M", "iflag=direct");
            } finally {
                sampler.interrupt();
                sampler.join(10_000);
            }
            assertThat(dd.exit()).as("the cold dd: %s\n%s", dd.describe(), server.describe()).isZero();
            assertThat(dd.err()).as("bytes the dd read").contains(SIZE_MIB * MIB + " bytes");
            Metrics m = Metrics.scrapePlain(port);
            long bound = (HEAP_MIB + FIXED_MIB) * MIB;
            System.err.printf(Locale.ROOT, "[e2e] cold dd of %d MiB: %.1f s; server RSS at most %d MiB (bound %d MiB: "
                    + "-Xmx%dm + %d MiB); clean cache at most %.2f MiB (--clean-cache 256 MiB); %.0f store reads%n",
                    SIZE_MIB, dd.took().toMillis() / 1000.0, rssKib.get() / 1024, bound / MIB, HEAP_MIB, FIXED_MIB,
                    cleanBytes.get() / (double) MIB, m.sum("ublk_cache_read_misses_total"));
            assertThat(rssKib.get() * 1024).as("server RSS during the cold read").isLessThanOrEqualTo(bound);
            // beyond it: the prefetched blocks of the reads in flight, at most one per tag (--depth 64)
            assertThat(cleanBytes.get()).as("clean cache bytes during the cold read")
                    .isLessThanOrEqualTo(CLEAN_CACHE + 64L * 128 * 1024);
            server.stop();
        }
    }

    private static String[] plus(List<String> a, String... more) {
        return Fio.plus(a, more).toArray(String[]::new);
    }
}
