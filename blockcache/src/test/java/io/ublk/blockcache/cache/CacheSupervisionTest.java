package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.Requests;
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
        CacheConfig c = config().withLease(io.ublk.blockcache.cache.volume.WriterLease.Terms.of(Duration.ofSeconds(1)));
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
}
