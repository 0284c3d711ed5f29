package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.ublk.server.RealUblk;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's devices outlive the daemon: after SIGKILL, and after a planned restart, the next
 * daemon re-attaches every device (USER_RECOVERY) under the same {@code /dev/ublkbN}; mounted
 * filesystems stay mounted and fsck clean, and fio running across the gap ends with no I/O error
 * and verifies. Also the scale of it: many devices killed and taken back, timed.
 */
class DaemonRecoveryVmIT {
    private static final Duration START = Duration.ofMinutes(6);
    private static final Duration FIO = Duration.ofMinutes(10);

    /** {@code UBLK_RECOVERY_DEVICES}: devices of the scale test (default 256; a benchmark asks 1000). */
    static final int SCALE = (int) SuiteSize.of("ublk.e2e.recoveryDevices", "UBLK_RECOVERY_DEVICES", 256);

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() throws Exception {
        RealUblk.require();
        Ext4.require();
    }

    private String[] cache(String volume) {
        return CacheFixture.args(volume, dir.resolve("cache"), CacheFixture.localStore(dir.resolve("store")),
                "--size", "64MiB", "--depth", "16");
    }

    /** 4 ext4 filesystems and 4 fio devices, all cache volumes on the local store. */
    private record Fleet(List<Path> fs, List<Path> io, List<Path> mounts) {
        List<Path> all() {
            List<Path> a = new ArrayList<>(fs);
            a.addAll(io);
            return a;
        }
    }

    private Fleet fleet(DaemonProcess d) throws Exception {
        List<Path> fs = d.add(4, cache("fs"));
        List<Path> io = d.add(4, cache("io"));
        List<Path> mounts = new ArrayList<>();
        for (int i = 0; i < fs.size(); i++) {
            Path mnt = dir.resolve("mnt" + i);
            Files.createDirectories(mnt);
            Cmd.run(Duration.ofMinutes(3), dir, "mkfs.ext4", "-q", "-F", fs.get(i).toString()).ok();
            Cmd.run(Duration.ofMinutes(1), dir, "mount", fs.get(i).toString(), mnt.toString()).ok();
            mounts.add(mnt);
        }
        return new Fleet(fs, io, mounts);
    }

    /** fio on the fleet's io devices: random writes with periodic fsync, then a verify of all of them. */
    private CompletableFuture<Fio.Result> fioOn(Fleet f, int round) {
        List<String> args = new ArrayList<>(List.of("--rw=randwrite", "--bs=4k", "--size=8M", "--ioengine=libaio",
                "--iodepth=8", "--direct=1", "--fsync=32", "--verify=crc32c", "--verify_fatal=1",
                "--randseed=" + (1000 + round)));
        for (Path p : f.io) {
            args.addAll(List.of("--name=" + p.getFileName() + "-r" + round, "--filename=" + p));
        }
        return CompletableFuture.supplyAsync(() -> Fio.run(dir, FIO, args));
    }

    /** Writes a file on every filesystem and syncs it. */
    private static void writeFiles(Fleet f, String name) throws Exception {
        for (Path m : f.mounts) {
            Files.writeString(m.resolve(name), name + " on " + m.getFileName() + "\n".repeat(1000));
        }
        Cmd.run(Duration.ofMinutes(2), Path.of("/"), "sync").ok();
    }

    private static void assertFiles(Fleet f, List<String> names) throws Exception {
        for (Path m : f.mounts) {
            for (String n : names) {
                assertThat(Files.readString(m.resolve(n), StandardCharsets.UTF_8)).as("%s/%s", m, n)
                        .startsWith(n + " on " + m.getFileName());
            }
        }
    }

    private static void assertAllLive(DaemonProcess d, List<Path> want) {
        JsonNode list = d.list();
        List<String> live = new ArrayList<>();
        list.forEach(n -> {
            if (n.get("state").asText().equals("LIVE")) {
                live.add(n.get("path").asText());
            }
        });
        assertThat(live).as("LIVE devices after the restart: %s", list)
                .containsExactlyInAnyOrderElementsOf(want.stream().map(Path::toString).toList());
    }

    private void unmountAndFsck(Fleet f) {
        for (int i = 0; i < f.mounts.size(); i++) {
            Cmd.run(Duration.ofMinutes(2), dir, "umount", f.mounts.get(i).toString()).ok();
            Cmd.Result fsck = Cmd.run(Duration.ofMinutes(3), dir, "fsck.ext4", "-n", "-f", f.fs.get(i).toString());
            assertThat(fsck.exit()).as("fsck -n of %s: %s", f.fs.get(i), fsck.describe()).isZero();
        }
    }

    /** After a failure: lazy unmounts, so the temp folder can go. */
    private void unmountLeftovers() {
        for (int i = 0; i < 4; i++) {
            Path m = dir.resolve("mnt" + i);
            if (Files.exists(m)) {
                Cmd.run(Duration.ofMinutes(1), dir, "umount", "-l", m.toString());
            }
        }
    }

