package io.ublk.blockcache.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.ublk.blockcache.cache.format.Checkpoint;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.volume.BlockIndex;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.FaultInjectingStore.Op;
import io.ublk.s3.ListPage;
import io.ublk.s3.LocalObjectStore;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.StoredObject;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Limits that a long uptime would reach, run on a forced-small space: segment ids (a few dozen,
 * where a process has millions) and the checkpoint part size (a few KiB, where it is tens of
 * MiB). Far more rounds than ids, with failed rounds among them, must keep uploading; a
 * checkpoint of many parts must open cold.
 */
class LongUptimeTest {
    static final int BS = 4096;
    static final int BLOCKS = 256;
    static final int SIZE = BLOCKS * BS;
    static final int IDS = 32;
    /** Blocks the rounds overwrite: at most this many live segments, plus the 4 written once. */
    static final int HOT = 12;

    @TempDir Path tmp;
    LocalObjectStore local;
    final Random random = new Random(7);
    final byte[] model = new byte[SIZE];

    @BeforeEach
    void setUp() {
        local = new LocalObjectStore(tmp.resolve("store"));
        System.setProperty(BlockIndex.ID_SPACE_PROPERTY, Integer.toString(IDS));
    }

    @AfterEach
    void tearDown() {
        System.clearProperty(BlockIndex.ID_SPACE_PROPERTY);
        local.close();
    }

    /** 4-block segments, uploads on drain, deletes after 20 ms, compaction as soon as 8 blocks are dead. */
    CacheConfig config(String cache) {
        return CacheConfig.of(tmp.resolve(cache), "vol", SIZE).withBlockSize(BS).withSizes(64L * BS, 16L * BS, 4L * BS)
                .withUpload(Duration.ofMinutes(10), 2)
                .withCompaction(new CacheConfig.Compaction(0.5, 8L * BS, Duration.ofMillis(20)));
    }

    @Test
    void segmentIdsNeverRunOutThoughFailedRoundsTakeThemToo() throws Exception {
        NamedGuard guard = new NamedGuard(local);
        FaultInjectingStore store = new FaultInjectingStore(guard);
        int rounds = 8 * IDS;
        try (CacheTarget t = CacheTarget.open(config("c"), store); Io io = new Io(t)) {
            // written once: their segments stay live all along, through every checkpoint
            for (int b = BLOCKS - 16; b < BLOCKS; b++) {
                write(io, b);
            }
            t.drain();
            store.failRandomly(0.1, 11, Op.PUT, Op.PUT_IF_ABSENT);
            for (int round = 0; round < rounds; round++) {
                // overwrites within HOT blocks, so the live segments stay fewer than the ids
                for (int k = 1 + random.nextInt(6); k > 0; k--) {
                    write(io, random.nextInt(HOT));
                }
                assertTimeoutPreemptively(Duration.ofSeconds(30), t::drain, "round " + round + " never committed");
            }
            store.failRandomly(0, 0);
            assertThat(t.stats().uploadFailures()).as("failed rounds").isPositive();
            assertThat(t.stats().segmentPuts()).as("segments uploaded").isGreaterThan(3L * IDS);
            assertThat(io.read(0, SIZE)).isEqualTo(model);
        }
        assertThat(guard.violations).as("deleted while the latest manifest named them").isEmpty();
        assertColdReadersSeeTheModel();
    }

    @Test
    void aCheckpointOfManyPartsOpensCold() throws Exception {
        System.setProperty(Checkpoint.PART_BYTES_PROPERTY, "2048");
        System.clearProperty(BlockIndex.ID_SPACE_PROPERTY);
        try (CacheTarget t = CacheTarget.open(config("c"), local); Io io = new Io(t)) {
            // 64 segments per pass: the chain is full after the first, so each later pass checkpoints
            for (int pass = 0; pass < 3; pass++) {
                for (int b = 0; b < BLOCKS; b++) {
                    write(io, b);
                }
                t.drain();
            }
            assertThat(t.stats().checkpointPuts()).as("checkpoint parts PUT").isGreaterThan(4);
            // ~12 KiB of entries and keys: several parts, every one named by the latest generation
            awaitOnlyTheLatestCheckpoint();
            assertThat(keys("vol/ckpt/")).hasSizeGreaterThan(3);
        } finally {
            System.clearProperty(Checkpoint.PART_BYTES_PROPERTY);
        }
        assertColdReadersSeeTheModel();
    }

