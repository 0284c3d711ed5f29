package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.Requests;
import io.ublk.s3.LocalObjectStore;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A committed block whose bytes in the store are damaged is reported and contained: a partial
 * write to it cannot be merged, so that block is left out of its upload (its reads answer EIO),
 * every other block of the round uploads, and a write of the whole block heals it.
 */
class DamagedBlockTest {
    static final int BS = 128 * 1024;
    static final int IO = 4096;

    @TempDir Path tmp;
    LocalObjectStore store;

    @BeforeEach
    void store() {
        store = new LocalObjectStore(tmp.resolve("store"));
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    CacheConfig config(String cache) {
        return config(cache, 0);
    }

    /** A cache folder of its own; {@code size} 0 opens the volume as the store holds it. */
    CacheConfig config(String cache, long size) {
        return CacheConfig.of(tmp.resolve(cache), "vol", size).withSizes(32L * BS, 64L * BS, 8L * BS)
                .withUpload(Duration.ofMillis(10), 2);
    }

    @Test
    void aPartialWriteToADamagedBlockDoesNotStopTheOtherUploadsAndAWholeWriteHealsIt() throws Exception {
        byte[] b0 = random(1, BS);
        byte[] b1 = random(2, BS);
        try (CacheTarget t = CacheTarget.open(config("first", 16L * BS), store); Io io = new Io(t)) {
            assertThat(io.write(0, b0, 0)).isEqualTo(BS);
            t.drain(); // block 0 alone in the first segment
            assertThat(io.write(BS, b1, 0)).isEqualTo(BS);
            t.drain();
        }
        damageBlockZero();

        // a cache that never saw block 0: it must read the store to merge a write to part of it
        byte[] part = random(3, IO);
        byte[] whole2 = random(4, BS);
        byte[] part1 = random(5, IO);
        try (CacheTarget t = CacheTarget.open(config("second"), store); Io io = new Io(t)) {
            assertThat(io.write(512, part, 0)).isEqualTo(IO);
            assertThat(io.write(2L * BS, whole2, 0)).isEqualTo(BS);
            assertThat(io.write(BS + 8192, part1, 0)).isEqualTo(IO);
            assertThat(drainWithin(t, 30)).as("the round commits without the damaged block").isTrue();
            assertThat(t.stats().damagedBlocks()).isEqualTo(1);
            assertThat(t.stopped()).isNull();
            assertThat(io.tryRead(0, IO)).as("a read of the damaged block").isEqualTo(-Requests.EIO);
            byte[] want1 = b1.clone();
            System.arraycopy(part1, 0, want1, 8192, IO);
            assertThat(io.read(BS, BS)).as("the other partial block, merged and uploaded").isEqualTo(want1);
            assertThat(io.read(2L * BS, BS)).isEqualTo(whole2);

            byte[] healed = random(6, BS);
            assertThat(io.write(0, healed, 0)).isEqualTo(BS);
            assertThat(drainWithin(t, 30)).isTrue();
            assertThat(io.read(0, BS)).as("healed by a whole-block write").isEqualTo(healed);
        }
        try (CacheTarget t = CacheTarget.open(config("third"), store); Io io = new Io(t)) {
            assertThat(io.read(0, BS)).as("healed in the store too").isEqualTo(random(6, BS));
        }
    }

    private static boolean drainWithin(CacheTarget t, int seconds) throws Exception {
        CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> {
            try {
                t.drain();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            drained.get(seconds, TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        }
    }

    /** Flips a byte of block 0's payload, the last (only) one of the first segment. */
    private void damageBlockZero() throws Exception {
        Path seg;
        try (Stream<Path> s = Files.walk(tmp.resolve("store"))) {
            seg = s.filter(p -> p.toString().contains("/seg/") && Files.isRegularFile(p)).sorted().findFirst()
                    .orElseThrow();
        }
        long size = Files.size(seg);
        long at = size - BS + 100;
        try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            ch.read(one, at);
            one.put(0, (byte) (one.get(0) ^ 0x5a)).position(0);
            ch.write(one, at);
        }
    }

    private static byte[] random(int seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }
}
