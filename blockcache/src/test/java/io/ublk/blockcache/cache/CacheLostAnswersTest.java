package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.FaultInjectingStore.Op;
import io.ublk.s3.LocalObjectStore;
import io.ublk.s3.ObjectInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * PUTs whose answer is lost though the store applied them (a dropped connection), on each kind
 * of object a round writes. The writer must take what landed for its own work, never for
 * another writer's: after each, the volume goes on taking writes and FLUSH, drain completes, a
 * cold reader sees exactly the written bytes, and no object is left that nothing names.
 */
class CacheLostAnswersTest {
    static final int BS = 128 * 1024;
    static final int BLOCKS = 64;
    static final int SIZE = BLOCKS * BS;

    @TempDir Path tmp;
    LocalObjectStore local;
    final Random random = new Random(20);
    final byte[] model = new byte[SIZE];

    @BeforeEach
    void store() {
        local = new LocalObjectStore(tmp.resolve("store"));
    }

    @AfterEach
    void closeStore() {
        local.close();
    }

    /** 4-block segments, uploads only on drain, deletes at once, no compaction unless asked. */
    CacheConfig config(String cache) {
        return CacheConfig.of(tmp.resolve(cache), "vol", SIZE).withSizes(16L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMinutes(10), 2)
                .withCompaction(new CacheConfig.Compaction(0.5, Long.MAX_VALUE, Duration.ZERO));
    }

