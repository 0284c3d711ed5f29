package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.IoFlags;
import io.ublk.blockcache.Requests;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.FaultInjectingStore.Op;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full (or failing) cache disk is not the end of the volume: a write the journal cannot take
 * waits, writes after it wait behind it, nothing that was acknowledged is lost, and once the disk
 * takes appends again everything lands, in order, without a restart.
 */
class JournalDiskFullTest {
    static final int BS = 128 * 1024;
    static final int IO = 4096;

    @TempDir java.nio.file.Path tmp;
    LocalObjectStore store;
    final FullDisk disk = new FullDisk();

    @BeforeEach
    void store() {
        store = new LocalObjectStore(tmp.resolve("store"));
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    CacheConfig config(Duration ioTimeout) {
        // uploads only when asked (drain), so the journal is what holds the writes
        return CacheConfig.of(tmp.resolve("cache"), "vol", 64L * BS).withSizes(32L * BS, 64L * BS, 8L * BS)
                .withUpload(Duration.ofMinutes(10), 2).withIoTimeout(ioTimeout).withJournalChannels(disk);
    }

    @Test
    void writesWaitWhileTheJournalDiskIsFullAndAllLandOnceItHasSpaceAgain() throws Exception {
        byte[] a = pattern(1, BS);
        byte[] b = pattern(2, IO);
        byte[] c = pattern(3, IO);
        FaultInjectingStore faulty = new FaultInjectingStore(store);
        try (Arena arena = Arena.ofShared(); CacheTarget t = CacheTarget.open(config(Duration.ofMinutes(5)), faulty);
                Io io = new Io(t)) {
            assertThat(io.write(0, a, 0)).isEqualTo(BS);
            assertThat(io.flush()).isZero();

            // nothing uploads from here on: at the crash below, the journal alone holds the writes
            faulty.failNext(Op.PUT, Integer.MAX_VALUE);
            disk.full = true;
            CompletableFuture<Integer> wroteB = new CompletableFuture<>();
            CompletableFuture<Integer> wroteC = new CompletableFuture<>();
            assertThat(write(t, arena, BS, b, wroteB)).as("a write the full disk refused waits").isEqualTo(BlockTarget.PENDING);
            assertThat(write(t, arena, 2L * BS + 512, c, wroteC)).as("a later write waits behind it").isEqualTo(BlockTarget.PENDING);
            CompletableFuture<Integer> wroteD = new CompletableFuture<>();
            assertThat(write(t, arena, 4L * BS, IoFlags.FUA, b, wroteD)).as("a FUA write too").isEqualTo(BlockTarget.PENDING);
            Thread.sleep(500);
            assertThat(wroteB).as("nothing answered while the disk is full").isNotDone();
            assertThat(wroteC).isNotDone();
            assertThat(t.stopped()).as("the volume still serves").isNull();
            assertThat(t.stats().journalStalled()).isTrue();
            assertThat(t.stats().journalWriteFailures()).as("the first append and the retries").isGreaterThanOrEqualTo(2);
            assertThat(io.flush()).as("a FLUSH covers what was acknowledged, the full disk or not").isZero();
            assertThat(io.read(0, BS)).isEqualTo(a);

            disk.full = false;
            assertThat(wroteB.get(10, TimeUnit.SECONDS)).isEqualTo(IO);
            assertThat(wroteC.get(10, TimeUnit.SECONDS)).isEqualTo(IO);
            assertThat(wroteD.get(10, TimeUnit.SECONDS)).as("the FUA write, once durable").isEqualTo(IO);
            assertThat(t.stats().journalStalled()).isFalse();
            assertThat(io.write(3L * BS, a, 0)).as("writes go straight in again").isEqualTo(BS);
            assertThat(io.flush()).isZero();
            assertThat(io.read(BS, IO)).isEqualTo(b);
            assertThat(io.read(2L * BS + 512, IO)).isEqualTo(c);
            t.crash();
        }
        // the journal, with the torn record the full disk left, replays: everything fsynced is there
        try (CacheTarget t = CacheTarget.open(config(Duration.ofMinutes(5)), store); Io io = new Io(t)) {
            assertThat(io.read(0, BS)).isEqualTo(a);
            assertThat(io.read(BS, IO)).isEqualTo(b);
            assertThat(io.read(2L * BS + 512, IO)).isEqualTo(c);
            assertThat(io.read(3L * BS, BS)).isEqualTo(a);
            assertThat(io.read(4L * BS, IO)).isEqualTo(b);
            t.drain();
        }
    }

    @Test
    void aDiskThatStaysFullFailsTheWaitingWritesAtTheIoTimeoutAndTheVolumeServesOnceItHasSpace() throws Exception {
        byte[] b = pattern(4, IO);
        try (Arena arena = Arena.ofShared(); CacheTarget t = CacheTarget.open(config(Duration.ofMillis(300)), store);
                Io io = new Io(t)) {
            disk.full = true;
            CompletableFuture<Integer> first = new CompletableFuture<>();
            CompletableFuture<Integer> second = new CompletableFuture<>();
            assertThat(write(t, arena, 0, b, first)).isEqualTo(BlockTarget.PENDING);
            assertThat(write(t, arena, BS, b, second)).isEqualTo(BlockTarget.PENDING);
            assertThat(first.get(10, TimeUnit.SECONDS)).as("past --io-timeout").isEqualTo(-Requests.EIO);
            assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(-Requests.EIO);
            assertThat(t.stats().ioTimeouts()).isEqualTo(2);

            disk.full = false;
            assertThat(io.write(2L * BS, b, 0)).as("the first write once there is space").isEqualTo(IO);
            assertThat(io.flush()).isZero();
            assertThat(io.read(2L * BS, IO)).isEqualTo(b);
            assertThat(t.stopped()).isNull();
            assertThat(io.read(0, IO)).as("the write that timed out never landed").isEqualTo(new byte[IO]);
        }
    }

    /** Starts a write of {@code data} at {@code offset} from its own buffer; {@code done} gets a late answer. */
    private static int write(CacheTarget t, Arena arena, long offset, byte[] data, CompletableFuture<Integer> done) {
        return write(t, arena, offset, 0, data, done);
    }

    private static int write(CacheTarget t, Arena arena, long offset, int flags, byte[] data,
            CompletableFuture<Integer> done) {
        MemorySegment src = arena.allocate(data.length, 4096);
        MemorySegment.copy(data, 0, src, ValueLayout.JAVA_BYTE, 0, data.length);
        int r = t.write(offset, src, data.length, flags, 1, (tag, result) -> done.complete(result));
        if (r != BlockTarget.PENDING) {
            done.complete(r);
        }
        return r;
    }

    private static byte[] pattern(int seed, int length) {
        byte[] p = new byte[length];
        Arrays.fill(p, (byte) seed);
        new java.util.Random(seed).nextBytes(p);
        return p;
    }
}
