package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Requests;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.FaultInjectingStore.Op;
import io.ublk.s3.LocalObjectStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A request that waits on a hung store, or for room the hung store cannot make, answers EIO after --io-timeout. */
class IoTimeoutTest {
    static final int BS = 128 * 1024;
    static final Duration TIMEOUT = Duration.ofMillis(300);

    @TempDir Path tmp;
    LocalObjectStore local;
    FaultInjectingStore store;

    @BeforeEach
    void store() {
        local = new LocalObjectStore(tmp.resolve("store"));
        store = new FaultInjectingStore(local);
    }

    @AfterEach
    void closeStore() {
        store.resume();
        local.close();
    }

    CacheConfig config(String cache, long size) {
        return CacheConfig.of(tmp.resolve(cache), "vol", size).withSizes(4L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMillis(10), 2).withIoTimeout(TIMEOUT);
    }

    @Test
    void aWriteWaitingForRoomTheHungStoreCannotMakeAnswersEioAfterTheTimeout() throws Exception {
        try (CacheTarget t = CacheTarget.open(config("w", 64L * BS), store); Io io = new Io(t)) {
            store.hang(Op.PUT);
            byte[] data = new byte[BS];
            for (int b = 0; b < 4; b++) {
                assertThat(io.write((long) b * BS, data, 0)).isEqualTo(BS);
            }
            CompletableFuture<Integer> queued = new CompletableFuture<>();
            MemorySegment src = Arena.ofAuto().allocate(BS);
            assertThat(t.write(4L * BS, src, BS, 0, 7, (tag, r) -> queued.complete(r))).isEqualTo(BlockTarget.PENDING);
            CompletableFuture<Integer> admitted = new CompletableFuture<>();
            assertThat(t.admit(5L * BS, BS, 8, (tag, r) -> admitted.complete(r))).isEqualTo(BlockTarget.PENDING);
            // before: both waited as long as the store hung
            assertThat(queued.get(10, TimeUnit.SECONDS)).as("the queued write").isEqualTo(-Requests.EIO);
            assertThat(admitted.get(10, TimeUnit.SECONDS)).as("the write asking for room").isEqualTo(-Requests.EIO);
            assertThat(t.stats().ioTimeouts()).isEqualTo(2);
            store.resume();
            t.drain();
            assertThat(io.write(4L * BS, data, 0)).as("a write once the store is back").isEqualTo(BS);
        }
    }

    @Test
    void aReadWaitingOnAHungStoreAnswersEioAfterTheTimeoutAndReadsOnceItIsBack() throws Exception {
        byte[] data = new byte[BS];
        new java.util.Random(5).nextBytes(data);
        try (CacheTarget t = CacheTarget.open(config("warm", 64L * BS), store); Io io = new Io(t)) {
            assertThat(io.write(0, data, 0)).isEqualTo(BS);
            t.drain();
        }
        try (CacheTarget t = CacheTarget.open(config("cold", 0), store); Io io = new Io(t)) {
            store.hang(Op.GET_RANGE);
            CompletableFuture<Integer> staged = new CompletableFuture<>();
            assertThat(t.prefetch(0, BS, 1, (tag, r) -> staged.complete(r))).isEqualTo(BlockTarget.PENDING);
            CompletableFuture<Integer> read = new CompletableFuture<>();
            MemorySegment dst = Arena.ofAuto().allocate(BS);
            assertThat(t.read(0, dst, BS, 2, (tag, r) -> read.complete(r))).isEqualTo(BlockTarget.PENDING);
            assertThat(staged.get(10, TimeUnit.SECONDS)).as("the prefetch").isEqualTo(-Requests.EIO);
            assertThat(read.get(10, TimeUnit.SECONDS)).as("the read").isEqualTo(-Requests.EIO);
            assertThat(t.stats().ioTimeouts()).isEqualTo(2);
            store.resume();
            assertThat(io.read(0, BS)).as("the block once the store answers").isEqualTo(data);
        }
    }
}