    @Test
    void lostSegmentAnswersAreRetriedUnderTheSameKeys() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/seg/");
        try (CacheTarget t = CacheTarget.open(config("c"), store); Io io = new Io(t)) {
            store.faults.loseNextAnswers(Op.PUT, 2);
            write(io, 0, 12);
            t.drain();
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void lostCheckpointAnswerOfARoundIsRetried() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/ckpt/");
        try (CacheTarget t = CacheTarget.open(config("c"), store); Io io = new Io(t)) {
            store.faults.loseNextAnswers(Op.PUT, 1);
            // one segment per round: past 64 in the chain, a round writes a checkpoint
            for (int round = 0; round < 70; round++) {
                write(io, round % 16, 1);
                t.drain();
            }
            assertThat(t.stats().checkpointPuts()).isPositive();
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void lostCheckpointAnswerOfACompactionIsRetried() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/ckpt/");
        try (CacheTarget t = CacheTarget.open(compacting(), store); Io io = new Io(t)) {
            store.faults.loseNextAnswers(Op.PUT, 1);
            makeGarbage(t, io);
            awaitCompaction(t);
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void lostManifestAnswerIsThisWritersOwnCommit() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/man/");
        try (CacheTarget t = CacheTarget.open(config("c"), store); Io io = new Io(t)) {
            store.faults.loseNextAnswers(Op.PUT_IF_ABSENT, 1);
            write(io, 0, 12);
            t.drain();
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void manifestAnswersLostOnEveryRetryStillCommitOnce() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/man/");
        try (CacheTarget t = CacheTarget.open(config("c"), store); Io io = new Io(t)) {
            long before = t.generation();
            // the first lands; the retries get 412 from the store, and lose that answer too
            store.faults.loseNextAnswers(Op.PUT_IF_ABSENT, 3);
            write(io, 0, 6);
            t.drain();
            assertThat(t.stats().uploadFailures()).isGreaterThanOrEqualTo(3);
            assertThat(t.generation()).isEqualTo(before + 1);
            assertThat(StoreImage.generation(local, "vol")).isEqualTo(before + 1);
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void lostManifestAnswerWhileLaterEpochsSpillIsStillOwnCommit() throws Exception {
        FaultsByKey store = new FaultsByKey(local, "/man/");
        // uploads at once, 4 blocks of dirty memory: the retried round reads spilled blocks back
        CacheConfig c = config("c").withSizes(48L * BS, 8L * BS, 4L * BS).withDirtyMemory(4L * BS)
                .withUpload(Duration.ZERO, 2);
        try (CacheTarget t = CacheTarget.open(c, store); Io io = new Io(t)) {
            store.faults.loseNextAnswers(Op.PUT_IF_ABSENT, 2);
            for (int b = 0; b < 40; b++) {
                // every third block partly written: merged with committed bytes on each attempt
                write(io, b, 1, b % 3 == 0 ? 8192 : 0, b % 3 == 0 ? 4096 : BS);
            }
            t.drain();
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    /**
     * A compaction's manifest lands, its answer is lost; the next commit at that generation is a
     * different one (a new compaction, or a round), with other segment keys and another body.
     * The 412 it gets is from this writer: not a fence.
     */
    @Test
    void lostCompactionManifestAnswerIsNotAnotherWriter() throws Exception {
        FaultsByKey manifests = new FaultsByKey(local, "/man/");
        FaultsByKey store = new FaultsByKey(manifests, "/ckpt/");
        // a compaction writes its checkpoint just before its manifest: lose that manifest's answer
        AtomicBoolean once = new AtomicBoolean(true);
        store.beforePut = key -> {
            if (once.getAndSet(false)) {
                manifests.faults.loseNextAnswers(Op.PUT_IF_ABSENT, 1);
            }
        };
        try (CacheTarget t = CacheTarget.open(compacting(), store); Io io = new Io(t)) {
            makeGarbage(t, io);
            awaitCompaction(t);
            assertThat(once).isFalse();
            assertThat(t.stats().uploadFailures()).isPositive();
            keepsWorking(t, io);
            assertNothingUnnamed();
        }
        assertColdReadersSeeTheModel();
    }

    @Test
    void anotherWritersManifestStillFences() throws Exception {
        try (CacheTarget t = CacheTarget.open(config("c"), local); Io io = new Io(t)) {
            write(io, 0, 2);
            t.drain();
            // a writer that ignores the lease (an older server, a broken clock) claims the next generation
            Volume other = Volume.load(local, "vol",
                    Volume.readHeader(local, "vol"), java.util.UUID.randomUUID(),
                    new CacheStats());
            assertThat(other.claim()).isTrue();
            write(io, 2, 1);
            assertThatThrownBy(t::drain).isInstanceOf(IllegalStateException.class).hasMessageContaining("another writer");
            assertThat(io.write(0, new byte[4096], 0)).isEqualTo(-5);
        }
    }

    // ---- helpers

    /** Compaction as soon as two blocks are garbage. */
    private CacheConfig compacting() {
        return config("c").withCompaction(new CacheConfig.Compaction(0.5, 2L * BS, Duration.ZERO));
    }

    /** Two rounds: a full segment, then three of its four blocks again (it keeps one live). */
    private void makeGarbage(CacheTarget t, Io io) throws InterruptedException {
        write(io, 0, 4);
        t.drain();
        write(io, 0, 3);
        t.drain();
    }

    private static void awaitCompaction(CacheTarget t) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (t.stats().compactions() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(t.stats().compactions()).isPositive();
    }

    private void write(Io io, int first, int count) {
        for (int b = first; b < first + count; b++) {
            write(io, b, 1, 0, BS);
        }
    }

    private void write(Io io, int block, int count, int at, int length) {
        byte[] d = new byte[length];
        random.nextBytes(d);
        long off = (long) block * BS + at;
        assertThat(io.write(off, d, 0)).isEqualTo(length);
        System.arraycopy(d, 0, model, (int) off, length);
    }

    /** Writes, FLUSH and drain still work, and the volume reads the model. */
    private void keepsWorking(CacheTarget t, Io io) throws InterruptedException {
        write(io, 40, 5);
        assertThat(io.flush()).isZero();
        t.drain();
        assertThat(t.stats().dirtyBytes()).isZero();
        assertThat(io.read(0, SIZE)).isEqualTo(model);
    }

    /** The store holds no segment or checkpoint the latest generation does not name (once deletes ran). */
    private void assertNothingUnnamed() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Set<String> unnamed;
        do {
            Volume v = Volume.load(local, "vol", Volume.readHeader(local, "vol"), UUID.randomUUID(), new CacheStats());
            Set<String> named = new HashSet<>();
            for (int id = 1; id < v.index.segmentLimit(); id++) {
                named.add(v.index.segment(id).key());
            }
            for (int n = 0; n < v.checkpointParts; n++) {
                named.add(Keys.checkpointPart("vol", v.checkpoint, n));
            }
            unnamed = keys("vol/seg/");
            unnamed.addAll(keys("vol/ckpt/"));
            unnamed.removeAll(named);
            if (!unnamed.isEmpty()) {
                Thread.sleep(20);
            }
        } while (!unnamed.isEmpty() && System.nanoTime() < deadline);
        assertThat(unnamed).as("objects no generation names").isEmpty();
    }

    private Set<String> keys(String prefix) {
        return Volume.await(local.listAll(prefix)).stream().map(ObjectInfo::key).collect(Collectors.toCollection(HashSet::new));
    }

    private void assertColdReadersSeeTheModel() {
        assertThat(StoreImage.read(local, "vol")).isEqualTo(model);
        try (CacheTarget t = CacheTarget.open(config("cold"), local); Io io = new Io(t)) {
            assertThat(io.read(0, SIZE)).isEqualTo(model);
            assertThat(t.stats().checksumErrors()).isZero();
        }
    }
}
