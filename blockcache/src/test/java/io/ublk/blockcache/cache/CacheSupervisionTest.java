package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.Requests;
import io.ublk.blockcache.cache.volume.WriterLease;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.LocalObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every per-volume loop survives what it catches, or moves the volume to a failed state that answers EIO: nothing waits forever. */
class CacheSupervisionTest {
    static final int BS = 128 * 1024;

    @TempDir Path tmp;
    LocalObjectStore local;
    CountingStore store;

    @BeforeEach
    void store() {
        local = new LocalObjectStore(tmp.resolve("store"));
        store = new CountingStore(local);
    }

    @AfterEach
    void closeStore() {
        local.close();
    }

    CacheConfig config() {
        return CacheConfig.of(tmp.resolve("c"), "vol", 64L * BS).withSizes(8L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMillis(10), 2);
    }

    @Test
    void anErrorThatKillsTheUploadersTurnFailsTheVolumeInsteadOfHangingItsWrites() throws Exception {
        try (CacheTarget t = CacheTarget.open(config(), store); Io io = new Io(t, t::stopped)) {
            store.throwOnNextPut = new OutOfMemoryError("injected: Java heap space");
            byte[] b = new byte[BS];
            new Random(1).nextBytes(b);
            // more than --max-dirty: the writes past it wait for the uploader, which met the error
            int eio = 0;
            long t0 = System.nanoTime();
            for (int i = 0; i < 24 && eio == 0; i++) {
                int r = io.write((long) (i % 64) * BS, b, 0);
                if (r == -Requests.EIO) {
                    eio++;
                } else {
                    assertThat(r).isEqualTo(BS);
                }
            }
            assertThat(eio).as("a write answered EIO once the volume failed").isPositive();
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).as("seconds until then").isLessThan(30);
            assertThat(t.stopped()).contains("uploader").contains("Java heap space");
            assertThat(t.stats().failed()).as("the failed gauge").isTrue();
            assertThat(io.flush()).isEqualTo(-Requests.EIO);
            assertThat(t.stats().uploadFailures()).isPositive();
        }
    }

    @Test
    void aRuntimeExceptionInAnUploadersTurnIsRetriedAndUploadsGoOn() throws Exception {
        try (CacheTarget t = CacheTarget.open(config(), store); Io io = new Io(t, t::stopped)) {
            // an unchecked failure raised by the store client itself, outside any future
            store.throwOnNextPut = new IllegalStateException("injected: a bug in the store client");
            byte[] b = new byte[BS];
            new Random(2).nextBytes(b);
            assertThat(io.write(0, b, 0)).isEqualTo(BS);
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> {
                try {
                    t.drain();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            drained.get(30, TimeUnit.SECONDS);
            assertThat(store.throwOnNextPut).as("the injected failure was met").isNull();
            assertThat(t.stats().uploadFailures()).isPositive();
            assertThat(t.stopped()).isNull();
            assertThat(t.stats().failed()).isFalse();
            assertThat(io.flush()).isZero();
        }
    }

    @Test
    void aLeaseRenewalThatThrowsIsRetriedAndRenewalsGoOn() throws Exception {
        CacheConfig c = config().withLease(WriterLease.Terms.of(Duration.ofSeconds(1)));
        try (CacheTarget t = CacheTarget.open(c, store); Io io = new Io(t, t::stopped)) {
            store.throwOnNextPutIfMatch = new OutOfMemoryError("injected: thrown by the store client");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (store.throwOnNextPutIfMatch != null || t.stats().leaseRenewals() < 3) {
                assertThat(System.nanoTime()).as("renewals after the throw").isLessThan(deadline);
                Thread.sleep(50);
            }
            assertThat(t.stats().leaseRenewFailures()).isPositive();
            assertThat(io.flush()).isZero();
        }
    }

    // ---- compaction

    /** Segments of 4 blocks; any segment with a dead block is worth compacting; deletes at once. */
    CacheConfig compacting(String cache) {
        return CacheConfig.of(tmp.resolve(cache), "vol", 64L * BS).withSizes(16L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMinutes(10), 2) // rounds only at drain: one epoch, whole segments
                .withCompaction(new CacheConfig.Compaction(1.0, 1, Duration.ZERO))
                .withLease(WriterLease.Terms.of(Duration.ofSeconds(1)));
    }

    /**
     * Writes blocks 0-7 (two segments of 4), commits, overwrites block 0 and commits: a segment is
     * then 3/4 live. The first writes leave a sector of each block out: a merged block is not kept
     * in the clean cache, so the compaction must read its live blocks from the store.
     */
    static void makeGarbage(CacheTarget t, Io io) throws InterruptedException {
        byte[] part = new byte[BS - 512];
        for (int i = 0; i < 8; i++) {
            new Random(i).nextBytes(part);
            assertThat(io.write((long) i * BS, part, 0)).isEqualTo(part.length);
        }
        byte[] b = new byte[BS];
        t.drain();
        new Random(99).nextBytes(b);
        assertThat(io.write(0, b, 0)).isEqualTo(BS);
        t.drain();
    }

    @Test
    void aCompactionThatKeepsFailingBacksOff() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(local);
        try (CacheTarget t = CacheTarget.open(compacting("c"), faulty); Io io = new Io(t, t::stopped)) {
            // the compaction's block reads fail: nothing else reads here
            faulty.failRandomly(1.0, 5, FaultInjectingStore.Op.GET_RANGE);
            makeGarbage(t, io);
            int before = faulty.injected();
            Thread.sleep(3000);
            // an attempt reads the 3 live blocks of the sparse segment at once: 3 failed reads each
            int failedReads = faulty.injected() - before;
            // every idle turn (50 ms) retried before: ~60 attempts in 3 s
            assertThat(failedReads).as("failed block reads of compaction attempts in 3 s of failures").isBetween(1, 12);
            faulty.failRandomly(0, 5);
            assertThat(t.stopped()).isNull();
        }
    }

    @Test
    void aCompactionReadsOnlyTheLiveBlocksOfItsSegments() throws Exception {
        CountingStore counted = new CountingStore(local);
        try (CacheTarget t = CacheTarget.open(compacting("live"), counted); Io io = new Io(t, t::stopped)) {
            int gets = counted.gets.get();
            int ranges = counted.rangeGets.get();
            makeGarbage(t, io);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (t.stats().compactions() == 0) {
                assertThat(System.nanoTime()).as("a compaction ran").isLessThan(deadline);
                Thread.sleep(20);
            }
            // before: the whole segment object (4 blocks and a header) in one GET, held until the commit
            assertThat(counted.gets.get() - gets).as("whole-object GETs").isZero();
            assertThat(counted.rangeGets.get() - ranges).as("block reads: the 3 live blocks").isEqualTo(3);
            byte[] back = new byte[BS - 512];
            for (int i = 1; i < 4; i++) {
                new Random(i).nextBytes(back);
                assertThat(io.read((long) i * BS, BS - 512)).as("block %d after the move", i).isEqualTo(back);
            }
        }
    }

    @Test
    void aRoundReadsTheCommittedBlocksItMergesWithAllAtOnce() throws Exception {
        CountingStore counted = new CountingStore(local);
        try (CacheTarget t = CacheTarget.open(compacting("merge"), counted); Io io = new Io(t, t::stopped)) {
            byte[] head = new byte[BS - 512];
            for (int i = 0; i < 4; i++) {
                new Random(i).nextBytes(head);
                assertThat(io.write((long) i * BS, head, 0)).isEqualTo(head.length);
            }
            t.drain(); // merged with zeros: committed, not kept in the clean cache
            counted.rangeDelayMillis = 200;
            byte[] tail = new byte[512];
            for (int i = 0; i < 4; i++) {
                new Random(10 + i).nextBytes(tail);
                assertThat(io.write((long) i * BS + BS - 512, tail, 0)).isEqualTo(512);
            }
            t.drain(); // each block merges with its committed bytes: one segment, 4 store reads
            // before: one read after the other (a round of N partial blocks took N store latencies)
            assertThat(counted.maxRangesInFlight.get()).as("merge reads in flight at once").isEqualTo(4);
            counted.rangeDelayMillis = 0;
            for (int i = 0; i < 4; i++) {
                byte[] want = new byte[BS];
                new Random(i).nextBytes(head);
                new Random(10 + i).nextBytes(tail);
                System.arraycopy(head, 0, want, 0, head.length);
                System.arraycopy(tail, 0, want, BS - 512, 512);
                assertThat(io.read((long) i * BS, BS)).as("block %d", i).isEqualTo(want);
            }
        }
    }

    @Test
    void aFencedWritersCompactionStopsInsteadOfPuttingSegmentsForever() throws Exception {
        FaultInjectingStore faultyA = new FaultInjectingStore(local);
        CountingStore a = new CountingStore(faultyA);
        try (CacheTarget ta = CacheTarget.open(compacting("a"), a); Io ia = new Io(ta, ta::stopped)) {
            faultyA.failRandomly(1.0, 6, FaultInjectingStore.Op.GET_RANGE); // holds A's compaction off
            makeGarbage(ta, ia);
            // B never compacts, so A's compaction finds its segments and reaches the manifest, B's by then
            CacheConfig never = compacting("b").withCompaction(new CacheConfig.Compaction(1.0, Long.MAX_VALUE, Duration.ZERO));
            try (CacheTarget tb = CacheTarget.open(never, local, OpenOptions.DEFAULT.withTakeover())) {
                faultyA.failRandomly(0, 6); // A's compaction runs now, against B's newer manifest
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                int segments = a.plainPuts.get();
                while (a.plainPuts.get() == segments) {
                    assertThat(System.nanoTime()).as("A's compaction tried").isLessThan(deadline);
                    Thread.sleep(20);
                }
                Thread.sleep(500);
                int calls = a.calls();
                Thread.sleep(3000);
                // before: a retry every 50 ms, each a segment PUT and a manifest PUT that failed again
                assertThat(a.calls() - calls).as("A's store calls in 3 s after its compaction met B's manifest")
                        .isZero();
                assertThat(tb.stopped()).isNull();
            }
        }
    }
}
