package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalReplay;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.FaultInjectingStore.Op;
import io.ublk.s3.LocalObjectStore;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The heap and the journal disk the cache holds stay within their budgets whatever the workload:
 * checked on the cache's own accounting ({@link CacheStats#cleanBytes()}, which counts every block
 * array it keeps reachable; {@link CacheStats#dirtyMemory()}), on the heap a journal replay
 * retains, and on the journal files on disk.
 */
class CacheBoundsTest {
    static final int BS = 128 * 1024;
    /** The clean cache's floor is 64 blocks: the budget here. */
    static final long CLEAN = 64L * BS;
    /** Eight times the clean cache. */
    static final long SIZE = 8 * CLEAN;

    @TempDir java.nio.file.Path tmp;
    LocalObjectStore store;

    @BeforeEach
    void store() {
        store = new LocalObjectStore(tmp.resolve("store"));
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    CacheConfig config(String cache, long size) {
        return CacheConfig.of(tmp.resolve(cache), "vol", size).withSizes(64L * BS, CLEAN, 8L * BS)
                .withUpload(Duration.ofMillis(10), 2);
    }

    @Test
    void aColdSequentialReadOfAVolumeLargerThanTheCleanCacheStaysWithinIt() throws Exception {
        byte[] block = new byte[BS];
        try (CacheTarget t = CacheTarget.open(config("warm", SIZE), store); Io io = new Io(t)) {
            for (long at = 0; at < SIZE; at += BS) {
                new Random(at).nextBytes(block);
                assertThat(io.write(at, block, 0)).isEqualTo(BS);
            }
            t.drain();
        }
        try (CacheTarget t = CacheTarget.open(config("cold", 0), store); Io io = new Io(t)) {
            long most = 0;
            byte[] want = new byte[BS];
            for (long at = 0; at < SIZE; at += BS) {
                new Random(at).nextBytes(want);
                assertThat(io.read(at, BS)).as("block at %d", at).isEqualTo(want);
                most = Math.max(most, t.stats().cleanBytes());
            }
            assertThat(t.stats().readMisses()).as("every block came from the store").isGreaterThanOrEqualTo(SIZE / BS);
            // one block beyond the budget: the read in flight
            assertThat(most).as("block bytes held by the clean cache and prefetches").isLessThanOrEqualTo(CLEAN + BS);
        }
    }

    @Test
    void theJournalIsTrimmedAsUploadsCommitWithoutAnyFlush() throws Exception {
        long maxDirty = 16L * BS;
        CacheConfig config = CacheConfig.of(tmp.resolve("c"), "vol", 64L * BS).withSizes(maxDirty, CLEAN, 8L * BS)
                .withUpload(Duration.ofMillis(10), 2);
        byte[] data = new byte[BS];
        try (CacheTarget t = CacheTarget.open(config, store); Io io = new Io(t)) {
            long most = 0;
            Random r = new Random(3);
            // 24 rounds of 1 MiB of overwrites in the first 8 blocks: 3x the journal file size, no FLUSH or FUA
            for (int round = 0; round < 24; round++) {
                for (int b = 0; b < 8; b++) {
                    r.nextBytes(data);
                    assertThat(io.write((long) b * BS, data, 0)).isEqualTo(BS);
                }
                t.drain();
                // the gauge and the folder, each read as the idle uploader may be trimming
                most = Math.max(most, Math.max(t.stats().journalDiskBytes(), journalOnDisk(tmp.resolve("c").resolve("vol"))));
            }
            // what is uploaded leaves the journal: at most the lanes' open files stay (one each here)
            assertThat(most).as("journal bytes on disk, most seen").isLessThanOrEqualTo(maxDirty + 2 * config.journalFileBytes());
            assertThat(t.stats().journalSyncs()).as("no FLUSH ran").isZero();
        }
    }

    @Test
    void replayOfAJournalManyTimesTheDirtyMemoryStaysWithinIt() throws Exception {
        long dirtyMemory = 8L * BS; // 1 MiB
        long size = 12L << 20;
        CacheConfig config = CacheConfig.of(tmp.resolve("r"), "vol", size).withSizes(64L << 20, CLEAN, 8L * BS)
                .withDirtyMemory(dirtyMemory).withUpload(Duration.ofMillis(10), 2);
        byte[] model = new byte[(int) size];
        // in a method of its own, so that nothing of this first run stays reachable from this frame
        fillJournal(config, model);
        java.nio.file.Path journal = tmp.resolve("r").resolve("vol").resolve("journal");
        assertThat(journalOnDisk(journal)).isGreaterThan(8 * dirtyMemory);

        // what a replay of it holds on the heap, beyond the dirty table's own accounting
        long before = heapAfterGc();
        JournalReplay.Result replay = JournalReplay.replay(journal, 0);
        long held = heapAfterGc() - before;
        assertThat(replay.records()).isNotEmpty();
        assertThat(held).as("heap a replay retains").isLessThanOrEqualTo(BS);

        CacheConfig reopen = CacheConfig.of(tmp.resolve("r"), "vol", 0).withSizes(64L << 20, CLEAN, 8L * BS)
                .withDirtyMemory(dirtyMemory).withUpload(Duration.ofMillis(10), 2);
        try (CacheTarget t = CacheTarget.open(reopen, store); Io io = new Io(t)) {
            assertThat(t.stats().dirtyMemory()).as("dirty bytes in memory after the replay").isLessThanOrEqualTo(dirtyMemory + BS);
            assertThat(t.stats().spilledBlocks()).as("blocks left in the journal").isPositive();
            readsBack(io, model);
            t.drain();
            readsBack(io, model);
        }
        try (CacheTarget t = CacheTarget.open(reopen, store)) {
            // the same folder again: nothing left to replay
            assertThat(t.stats().dirtyBytes()).isZero();
        }
        CacheConfig cold = CacheConfig.of(tmp.resolve("cold"), "vol", 0).withSizes(64L << 20, CLEAN, 8L * BS)
                .withDirtyMemory(dirtyMemory);
        try (CacheTarget t = CacheTarget.open(cold, store); Io io = new Io(t)) {
            readsBack(io, model);
        }
    }

    /** Writes {@code model.length} bytes and more through a cache whose uploads all fail, then closes it. */
    void fillJournal(CacheConfig config, byte[] model) {
        long size = model.length;
        // every segment PUT fails: the whole 12 MiB and more (about 24 MiB) stays in the journal
        FaultsByKey failing = new FaultsByKey(store, "/seg/");
        failing.faults.failNext(Op.PUT, Integer.MAX_VALUE);
        try (CacheTarget t = CacheTarget.open(config, failing); Io io = new Io(t)) {
            Random r = new Random(17);
            for (long at = 0; at < size; at += BS) {
                byte[] b = new byte[BS];
                r.nextBytes(b);
                assertThat(io.write(at, b, 0)).isEqualTo(BS);
                System.arraycopy(b, 0, model, (int) at, BS);
            }
            // then sub-block overwrites, write-zeroes and discards, so that the newest of several records wins
            for (int op = 0; op < 300; op++) {
                int len = (1 + r.nextInt(2 * BS / 512)) * 512;
                int at = r.nextInt((int) (size - len) / 512) * 512;
                int kind = r.nextInt(10);
                if (kind < 7) {
                    byte[] b = new byte[len];
                    r.nextBytes(b);
                    assertThat(io.write(at, b, 0)).isEqualTo(len);
                    System.arraycopy(b, 0, model, at, len);
                } else {
                    int n = kind < 9 ? io.discard(at, len) : Io.await((tag, done) -> t.writeZeroes(at, len, 0, tag, done));
                    assertThat(n).isZero();
                    java.util.Arrays.fill(model, at, at + len, (byte) 0);
                }
            }
            assertThat(io.flush()).isZero();
            assertThat(t.stats().uploadRounds()).as("nothing reached the store").isZero();
        }
    }

    static void readsBack(Io io, byte[] model) {
        for (int at = 0; at < model.length; at += 4 * BS) {
            assertThat(io.read(at, 4 * BS)).as("bytes at %d", at)
                    .isEqualTo(java.util.Arrays.copyOfRange(model, at, at + 4 * BS));
        }
    }

    static long heapAfterGc() {
        var memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    static long journalOnDisk(java.nio.file.Path volumeDir) throws java.io.IOException {
        try (var files = java.nio.file.Files.walk(volumeDir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jnl")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    /** A 64-block volume whose dirty bound (and so journal bound) is 4 blocks, uploading every 10 ms. */
    CacheConfig fourBlocksDirty(String cache) {
        return CacheConfig.of(tmp.resolve(cache), "vol", 64L * BS).withSizes(4L * BS, CLEAN, 4L * BS)
                .withUpload(Duration.ofMillis(10), 2);
    }

    @Test
    void aWriteAsksForRoomBeforeItsSlotWhileTheDirtyBoundIsReachedAndIsAdmittedOnceUploadsMakeRoom() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(store);
        CacheConfig config = fourBlocksDirty("c");
        byte[] data = new byte[BS];
        try (CacheTarget t = CacheTarget.open(config, faulty); Io io = new Io(t)) {
            assertThat(t.admit(0, BS, 1, (tag, r) -> {})).as("room: admitted at once").isZero();
            faulty.hang(FaultInjectingStore.Op.PUT); // the store stalls: segments do not land
            for (int b = 0; b < 4; b++) {
                assertThat(io.write((long) b * BS, data, 0)).isEqualTo(BS);
            }
            java.util.concurrent.CompletableFuture<Integer> admitted = new java.util.concurrent.CompletableFuture<>();
            assertThat(t.admit(4L * BS, BS, 2, (tag, r) -> admitted.complete(r))).isEqualTo(BlockTarget.PENDING);
            Thread.sleep(300);
            assertThat(admitted).as("admitted while the bound is reached").isNotDone();
            faulty.resume();
            assertThat(admitted.get(10, java.util.concurrent.TimeUnit.SECONDS)).isZero();
            assertThat(io.write(4L * BS, data, 0)).isEqualTo(BS);
        }
    }
    @Test
    void overwritesDuringAStoreOutageWaitAtTheJournalBoundAndAllLandOnceItIsBack() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(store);
        CacheConfig config = fourBlocksDirty("j");
        int writes = 20;
        java.util.List<java.util.concurrent.CompletableFuture<Integer>> answers = new java.util.ArrayList<>();
        try (CacheTarget t = CacheTarget.open(config, faulty); Io io = new Io(t)) {
            faulty.hang(Op.PUT); // the store stalls: nothing commits, so nothing leaves the journal
            int queued = 0;
            for (int i = 0; i < writes; i++) {
                // one block overwritten again and again: one dirty block, but a journal record each
                java.lang.foreign.MemorySegment src = java.lang.foreign.Arena.ofAuto().allocate(BS);
                src.fill((byte) (i + 1));
                java.util.concurrent.CompletableFuture<Integer> answer = new java.util.concurrent.CompletableFuture<>();
                int r = t.write(0, src, BS, 0, i, (tag, res) -> answer.complete(res));
                if (r == BlockTarget.PENDING) {
                    queued++;
                } else {
                    answer.complete(r);
                }
                answers.add(answer);
            }
            // before: all 20 answered at once, 20 blocks of journal for one dirty block
            assertThat(t.stats().dirtyBytes()).isEqualTo(BS);
            // writes go in while the journal bytes not committed are under the bound, one record each
            long record = BS + JournalRecord.HEADER;
            long admitted = (config.maxJournalBytes() + record - 1) / record;
            assertThat(queued).as("writes that waited for journal room").isEqualTo(writes - (int) admitted);
            long pendingAtMost = config.maxJournalBytes() + BS + 64;
            assertThat(t.stats().journalPendingBytes()).isLessThanOrEqualTo(pendingAtMost);
            assertThat(journalOnDisk(tmp.resolve("j").resolve("vol"))).as("journal on disk in the outage")
                    .isLessThanOrEqualTo(pendingAtMost + 4096);
            faulty.resume();
            for (var a : answers) {
                assertThat(a.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(BS);
            }
            t.drain();
            byte[] want = new byte[BS];
            java.util.Arrays.fill(want, (byte) writes);
            assertThat(io.read(0, BS)).as("the last write wins").isEqualTo(want);
            assertThat(t.stats().journalPendingBytes()).as("journal bytes not committed, after the drain").isZero();
        }
    }
}
