package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.headers.UblkDevState;
import io.ublk.server.RealUblk;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.device.DeviceConfig;
import io.ublk.server.device.DeviceSet;
import io.ublk.server.device.UblkDevice;
import io.ublk.server.worker.WorkerConfig;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * USER_RECOVERY on real ublk (VM tier): a device whose server is gone is taken back by a new one,
 * same {@code /dev/ublkbN}, with the I/O that was in flight re-sent (REISSUE) instead of failed.
 *
 * <ul>
 *   <li>A server process is killed (SIGKILL) under a running libaio fio writer; this JVM recovers
 *       its device over a fresh memory target. The writer ends without an I/O error; a fresh
 *       write+verify passes. (The memory target lost the old data: nothing old is verified.)
 *   <li>A device set leaves its device ({@link DeviceSet#closeLeavingDevices}) under a running
 *       writer; a second set in this same JVM recovers it over the same data (a target whose
 *       close keeps the memory: as a durable target would). Data written before the leave verifies;
 *       the writer ends without an error.
 *   <li>A recovery with another shape is refused with one line, and the device stays recoverable.
 * </ul>
 * Every device made here is deleted at the end (the recovering set's close deletes it; a failure
 * deletes whatever is left in {@link #deleteLeftovers}).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class RecoveryVmIT {
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration FIO = Duration.ofMinutes(4);
    private static final Duration CONTROL = Duration.ofSeconds(60);
    private static final long MIB = 1 << 20;
    private static final int SLOT = 128 * 1024;
    /** What {@code --size 64MiB --queues 2 --depth 32} makes (the server's slot size is 128 KiB). */
    private static final DeviceConfig CONFIG = new DeviceConfig(64 * MIB, 2, 32, SLOT);

    @TempDir
    Path dir;
    private UblkControl control;
    /** Devices this test made; any still in the kernel at the end is stopped and deleted. */
    private final List<Integer> made = new ArrayList<>();
    private final List<CompletableFuture<Fio.Result>> writers = new ArrayList<>();

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    @BeforeEach
    void openControl() {
        control = UblkControl.open(CONTROL);
    }

    @AfterEach
    void deleteLeftovers() throws Exception {
        try {
            for (int id : made) {
                if (Files.exists(Path.of("/dev/ublkc" + id))) {
                    System.err.println("[e2e] deleting leftover ublk" + id);
                    try {
                        control.stopDevice(id); // fails queued I/O: a writer still blocked on it ends
                    } catch (RuntimeException e) {
                        // already stopped: DEL_DEV still works
                    }
                    control.deleteDevice(id);
                }
            }
            for (CompletableFuture<Fio.Result> w : writers) {
                try {
                    w.get(2, TimeUnit.MINUTES);
                } catch (ExecutionException e) {
                    // its own test reported it (or failed before waiting for it)
                }
            }
        } finally {
            control.close();
        }
    }

    private static DeviceSet openSet() {
        return DeviceSet.open(2, new WorkerConfig(SLOT, 32, WorkerConfig.DEFAULT_RING_ENTRIES,
                WorkerConfig.DEFAULT_MAX_TAGS), CONTROL, 2);
    }

    private static int idOf(Path dev) {
        return Integer.parseInt(dev.getFileName().toString().substring("ublkb".length()));
    }

    /** A write-only libaio job on the upper half, time-based, that is running when its device goes away. */
    private CompletableFuture<Fio.Result> startWriter(Path dev, String name) throws InterruptedException {
        List<String> job = List.of("--name=" + name, "--filename=" + dev, "--direct=1", "--rw=randwrite",
                "--bs=4k", "--ioengine=libaio", "--iodepth=16", "--offset=32M", "--size=32M", "--time_based",
                "--runtime=20");
        CompletableFuture<Fio.Result> w = CompletableFuture.supplyAsync(() -> Fio.run(dir, FIO, job));
        writers.add(w);
        Thread.sleep(3000); // let it write for a while under emulation
        assertThat(w).as("fio writer %s is running", name).isNotDone();
        return w;
    }

    /** Waits for a writer that was running when its device went away and came back: no I/O error. */
    private static Fio.Job finished(CompletableFuture<Fio.Result> writer, String name) throws Exception {
        Fio.Result r;
        try {
            r = writer.get(FIO.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Error err ? err : new AssertionError(e.getCause());
        }
        Fio.Job j = r.job(name);
        assertThat(j.error()).isZero();
        assertThat(j.writeBytes()).isPositive();
        return j;
    }

    private static List<String> regionA(Path dev) {
        return Fio.verified(dev, "a", "--rw=randwrite", "--bs=16k", "--offset=0", "--size=8M", "--ioengine=libaio",
                "--iodepth=8", "--randseed=7");
    }

    private void assertState(int id, int state) {
        DeviceInfo info = control.deviceInfo(id);
        assertThat(info.state()).as("ublk%d state (%s)", id, DeviceInfo.stateName(info.state())).isEqualTo(state);
    }

    private static void assertGone(int id) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while ((Files.exists(Path.of("/dev/ublkb" + id)) || Files.exists(Path.of("/dev/ublkc" + id)))
                && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertThat(Path.of("/dev/ublkb" + id)).doesNotExist();
        assertThat(Path.of("/dev/ublkc" + id)).doesNotExist();
    }

    @Test
    void aKilledServersDeviceIsRecoveredAndTheWriterThatWasRunningEndsWithoutError() throws Exception {
        ServerProcess server = ServerProcess.start(dir.resolve("server"), START, "--target", "memory", "--size",
                "64MiB", "--queues", "2", "--depth", "32");
        Path dev = server.device(0);
        int id = idOf(dev);
        made.add(id);
        try (DeviceSet set = openSet()) { // opened before the kill: the recovery then needs no JVM start
            Fio.Result first = Fio.run(dir, FIO, regionA(dev)); // the server serves fio
            assertThat(first.job("a").readBytes()).isEqualTo(8 * MIB);
            CompletableFuture<Fio.Result> writer = startWriter(dev, "running");

            server.kill9();
            Thread.sleep(1000);
            assertThat(writer).as("the writer's I/O is queued by the kernel, not failed").isNotDone();
            DeviceInfo dead = control.deviceInfo(id);
            assertThat(dead.ublksrvPid()).isEqualTo((int) server.pid());
            assertThat(dead.state()).as("a dead server's device (%s)", DeviceInfo.stateName(dead.state()))
                    .isIn(UblkDevState.QUIESCED, UblkDevState.LIVE);

            long t0 = System.nanoTime();
            UblkDevice back = set.recover(id, CONFIG, () -> new MemoryTarget(64 * MIB));
            System.err.printf("[e2e] ublk%d recovered in %.2f s (it was %s)%n", id, (System.nanoTime() - t0) / 1e9,
                    DeviceInfo.stateName(dead.state()));
            assertThat(back.blockDevice()).isEqualTo(dev);
            assertThat(dev).exists();
            DeviceInfo live = control.deviceInfo(id);
            assertThat(live.state()).isEqualTo(UblkDevState.LIVE);
            assertThat(live.ublksrvPid()).isEqualTo((int) ProcessHandle.current().pid());
            assertThat(set.devices()).containsExactly(back);

            finished(writer, "running");
            Fio.Result fresh = Fio.run(dir, FIO, Fio.verified(dev, "fresh", "--rw=randwrite", "--bs=8k",
                    "--offset=16M", "--size=8M", "--ioengine=libaio", "--iodepth=8"));
            assertThat(fresh.job("fresh").readBytes()).isEqualTo(8 * MIB);
        } finally {
            server.close();
        }
        assertGone(id);
    }

    @Test
    void aDeviceLeftByOneSetIsRecoveredByAnotherInTheSameJvmWithItsData() throws Exception {
        MemoryTarget data = new MemoryTarget(64 * MIB);
        AtomicInteger closes = new AtomicInteger();
        int id;
        Path dev;
        CompletableFuture<Fio.Result> writer;
        DeviceSet first = openSet();
        try {
            UblkDevice d = first.add(CONFIG, () -> new KeptTarget(data, closes));
            id = d.id();
            dev = d.blockDevice();
            made.add(id);
            Fio.Result a = Fio.run(dir, FIO, Fio.plus(regionA(dev), "--do_verify=0"));
            assertThat(a.job("a").writeBytes()).isEqualTo(8 * MIB);
            writer = startWriter(dev, "leave");
        } catch (RuntimeException | Error e) {
            first.close();
            throw e;
        }

        long t0 = System.nanoTime();
        List<Integer> left = first.closeLeavingDevices();
        System.err.printf("[e2e] ublk%d left in %.2f s%n", id, (System.nanoTime() - t0) / 1e9);
        assertThat(left).containsExactly(id);
        assertThat(closes.get()).as("the target was closed (flushed) on leave").isEqualTo(1);
        assertThat(dev).exists();
        assertState(id, UblkDevState.QUIESCED);
        assertThat(first.devices()).isEmpty();
        Thread.sleep(500);
        assertThat(writer).as("the writer's I/O is queued by the kernel, not failed").isNotDone();

        try (DeviceSet second = openSet()) {
            UblkDevice back = second.recover(id, CONFIG, () -> new KeptTarget(data, closes));
            assertThat(back.blockDevice()).isEqualTo(dev);
            assertState(id, UblkDevState.LIVE);
            finished(writer, "leave");
            Fio.Result v = Fio.run(dir, FIO, Fio.plus(regionA(dev), "--verify_only"));
            assertThat(v.job("a").readBytes()).as("written before the leave, read back after").isEqualTo(8 * MIB);
            Fio.Result fresh = Fio.run(dir, FIO, Fio.verified(dev, "fresh", "--rw=randwrite", "--bs=4k",
                    "--offset=32M", "--size=4M", "--ioengine=libaio", "--iodepth=8"));
            assertThat(fresh.job("fresh").readBytes()).isEqualTo(4 * MIB);
        }
        assertThat(closes.get()).as("closed again when the second set deleted the device").isEqualTo(2);
        assertGone(id);
    }

    @Test
    void aRecoveryWithAnotherShapeIsRefusedInOneLineAndTheDeviceStaysRecoverable() throws Exception {
        int id;
        try (DeviceSet first = openSet()) {
            id = first.add(CONFIG, () -> new MemoryTarget(64 * MIB)).id();
            made.add(id);
            assertThat(first.closeLeavingDevices()).containsExactly(id);
        }
        assertState(id, UblkDevState.QUIESCED);
        try (DeviceSet second = openSet()) {
            DeviceConfig wrong = new DeviceConfig(32 * MIB, 1, 32, SLOT);
            AtomicInteger closes = new AtomicInteger();
            assertThatThrownBy(() -> second.recover(id, wrong, () -> new KeptTarget(new MemoryTarget(32 * MIB),
                    closes)))
                    .isInstanceOf(UblkDevice.RecoveryRefusedException.class)
                    .hasMessage("refusing to recover ublk" + id + ": the device does not match the configuration:"
                            + " queues 2 (configured 1), size 67108864 bytes (configured 33554432)");
            assertThat(closes.get()).as("the refused recovery's target is closed").isEqualTo(1);
            assertThat(second.devices()).isEmpty();
            assertState(id, UblkDevState.QUIESCED);
            assertThat(Path.of("/dev/ublkb" + id)).exists();

            UblkDevice back = second.recover(id, CONFIG, () -> new MemoryTarget(64 * MIB));
            assertState(id, UblkDevState.LIVE);
            Fio.Result fresh = Fio.run(dir, FIO, Fio.verified(back.blockDevice(), "fresh", "--rw=randwrite",
                    "--bs=4k", "--size=4M", "--ioengine=libaio", "--iodepth=8"));
            assertThat(fresh.job("fresh").readBytes()).isEqualTo(4 * MIB);
        }
        assertGone(id);
    }

    /**
     * A target over memory that outlives it: close is counted and keeps the data, as a durable
     * target's close (flush) keeps it for the next server.
     */
    private static final class KeptTarget implements BlockTarget {
        private final MemoryTarget data;
        private final AtomicInteger closes;

        KeptTarget(MemoryTarget data, AtomicInteger closes) {
            this.data = data;
            this.closes = closes;
        }

        @Override
        public long size() {
            return data.size();
        }

        @Override
        public int prefetch(long offset, int length, long tag, Completion done) {
            return data.prefetch(offset, length, tag, done);
        }

        @Override
        public int admit(long offset, int length, long tag, Completion done) {
            return data.admit(offset, length, tag, done);
        }

        @Override
        public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
            return data.read(offset, dst, length, tag, done);
        }

        @Override
        public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
            return data.write(offset, src, length, flags, tag, done);
        }

        @Override
        public int flush(long tag, Completion done) {
            return data.flush(tag, done);
        }

        @Override
        public int discard(long offset, long length, long tag, Completion done) {
            return data.discard(offset, length, tag, done);
        }

        @Override
        public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
            return data.writeZeroes(offset, length, flags, tag, done);
        }

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }
}
