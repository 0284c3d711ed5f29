package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounce pool's hard bound under overload (VM tier): one worker with 2 bounce slots serves a
 * device with 64 tags while fio keeps 4 x 64 random 128 KiB writes (then verify reads) in flight.
 * Every data request needs a slot, so most must wait for one. Asserts: fio's data verifies, the
 * worker counted every request, {@code ublk_bounce_backpressure_waits_total} grew, the peak of
 * slots in use is exactly the 2 there are (never more), the pool is still 2 x 128 KiB, and every
 * slot is back once fio is done.
 *
 * <p>The memory target answers inline, so a request releases its slot before the worker looks at
 * the next one and a pool of 2 is never short; {@code --latency 1ms} (the server's option for
 * this) answers each request a millisecond later from another thread, so slots are held while
 * requests are pending, as with a remote store.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class BackpressureVmIT {
    private static final long SLOT = 128 * 1024;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void moreRequestsInFlightThanSlotsWaitAndTheBoundHolds() throws Exception {
        int port = freePort();
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), Duration.ofMinutes(5),
                "--target", "memory", "--size", "64MiB", "--workers", "1", "--pool-slots", "2", "--depth", "64",
                "--latency", "1ms", "--metrics-port", Integer.toString(port))) {
            Metrics before = Metrics.scrape(port);
            assertThat(before.value("ublk_devices")).isEqualTo(1);
            assertThat(before.value("ublk_bounce_pool_bytes", "worker", "0")).isEqualTo(2 * SLOT);
            assertThat(before.value("ublk_bounce_slots_in_use", "worker", "0")).isZero();

            List<String> args = new ArrayList<>(List.of("--rw=randwrite", "--bs=128k", "--size=16M",
                    "--ioengine=io_uring", "--iodepth=64", "--direct=1", "--verify=crc32c", "--verify_fatal=1"));
            for (int i = 0; i < 4; i++) {
                args.addAll(List.of("--name=j" + i, "--filename=" + server.device(0), "--offset=" + (16 * i) + "M",
                        "--randseed=" + (77 + i)));
            }
            Fio.Result fio = Fio.run(dir, Duration.ofMinutes(5), args);
            long ios = fio.totalIos();
            assertThat(ios).as("fio writes + verify reads").isEqualTo(4 * 2 * 128);

            Metrics after = Metrics.scrape(port);
            String why = "metrics after fio:\n" + String.join("\n", after.linesFor("ublk_bounce"))
                    + "\n" + after.linesFor("ublk_worker") + "\n" + server.describe();
            System.err.println("[e2e] backpressure metrics: " + after.linesFor("ublk_bounce") + " "
                    + after.linesFor("ublk_worker_requests"));
            assertThat(after.value("ublk_worker_requests_total", "worker", "0")
                    - before.value("ublk_worker_requests_total", "worker", "0"))
                    .as("requests the worker counted (>= fio's I/Os)\n%s", why).isGreaterThanOrEqualTo(ios);
            assertThat(after.value("ublk_bounce_acquires_total", "worker", "0")
                    - before.value("ublk_bounce_acquires_total", "worker", "0"))
                    .as("slots handed out (one per data request)\n%s", why).isGreaterThanOrEqualTo(ios);
            assertThat(after.value("ublk_bounce_backpressure_waits_total", "worker", "0")
                    - before.value("ublk_bounce_backpressure_waits_total", "worker", "0"))
                    .as("requests that waited for a slot\n%s", why).isGreaterThan(0);
            assertThat(after.value("ublk_bounce_slots_peak", "worker", "0"))
                    .as("most slots ever in use: the pool ran dry (waits > 0) and never grew past 2\n%s", why)
                    .isEqualTo(2);
            assertThat(after.value("ublk_bounce_pool_bytes", "worker", "0")).as(why).isEqualTo(2 * SLOT);
            assertThat(after.value("ublk_bounce_slots_in_use", "worker", "0")).as("slots still held\n%s", why)
                    .isZero();
            assertThat(after.value("ublk_worker_errors_total", "worker", "0")).as(why).isZero();
            server.stop();
        }
    }
}