    @Test
    @Timeout(value = 40, unit = TimeUnit.MINUTES)
    void killedThreeTimesTheDevicesComeBackWithTheirFilesystemsAndFio() throws Exception {
        Fleet f;
        List<String> files = new ArrayList<>();
        DaemonProcess d = DaemonProcess.start(dir, "daemon-0", START);
        try {
            f = fleet(d);
            for (int round = 1; round <= 3; round++) {
                writeFiles(f, "before-kill-" + round);
                files.add("before-kill-" + round);
                CompletableFuture<Fio.Result> fio = fioOn(f, round);
                Thread.sleep(ThreadLocalRandom.current().nextLong(2000, 8000));
                assertThat(fio.isDone()).as("fio still running at the kill (round %d)", round).isFalse();
                d.kill9();
                long t0 = System.nanoTime();
                d = DaemonProcess.start(dir, "daemon-" + round, START);
                System.err.printf(Locale.ROOT, "[e2e] round %d: 8 devices back %.1f s after the kill%n", round,
                        (System.nanoTime() - t0) / 1e9);
                assertAllLive(d, f.all());
                Fio.Result r = fio.get(FIO.toMinutes(), TimeUnit.MINUTES);
                assertThat(r.jobs()).hasSize(4).allMatch(j -> j.error() == 0 && j.readIos() > 0);
                assertFiles(f, files);
            }
            unmountAndFsck(f);
            d.stop(false);
        } finally {
            unmountLeftovers(); // first: a mounted device cannot be deleted
            d.close();
        }
    }

    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES)
    void aPlannedRestartKeepsEveryDeviceAndStallsIoOnlyForTheGap() throws Exception {
        DaemonProcess d = DaemonProcess.start(dir, "daemon-0", START);
        try {
            Fleet f = fleet(d);
            writeFiles(f, "before-restart");
            CompletableFuture<Fio.Result> fio = fioOn(f, 1);
            Thread.sleep(4000);
            long t0 = System.nanoTime();
            d.terminate(); // SIGTERM, as systemctl restart: the devices stay
            double exitS = (System.nanoTime() - t0) / 1e9;
            assertThat(f.io.get(0)).as("the devices stay across the restart").exists();
            d = DaemonProcess.start(dir, "daemon-1", START);
            double gapS = (System.nanoTime() - t0) / 1e9;
            assertAllLive(d, f.all());
            Fio.Result r = fio.get(FIO.toMinutes(), TimeUnit.MINUTES);
            assertThat(r.jobs()).hasSize(4).allMatch(j -> j.error() == 0);
            double maxLatS = 0;
            for (Object j : Json.list(Json.parse(r.cmd().out()), "jobs")) {
                Map<String, Object> clat = Json.obj(Json.obj(j, "write"), "clat_ns");
                maxLatS = Math.max(maxLatS, Json.num(clat, "max") / 1e9);
            }
            System.err.printf(Locale.ROOT, "[e2e] planned restart: old daemon exited in %.1f s, new one ready %.1f s "
                    + "after SIGTERM; longest fio write latency %.1f s%n", exitS, gapS, maxLatS);
            assertThat(maxLatS).as("the stall is the gap, not more").isLessThan(gapS + 30);
            assertFiles(f, List.of("before-restart"));
            unmountAndFsck(f);
            d.stop(false);
        } finally {
            unmountLeftovers(); // first: a mounted device cannot be deleted
            d.close();
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.MINUTES)
    void manyDevicesKilledAreAllTakenBack() throws Exception {
        DaemonProcess d = DaemonProcess.start(dir, "daemon-0", START, "--parallel", "16");
        try {
            long t0 = System.nanoTime();
            List<Path> devs = d.add(SCALE, "--target", "memory", "--name", "m", "--size", "16MiB", "--depth", "16");
            double addS = (System.nanoTime() - t0) / 1e9;
            assertThat(devs).hasSize(SCALE);
            d.kill9();
            t0 = System.nanoTime();
            d = DaemonProcess.start(dir, "daemon-1", Duration.ofMinutes(20), "--parallel", "16");
            double recoverS = (System.nanoTime() - t0) / 1e9;
            assertAllLive(d, devs);
            // each serves again: one write and read-back per device, in batches
            for (int from = 0; from < devs.size(); from += 32) {
                List<String> args = new ArrayList<>(List.of("--thread", "--rw=write", "--bs=64k", "--size=256k",
                        "--ioengine=psync", "--direct=1", "--verify=crc32c", "--verify_fatal=1"));
                for (Path p : devs.subList(from, Math.min(devs.size(), from + 32))) {
                    args.addAll(List.of("--name=" + p.getFileName(), "--filename=" + p));
                }
                Fio.run(dir, FIO, args);
            }
            System.err.printf(Locale.ROOT, "[e2e] %d devices: added in %.1f s; after kill -9 all LIVE again %.1f s "
                    + "after the new daemon's start (JVM start included)%n", SCALE, addS, recoverS);
            d.stop(false);
        } finally {
            unmountLeftovers(); // first: a mounted device cannot be deleted
            d.close();
        }
    }
}
