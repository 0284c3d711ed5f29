package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many devices and many device lifetimes (VM tier).
 *
 * <p><b>256 devices in one process.</b> One server creates 256 memory devices of 16 MiB with 16
 * tags each; every device gets a 1 MiB write + verify, 32 devices per fio run (one job per device,
 * blocks holding the device's id and their offset, so data served by the wrong device fails); the
 * server still reports 256 devices; after SIGTERM no ublk node is left in /dev at all.
 *
 * <p><b>No growth over repeated lifetimes.</b> The server creates its devices at start and deletes
 * them at exit, so lifetimes repeat as processes: N servers in a row (default 10; system
 * property {@code ublk.e2e.cycles} or env {@code UBLK_E2E_CYCLES}), each with 32 devices that all get a short write + verify
 * before SIGTERM. Run 1 is the warm-up (first-use kernel allocations, page cache of the JDK); the
 * baseline is taken after it, the end state after the last run, both after drop_caches and a shrink of the filp slab:
 * <ul>
 *   <li>system-wide open files: {@code struct file}s in use (the {@code filp} slab) and
 *       {@code /proc/sys/fs/file-nr} (a per-cpu counter read without its per-cpu parts): a file,
 *       io_uring or char-device reference the kernel kept per device or per process adds
 *       {@code 32 x (runs - 1)} = 288 or more; the tolerance is 128 (per-cpu slabs make the
 *       count move by about 100) and 64 for file-nr;</li>
 *   <li>user threads (+8), kernel threads (+24: kworkers come and go), unreclaimable slab +
 *       kernel stacks (+2 MiB, i.e. under 8 KiB per device lifetime measured), and MemAvailable
 *       (+32 MiB, corrected for this JVM's own RSS);</li>
 *   <li>the kernel hands out the same device ids every run (an id still held means a device that
 *       was not deleted);</li>
 *   <li>each server process at ready time: fds and threads within a few, VmRSS within 10%, run 1
 *       against the last run.</li>
 * </ul>
 * This costs one JVM start per run (the dominant cost in the emulated guest), which is why the
 * number of runs is a property; the 256-device test adds 256 lifetimes to the kernel totals of
 * neither measurement, it only checks that they end.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ManyDevicesVmIT {
    static final int CYCLES = cycles();
    private static final int BATCH = 32;
    private static final Duration FIO_TIMEOUT = Duration.ofMinutes(4);

    /** {@code -Dublk.e2e.cycles=N}, or env {@code UBLK_E2E_CYCLES} (scripts/test passes it into the guest); default 10. */
    static int cycles() {
        return (int) SuiteSize.of("ublk.e2e.cycles", "UBLK_E2E_CYCLES", 10);
    }

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    @Test
    @Order(1)
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    void twoHundredFiftySixDevicesEachVerifiedThenAllGone() throws Exception {
        int port = freePort();
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), Duration.ofMinutes(6),
                "--target", "memory", "--size", "16MiB", "--depth", "16", "--count", "256",
                "--metrics-port", Integer.toString(port))) {
            List<Path> devs = server.devices();
            assertThat(devs).hasSize(256).doesNotHaveDuplicates();
            for (int from = 0; from < devs.size(); from += BATCH) {
                verifyAll(devs.subList(from, Math.min(devs.size(), from + BATCH)), "1M");
                server.assertAlive();
            }
            assertThat(Metrics.scrape(port).value("ublk_devices")).isEqualTo(256);
            server.stop();
        }
        assertThat(ublkNodes()).as("ublk nodes left in /dev").isEmpty();
    }

    @Test
    @Order(2)
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void repeatedServerLifetimesLeaveNoGrowth() throws Exception {
        assertThat(CYCLES).as("ublk.e2e.cycles").isGreaterThanOrEqualTo(2);
        HostStats.System baseline = null;
        HostStats.Proc firstProc = null;
        HostStats.Proc lastProc = null;
        List<Path> firstDevices = null;
        // the same JVM options for every run (the class archive mapped if one exists by now, never
        // written here), so that the runs' RSS and fds compare like with like
        Map<String, String> sameOptions = Map.of("UBLK_JAVA_OPTS", ClassArchive.forCommand());
        for (int run = 1; run <= CYCLES; run++) {
            long t0 = System.nanoTime();
            HostStats.Proc proc;
            try (ServerProcess server = ServerProcess.start(dir.resolve("run" + run), Duration.ofMinutes(5), sameOptions,
                    "--target", "memory", "--size", "16MiB", "--depth", "16", "--count", Integer.toString(BATCH))) {
                proc = HostStats.process(server.pid());
                List<Path> devices = server.devices().stream().sorted().toList();
                if (firstDevices == null) {
                    firstDevices = devices;
                } else {
                    assertThat(devices).as("run %d gets the ids run 1 got (the kernel freed them)", run)
                            .isEqualTo(firstDevices);
                }
                verifyAll(server.devices(), "256k");
                server.stop();
            }
            assertThat(ublkNodes()).as("ublk nodes left in /dev after run %d", run).isEmpty();
            System.err.printf("[e2e] run %d: server at ready: %s; %.1f s%n", run, proc,
                    (System.nanoTime() - t0) / 1e9);
            if (run == 1) {
                firstProc = proc;
                baseline = HostStats.settledSystem();
                System.err.println("[e2e] baseline after run 1: " + baseline);
            }
            lastProc = proc;
        }
        HostStats.System end = HostStats.settledSystem();
        System.err.println("[e2e] after run " + CYCLES + ": " + end);

        String why = "baseline after run 1: " + baseline + "\nafter run " + CYCLES + ": " + end;
        assertThat(end.openFiles() - baseline.openFiles()).as("struct files (filp slab) grew\n%s", why)
                .isLessThanOrEqualTo(128);
        assertThat(end.fileNr() - baseline.fileNr()).as("file-nr grew\n%s", why).isLessThanOrEqualTo(64);
        assertThat(end.userThreads() - baseline.userThreads()).as("user threads grew\n%s", why)
                .isLessThanOrEqualTo(8);
        assertThat(end.kernelThreads() - baseline.kernelThreads()).as("kernel threads grew\n%s", why)
                .isLessThanOrEqualTo(24);
        assertThat(end.slabUnreclaimKib() + end.kernelStackKib()
                - baseline.slabUnreclaimKib() - baseline.kernelStackKib())
                .as("unreclaimable slab + kernel stacks grew (KiB)\n%s", why).isLessThanOrEqualTo(2048);
        assertThat((baseline.memAvailableKib() - baseline.selfRssKib()) - (end.memAvailableKib() - end.selfRssKib()))
                .as("MemAvailable shrank beyond this JVM's own growth (KiB)\n%s", why)
                .isLessThanOrEqualTo(32 * 1024);

        String procWhy = "server at ready, run 1: " + firstProc + "; run " + CYCLES + ": " + lastProc;
        assertThat(lastProc.fds()).as(procWhy).isBetween(firstProc.fds() - 4, firstProc.fds() + 4);
        assertThat(lastProc.threads()).as(procWhy).isBetween(firstProc.threads() - 6, firstProc.threads() + 6);
        assertThat((double) lastProc.rssKib()).as(procWhy).isLessThanOrEqualTo(firstProc.rssKib() * 1.10);
    }

    /**
     * One fio run, one job per device: write {@code size} then verify it. Each device's blocks hold
     * its own id and the block's offset ({@code --verify=pattern}, pattern {@code <id>%o}), so a
     * block served by or to the wrong device, or at the wrong offset, fails the verify.
     */
    private void verifyAll(List<Path> devs, String size) {
        List<String> args = new ArrayList<>(List.of("--thread", "--rw=write", "--bs=128k", "--size=" + size,
                "--ioengine=psync", "--direct=1", "--verify=pattern", "--verify_fatal=1"));
        for (int i = 0; i < devs.size(); i++) {
            String id = devs.get(i).getFileName().toString().substring("ublkb".length());
            args.addAll(List.of("--name=d" + id, "--filename=" + devs.get(i), "--offset=" + (i % 8) + "M",
                    "--verify_pattern=0x" + String.format("%08x", 0x5a000000 | Integer.parseInt(id)) + "%o"));
        }
        Fio.Result r = Fio.run(dir, FIO_TIMEOUT, args);
        assertThat(r.jobs()).hasSize(devs.size());
        long bytes = size.equals("1M") ? 1 << 20 : 256 << 10;
        for (Fio.Job j : r.jobs()) {
            assertThat(j.writeBytes()).as(j.name()).isEqualTo(bytes);
            assertThat(j.readBytes()).as(j.name() + " verify").isEqualTo(bytes);
        }
    }

    private static List<String> ublkNodes() {
        return NoDevicesLeftBehind.ublkNodes();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
