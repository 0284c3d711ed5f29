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
 * The heap the cache holds for block bytes stays within its budgets whatever the workload: checked
 * on the cache's own accounting ({@link CacheTarget#cleanBytes()}), which counts every block array
 * it keeps reachable.
 */
class CacheMemoryBoundsTest {
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
                most = Math.max(most, t.cleanBytes());
            }
            assertThat(t.stats().readMisses()).as("every block came from the store").isGreaterThanOrEqualTo(SIZE / BS);
            // one block beyond the budget: the read in flight
            assertThat(most).as("block bytes held by the clean cache and prefetches").isLessThanOrEqualTo(CLEAN + BS);
        }
    }
}
