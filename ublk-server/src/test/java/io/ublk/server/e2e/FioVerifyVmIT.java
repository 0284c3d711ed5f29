package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data integrity through the whole stack (VM tier): one real server process on the memory target
 * with 8 devices of 256 MiB, driven by real fio with {@code --direct=1} and crc32c verification.
 * Each case has its own device; the write and the verify of the "then verify" cases are separate
 * fio runs ({@code --verify_only}), so the data is read back from the server, not from fio.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class FioVerifyVmIT {
    private static final Duration FIO_TIMEOUT = Duration.ofMinutes(6);
    private static final long MIB = 1 << 20;

    @TempDir
    static Path dir;
    private static ServerProcess server;

    @BeforeAll
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    static void startServer() {
        RealUblk.require();
        server = ServerProcess.start(dir.resolve("server"), Duration.ofMinutes(5),
                "--target", "memory", "--size", "256MiB", "--count", "8", "--queues", "1", "--depth", "64");
        assertThat(server.devices()).hasSize(8);
    }

    @AfterEach
    void serverStillUp() {
        if (server != null) {
            server.assertAlive();
        }
    }

    @AfterAll
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    static void stopServer() {
        if (server != null) {
            try {
                server.stop();
            } finally {
                server.close();
            }
        }
    }

    @Test
    void sequentialWriteThenReadVerify256MiB() {
        List<String> job = Fio.verified(server.device(0), "seq", "--rw=write", "--bs=128k", "--size=256M",
                "--ioengine=io_uring", "--iodepth=16");
        Fio.Result w = Fio.run(dir, FIO_TIMEOUT, Fio.plus(job, "--do_verify=0"));
        assertThat(w.job("seq").writeBytes()).isEqualTo(256 * MIB);
        assertThat(w.job("seq").readBytes()).isZero();

        Fio.Result v = Fio.run(dir, FIO_TIMEOUT, Fio.plus(job, "--verify_only"));
        assertThat(v.job("seq").readBytes()).as("bytes read back and verified").isEqualTo(256 * MIB);
    }

    @Test
    void randomWriteThenVerify() {
        List<String> job = Fio.verified(server.device(1), "rand", "--rw=randwrite", "--bs=16k", "--size=64M",
                "--ioengine=io_uring", "--iodepth=32", "--randseed=4711");
        Fio.Result w = Fio.run(dir, FIO_TIMEOUT, Fio.plus(job, "--do_verify=0"));
        assertThat(w.job("rand").writeBytes()).isEqualTo(64 * MIB);

        Fio.Result v = Fio.run(dir, FIO_TIMEOUT, Fio.plus(job, "--verify_only"));
        assertThat(v.job("rand").readBytes()).isEqualTo(64 * MIB);
    }

    @Test
    void mixedRandRwWithInlineVerify() {
        // verify_backlog: every 16 written blocks are read back and checked while the mix goes on;
        // the final verify phase checks every block written.
        Fio.Result r = Fio.run(dir, FIO_TIMEOUT, Fio.verified(server.device(2), "mixed", "--rw=randrw",
                "--rwmixwrite=50", "--bs=8k", "--size=32M", "--ioengine=io_uring", "--iodepth=16",
                "--verify_backlog=16"));
        Fio.Job j = r.job("mixed");
        assertThat(j.writeIos()).isGreaterThan(1000);
        // Reads: the random half of the mix plus one verify read per written block.
        assertThat(j.readIos()).isGreaterThan(j.writeIos());
    }

    @Test
    void bsrange512To128kIoUring() {
        bsrange(server.device(3), "io_uring", "--iodepth=32");
    }

    @Test
    void bsrange512To128kPsync() {
        bsrange(server.device(4), "psync");
    }

    private static void bsrange(Path dev, String engine, String... more) {
        List<String> job = Fio.verified(dev, "bsrange-" + engine, "--rw=randwrite", "--bsrange=512-128k", "--size=32M",
                "--ioengine=" + engine);
        Fio.Result r = Fio.run(dir, FIO_TIMEOUT, Fio.plus(job, more));
        Fio.Job j = r.job("bsrange-" + engine);
        assertThat(j.writeBytes()).isEqualTo(32 * MIB);
        assertThat(j.readBytes()).as("verify reads").isEqualTo(32 * MIB);
        // Sizes really vary: 32 MiB of 128 KiB blocks would be 256 I/Os.
        assertThat(j.writeIos()).isGreaterThan(300);
    }

    @Test
    void eightDevicesVerifiedConcurrently() {
        // One job per device, all running at once. Each device gets its own seed and its own start
        // offset (i MiB), so block boundaries differ between devices: a write served to the wrong
        // device, or read from the wrong one, fails the verify.
        List<String> args = new ArrayList<>(List.of("--rw=randwrite", "--bsrange=4k-128k", "--size=32M",
                "--ioengine=io_uring", "--iodepth=16", "--direct=1", "--verify=crc32c", "--verify_fatal=1"));
        for (int i = 0; i < 8; i++) {
            args.addAll(List.of("--name=dev" + i, "--filename=" + server.device(i), "--offset=" + i + "M",
                    "--randseed=" + (1000 + i)));
        }
        Fio.Result r = Fio.run(dir, FIO_TIMEOUT, args);
        assertThat(r.jobs()).hasSize(8);
        for (Fio.Job j : r.jobs()) {
            assertThat(j.writeBytes()).as(j.name()).isEqualTo(32 * MIB);
            assertThat(j.readBytes()).as(j.name() + " verify reads").isEqualTo(32 * MIB);
        }
    }
}
