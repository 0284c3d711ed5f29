package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache folder on a small, nearly full ext4 (a 64 MiB loop device, VM tier): the journal
 * meets ENOSPC, writes wait instead of failing, uploads give the space back, then the operator
 * frees space and writes run at full speed again. fio sees no error, and after a kill -9 and a
 * restart (journal replay over files a full disk cut short) every byte verifies.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class CacheDiskFullVmIT {
    private static final Duration CMD = Duration.ofMinutes(3);
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration FIO = Duration.ofMinutes(8);
    private static final long MIB = 1 << 20;
    /** Free space left beside the filler: less than one journal file (4 MiB here). */
    private static final long LEFT_FREE = 3 * MIB;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblkExt4AndLoop() throws IOException {
        RealUblk.require();
        Ext4.require();
        KernelModules.require("loop", Path.of("/dev/loop-control"));
    }

    @Test
    void writesWaitWhileTheCacheDiskIsFullAndEverythingVerifiesAfterACrash() throws Exception {
        Path image = dir.resolve("cache.img");
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        run("truncate", "-s", "64M", image.toString());
        run("mkfs.ext4", "-F", "-q", image.toString());
        run("mount", "-o", "loop", image.toString(), mnt.toString());
        try {
            Path filler = mnt.resolve("filler");
            long usable = Files.getFileStore(mnt).getUsableSpace();
            run("fallocate", "-l", Long.toString(usable - LEFT_FREE), filler.toString());
            System.err.printf(Locale.ROOT, "[e2e] cache folder: %d MiB free of 64 MiB%n",
                    Files.getFileStore(mnt).getUsableSpace() / MIB);

            int port = S3ProxyProcess.freePort();
            String[] args = {"--target", "cache", "--volume", "full", "--cache-dir", mnt.resolve("cache").toString(),
                "--store", "local", "--store-dir", dir.resolve("store").toString(), "--size", "64MiB", "--max-dirty",
                "32MiB", "--dirty-memory", "32MiB", "--clean-cache", "8MiB", "--segment-size", "2MiB",
                "--upload-delay", "200ms", "--metrics-port", Integer.toString(port)};
            // the two write jobs, on the device the server of the moment serves
            Function<Path, List<String>> first = dev -> Fio.verified(dev, "full", "--rw=write", "--bs=64k",
                    "--size=24M", "--ioengine=libaio", "--iodepth=4", "--do_verify=0", "--end_fsync=1");
            Function<Path, List<String>> second = dev -> Fio.verified(dev, "freed", "--rw=write", "--bs=64k",
                    "--offset=32M", "--size=8M", "--ioengine=libaio", "--iodepth=4", "--do_verify=0", "--end_fsync=1");
            try (ServerProcess server = ServerProcess.start(dir.resolve("server"), START, args)) {
                Path dev = server.device(0);
                Fio.Result r = CacheFixture.fio(server, dir, FIO, first.apply(dev));
                Metrics m = Metrics.scrapePlain(port);
                double refused = m.sum("ublk_cache_journal_write_failures_total");
                System.err.printf(Locale.ROOT, "[e2e] 24 MiB into a nearly full cache disk: %.1f s, %.0f appends refused, "
                        + "%.0f write waits, %.0f upload rounds%n", r.took().toMillis() / 1000.0, refused,
                        m.sum("ublk_cache_write_waits_total"), m.sum("ublk_cache_upload_rounds_total"));
                assertThat(refused).as("the cache disk filled up (appends refused)").isGreaterThan(0);
                assertThat(m.sum("ublk_cache_failed")).as("the volume did not fail").isZero();

                Files.delete(filler); // the operator frees space
                r = CacheFixture.fio(server, dir, FIO, second.apply(dev));
                System.err.printf(Locale.ROOT, "[e2e] 8 MiB once space was freed: %.1f s, journal stalled now: %.0f%n",
                        r.took().toMillis() / 1000.0, Metrics.scrapePlain(port).sum("ublk_cache_journal_stalled"));
                server.kill9();
            }
            // the dead server's device stays in the kernel until it is deleted
            Cmd.Result del = ServerProcess.cli(dir, Duration.ofMinutes(2), Map.of(), "delete", "--stale").ok();
            assertThat(del.out()).as("delete --stale after the kill").contains("deleted /dev/ublkb");
            try (ServerProcess server = ServerProcess.start(dir.resolve("server-after-crash"), START, args)) {
                Path dev = server.device(0);
                CacheFixture.fio(server, dir, FIO, Fio.plus(first.apply(dev), "--verify_only"));
                CacheFixture.fio(server, dir, FIO, Fio.plus(second.apply(dev), "--verify_only"));
                server.stop();
            }
        } finally {
            run("umount", mnt.toString());
        }
    }

    private void run(String... cmd) {
        Cmd.Result r = Cmd.run(CMD, dir, cmd);
        assertThat(r.exit()).as("%s", r.describe()).isZero();
    }
}
