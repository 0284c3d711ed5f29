package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.s3.LocalObjectStore;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The heap and the journal disk the cache holds stay within their budgets whatever the workload:
 * checked on the cache's own accounting ({@link CacheStats#cleanBytes()}, which counts every block
 * array it keeps reachable) and on the journal files on disk.
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

    static long journalOnDisk(java.nio.file.Path volumeDir) throws java.io.IOException {
        try (var files = java.nio.file.Files.walk(volumeDir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jnl")).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
