package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash of the server (VM tier), on the embedded local store: region A is written by fio and
 * fsynced (fio has finished); region B is being written by fio with an fsync every 16 writes when
 * the server gets SIGKILL. The kernel keeps the dead server's device (USER_RECOVERY) with fio's
 * I/O queued; {@code bin/ublk-server delete --stale} stops it (the queued I/O fails) and deletes
 * it. A new server on the SAME cache folder replays the journal: region A verifies in full, and
 * region B reads back without an I/O error.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CacheCrashVmIT {
    private static final Duration FIO_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration START = Duration.ofMinutes(5);
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    private static List<String> regionA(Path dev) {
        return new ArrayList<>(List.of("--name=a", "--filename=" + dev, "--direct=1", "--rw=randwrite", "--bs=64k",
                "--offset=0", "--size=16M", "--ioengine=io_uring", "--iodepth=16", "--randseed=99",
                "--verify=crc32c", "--verify_fatal=1"));
    }

    @Test
    void everythingFsyncedBeforeAKill9VerifiesAfterARestartOnTheSameCache() throws Exception {
        Path cache = dir.resolve("cache");
        String[] args = CacheFixture.args("crash", cache, CacheFixture.localStore(dir.resolve("store")),
                "--size", "64MiB");
        Process writer = null;
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), START, args)) {
            Path dev = server.device(0);
            List<String> a = regionA(dev);
            a.addAll(List.of("--do_verify=0", "--end_fsync=1"));
            Fio.Result w = CacheFixture.fio(server, dir, FIO_TIMEOUT, a);
            assertThat(w.job("a").writeBytes()).isEqualTo(16 * MIB);

            // Region B: writes with an fsync every 16, until the kill cuts them off.
            List<String> b = List.of("fio", "--name=b", "--filename=" + dev, "--direct=1", "--rw=randwrite",
                    "--bs=4k", "--offset=32M", "--size=32M", "--ioengine=psync", "--fsync=16", "--time_based",
                    "--runtime=300", "--disk_util=0");
            writer = new ProcessBuilder(b).directory(dir.toFile())
                    .redirectOutput(dir.resolve("fio-b.out").toFile())
                    .redirectError(dir.resolve("fio-b.err").toFile()).start();
            // Let it write and sync for a while: the journal then holds synced and unsynced records.
            Thread.sleep(8000);
            assertThat(writer.isAlive()).as("fio on region B: %s", Cmd.read(dir.resolve("fio-b.err"))).isTrue();
            server.assertAlive();
            server.kill9();
        }

        // The dead server's device is still there, fio's I/O queued on it: remove it.
        Cmd.Result del = ServerProcess.cli(dir, Duration.ofMinutes(2), Map.of(), "delete", "--stale").ok();
        System.err.println("[e2e] " + del.out().strip());
        assertThat(del.out()).contains("deleted /dev/ublkb");
        assertThat(writer.waitFor(2, TimeUnit.MINUTES)).as("fio on region B ends once the device is gone").isTrue();

        try (ServerProcess server = ServerProcess.start(dir.resolve("server-restart"), START, args)) {
            Path dev = server.device(0);
            Fio.Result v = CacheFixture.fio(server, dir, FIO_TIMEOUT, with(regionA(dev), "--verify_only"));
            assertThat(v.job("a").readBytes()).as("region A, fsynced before the kill").isEqualTo(16 * MIB);

            Cmd.Result readB = Cmd.run(FIO_TIMEOUT, dir, "dd", "if=" + dev, "of=/dev/null", "bs=1M", "skip=32",
                    "count=32", "iflag=direct");
            assertThat(readB.exit()).as("region B reads without I/O errors: %s", readB.describe()).isZero();
            server.stop();
        } finally {
            if (writer != null && writer.isAlive()) {
                writer.destroyForcibly();
            }
        }
        assertThat(Files.exists(Path.of("/dev/ublk-control"))).isTrue();
    }

    private static List<String> with(List<String> job, String... more) {
        List<String> r = new ArrayList<>(job);
        r.addAll(List.of(more));
        return r;
    }
}
