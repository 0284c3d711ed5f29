package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.s3.LocalObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several threads (as several workers would) write, flush and read their own regions at once
 * while the uploader runs rounds: each thread gets its own journal lane, and after a crash the
 * lanes are merged back by sequence number.
 */
class CacheConcurrencyTest {
    static final int BS = 32 * 1024;
    static final int THREADS = 4;
    static final int REGION = 16 * BS;

    @TempDir Path tmp;

    @Test
    void parallelWritersSurviveACrash() throws Exception {
        long seed = System.nanoTime();
        byte[] model = new byte[THREADS * REGION];
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("store"))) {
            CacheConfig c = CacheConfig.of(tmp.resolve("cache"), "v", model.length).withBlockSize(BS)
                    .withSizes(24L * BS, 8L * BS, 8L * BS).withUpload(Duration.ZERO, 2);
            CacheTarget t = CacheTarget.open(c, store);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> done = new ArrayList<>();
            for (int k = 0; k < THREADS; k++) {
                int thread = k;
                done.add(pool.submit(() -> {
                    Random r = new Random(seed + thread);
                    try (Io io = new Io(t)) {
                        for (int i = 0; i < 300; i++) {
                            int len = 512 * (1 + r.nextInt(2 * BS / 512));
                            int off = thread * REGION + 512 * r.nextInt((REGION - len) / 512 + 1);
                            byte[] d = new byte[len];
                            r.nextBytes(d);
                            assertThat(io.write(off, d, 0)).isEqualTo(len);
                            System.arraycopy(d, 0, model, off, len);
                            if (i % 50 == 0) {
                                assertThat(io.flush()).isZero();
                            }
                            int roff = thread * REGION + 512 * r.nextInt(REGION / 512 - 8);
                            assertThat(io.read(roff, 4096)).as("seed %d thread %d op %d", seed, thread, i)
                                    .isEqualTo(Arrays.copyOfRange(model, roff, roff + 4096));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
            assertThat(t.stats().uploadRounds()).isPositive();
            t.crash();
            try (CacheTarget again = CacheTarget.open(c.withSizes(24L * BS, 8L * BS, 8L * BS), store); Io io = new Io(again)) {
                assertThat(io.read(0, model.length)).as("seed %d", seed).isEqualTo(model);
                again.drain();
            }
            assertThat(StoreImage.read(store, "v")).as("seed %d", seed).isEqualTo(model);
        }
    }
}
