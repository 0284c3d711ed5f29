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

    /**
     * Block arrays are reused (an evicted clean block's, a spilled or merged version's) while
     * readers may still be copying from them: no read may ever see another block's bytes. Every
     * 512-byte sector carries its block number; writers rewrite whole blocks, readers check each
     * sector they get, while the uploader commits, evicts and reuses as fast as it can.
     */
    @Test
    void readersNeverSeeAReusedArraysNewBytes() throws Exception {
        int bs = 128 * 1024;
        int blocks = 320;
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("store"))) {
            // a clean cache of 64 blocks over 320: commits evict all the time
            CacheConfig c = CacheConfig.of(tmp.resolve("cache"), "v", (long) blocks * bs)
                    .withSizes(64L * bs, 8L << 20, 4L << 20).withDirtyMemory(32L * bs).withUpload(Duration.ZERO, 2);
            try (CacheTarget t = CacheTarget.open(c, store)) {
                long until = System.nanoTime() + Duration.ofSeconds(4).toNanos();
                ExecutorService pool = Executors.newFixedThreadPool(4);
                List<Future<long[]>> done = new ArrayList<>();
                for (int k = 0; k < 4; k++) {
                    boolean writer = k < 2;
                    int thread = k;
                    done.add(pool.submit(() -> {
                        Random r = new Random(thread);
                        long ops = 0;
                        try (Io io = new Io(t.lane(thread))) {
                            byte[] block = new byte[bs];
                            while (System.nanoTime() < until) {
                                int b = r.nextInt(blocks);
                                if (writer) {
                                    r.nextBytes(block);
                                    for (int s = 0; s < bs; s += 512) {
                                        java.nio.ByteBuffer.wrap(block, s, 8).putLong(b);
                                    }
                                    assertThat(io.write((long) b * bs, block, 0)).isEqualTo(bs);
                                } else {
                                    byte[] got = io.read((long) b * bs, bs);
                                    for (int s = 0; s < bs; s += 512) {
                                        long stamp = java.nio.ByteBuffer.wrap(got, s, 8).getLong();
                                        // 0: never written yet (zeros)
                                        if (stamp != b && stamp != 0) {
                                            throw new AssertionError("read of block " + b + " found sector " + s / 512
                                                    + " of block " + stamp);
                                        }
                                    }
                                }
                                ops++;
                            }
                        }
                        return new long[] {ops};
                    }));
                }
                long ops = 0;
                for (Future<long[]> f : done) {
                    ops += f.get()[0];
                }
                pool.shutdown();
                assertThat(ops).isGreaterThan(100);
                assertThat(t.stats().uploadRounds()).isGreaterThan(2);
                assertThat(t.arrays().reuses()).as("arrays reused").isGreaterThan(10);
            }
        }
    }

    /** Many reads at once over more blocks than the clean cache holds: every one must answer its bytes. */
    @Test
    void concurrentReadsThroughAThrashingCleanCacheNeverFail() throws Exception {
        int bs = 128 * 1024;
        int blocks = 256;
        byte[] model = new byte[blocks * bs];
        new Random(5).nextBytes(model);
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("store"))) {
            CacheConfig c = CacheConfig.of(tmp.resolve("cache"), "v", model.length)
                    .withSizes(64L * bs, 8L << 20, 2L << 20).withUpload(Duration.ofMillis(200), 2);
            try (CacheTarget t = CacheTarget.open(c, store); Io io = new Io(t)) {
                for (int off = 0; off < model.length; off += 16 * bs) {
                    io.write(off, Arrays.copyOfRange(model, off, off + 16 * bs), 0);
                }
                t.drain();
            }
            // a cold folder: every block comes from the store, through a cache of 64 blocks
            try (CacheTarget t = CacheTarget.open(c.withSizes(64L * bs, 8L << 20, 2L << 20), store)) {
                ExecutorService pool = Executors.newFixedThreadPool(16);
                List<Future<?>> done = new ArrayList<>();
                for (int k = 0; k < 16; k++) {
                    int thread = k;
                    done.add(pool.submit(() -> {
                        Random r = new Random(thread);
                        try (Io io = new Io(t.lane(thread))) {
                            for (int i = 0; i < 64; i++) {
                                int len = r.nextBoolean() ? bs : 64 * 1024;
                                int off = 512 * r.nextInt((model.length - len) / 512);
                                assertThat(io.read(off, len)).isEqualTo(Arrays.copyOfRange(model, off, off + len));
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                pool.shutdown();
                assertThat(t.stats().readMisses()).isGreaterThan(64);
            }
        }
    }

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
                    try (Io io = new Io(t.lane(thread))) {
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