    /** The store holds the latest checkpoint's parts and no other (once the grace period passed). */
    private void awaitOnlyTheLatestCheckpoint() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Set<String> stray;
        do {
            stray = keys("vol/ckpt/");
            stray.removeAll(named(local));
            if (!stray.isEmpty()) {
                Thread.sleep(20);
            }
        } while (!stray.isEmpty() && System.nanoTime() < deadline);
        assertThat(stray).as("checkpoint parts the latest generation does not name").isEmpty();
    }

    private Set<String> keys(String prefix) {
        Set<String> keys = new HashSet<>();
        Volume.await(local.listAll(prefix)).forEach(o -> keys.add(o.key()));
        return keys;
    }

    private void write(Io io, int block) {
        byte[] d = new byte[BS];
        random.nextBytes(d);
        assertThat(io.write((long) block * BS, d, 0)).isEqualTo(BS);
        System.arraycopy(d, 0, model, block * BS, BS);
    }

    private void assertColdReadersSeeTheModel() {
        assertThat(StoreImage.read(local, "vol")).isEqualTo(model);
        try (CacheTarget t = CacheTarget.open(config("cold"), local); Io io = new Io(t)) {
            assertThat(io.read(0, SIZE)).isEqualTo(model);
            assertThat(t.stats().checksumErrors()).isZero();
        }
    }

    /** Objects the latest generation names: its segments (chain and checkpoint's), and its checkpoint. */
    static Set<String> named(ObjectStore store) {
        Volume v;
        for (int attempt = 1; ; attempt++) {
            try {
                v = Volume.load(store, "vol", Volume.readHeader(store, "vol"), UUID.randomUUID(), new CacheStats());
                break;
            } catch (io.ublk.s3.ObjectNotFoundException e) {
                // a live cache (its idle compaction) committed and deleted history between list and GET: look again
                if (attempt == 5) {
                    throw e;
                }
            }
        }
        Set<String> named = new HashSet<>(v.chain);
        for (int id = 1; id < v.index.segmentLimit(); id++) {
            if (v.index.present(id)) {
                named.add(v.index.segment(id).key());
            }
        }
        for (int n = 0; n < v.checkpointParts; n++) {
            named.add(Keys.checkpointPart("vol", v.checkpoint, n));
        }
        return named;
    }

    /** Records every delete of an object the store's latest generation names (which no grace allows). */
    static final class NamedGuard implements ObjectStore {
        final List<String> violations = Collections.synchronizedList(new ArrayList<>());
        private final ObjectStore store;

        NamedGuard(ObjectStore store) {
            this.store = store;
        }

        private void check(List<String> keys) {
            Set<String> named = named(store);
            keys.stream().filter(named::contains).forEach(violations::add);
        }

        @Override public CompletableFuture<StoredObject> get(String key) { return store.get(key); }
        @Override public CompletableFuture<byte[]> getRange(String key, long offset, int length) { return store.getRange(key, offset, length); }
        @Override public CompletableFuture<String> put(String key, byte[] data) { return store.put(key, data); }
        @Override public CompletableFuture<String> put(String key, List<ByteBuffer> parts) { return store.put(key, parts); }
        @Override public CompletableFuture<String> putIfAbsent(String key, byte[] data) { return store.putIfAbsent(key, data); }
        @Override public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) { return store.putIfMatch(key, data, etag); }
        @Override public CompletableFuture<Void> delete(String key) { check(List.of(key)); return store.delete(key); }
        @Override public CompletableFuture<Void> deleteAll(List<String> keys) { check(keys); return store.deleteAll(keys); }
        @Override public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) { return store.list(prefix, continuation, maxKeys); }
        @Override public String describe() { return "named-guard of " + store.describe(); }
        @Override public void close() { store.close(); }
    }
}
