package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** What the cache-target VM tests share: small tuning so uploads really happen, and metric lookups by volume. */
final class CacheFixture {
    /**
     * Small bounds for small devices in a slow guest: dirty data above 8 MiB waits for uploads, so
     * they run during the test; the clean cache holds less than a device, so reads reach the store.
     */
    static final List<String> TUNING = List.of("--max-dirty", "8MiB", "--clean-cache", "8MiB", "--segment-size",
            "2MiB", "--upload-delay", "200ms");

    private CacheFixture() {}

    /** {@code --target cache --volume V --cache-dir C} + store + tuning + extra. */
    static String[] args(String volume, Path cacheDir, List<String> store, String... extra) {
        List<String> a = new ArrayList<>(List.of("--target", "cache", "--volume", volume, "--cache-dir",
                cacheDir.toString()));
        a.addAll(store);
        a.addAll(TUNING);
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    static List<String> localStore(Path dir) {
        return List.of("--store", "local", "--store-dir", dir.toString());
    }

    /** {@link Fio#run}, with the server's stderr tail in the failure message (the cache logs why it answered EIO). */
    static Fio.Result fio(ServerProcess server, Path dir, java.time.Duration timeout, List<String> args) {
        try {
            return Fio.run(dir, timeout, args);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + cacheState(server) + server.describe(), e);
        }
    }

    /** What the cache meters said when fio failed: tells a stuck cache (no rounds, writes waiting) from a slow one. */
    private static String cacheState(ServerProcess server) {
        int port = server.metricsPort();
        if (port <= 0) {
            return "";
        }
        try {
            Metrics m = Metrics.scrapePlain(port);
            StringBuilder b = new StringBuilder("--- cache meters at the failure ---\n");
            for (String name : List.of("ublk_cache_dirty_bytes", "ublk_cache_dirty_memory_bytes",
                    "ublk_cache_write_waits_total", "ublk_cache_upload_rounds_total", "ublk_cache_upload_failures_total",
                    "ublk_cache_compactions_total", "ublk_cache_read_misses_total", "ublk_worker_late_answers_total",
                    "ublk_bounce_slots_in_use")) {
                b.append(m.linesFor(name)).append('\n');
            }
            return b.toString();
        } catch (RuntimeException | AssertionError scrape) {
            return "--- cache meters: cannot scrape (" + scrape.getMessage() + ") ---\n";
        }
    }

    /**
     * Scrapes the server's meters until {@code done} holds for a scrape or {@code max} passed, and
     * answers the last scrape (the caller asserts on it, so a timeout fails with the meters).
     */
    static Metrics awaitMeters(int port, java.time.Duration max, java.util.function.Predicate<Metrics> done)
            throws InterruptedException {
        long until = System.nanoTime() + max.toNanos();
        Metrics m = Metrics.scrapePlain(port);
        while (!done.test(m) && System.nanoTime() < until) {
            Thread.sleep(500);
            m = Metrics.scrapePlain(port);
        }
        return m;
    }

    /** The device id serving {@code volume}, from the cache meters' labels. */
    static String deviceOf(Metrics m, String volume) {
        for (Metrics.Sample s : m.samples()) {
            if (s.name().equals("ublk_cache_committed_generation") && volume.equals(s.labels().get("volume"))) {
                return s.labels().get("device");
            }
        }
        fail("no cache meters for volume " + volume + ": " + m.linesFor("ublk_cache_committed_generation"));
        return null;
    }

    /** A cache meter of one volume. */
    static double value(Metrics m, String name, String volume) {
        return m.value(name, "volume", volume);
    }

    /**
     * Closes each of {@code resources} that is not null, in order, each even if one before it
     * failed (for {@code @AfterAll}: the server before the store it writes to); the first failure
     * is thrown at the end with the later ones suppressed.
     */
    static void closeAll(AutoCloseable... resources) {
        RuntimeException first = null;
        for (AutoCloseable r : resources) {
            try {
                if (r != null) {
                    r.close();
                }
            } catch (Exception e) {
                RuntimeException wrapped = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                if (first == null) {
                    first = wrapped;
                } else {
                    first.addSuppressed(wrapped);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Deletes the folder and everything in it (the cache folder, for a cold wake). */
    static void wipe(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot wipe " + dir, e);
        }
        assertThat(dir).doesNotExist();
    }
}
