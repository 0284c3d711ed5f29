package io.ublk.blockcache.cache;

import io.ublk.blockcache.IoFlags;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.LocalObjectStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CacheTargetTest {
    static final int BS = 128 * 1024;
    static final long SIZE = 64L * BS;

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

    CacheConfig config(String cache, long size) {
        return CacheConfig.of(tmp.resolve(cache), "vol", size)
                .withSizes(16L * BS, 8L * BS, 4L * BS)
                .withUpload(Duration.ofMinutes(10), 2);
    }

    static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void newVolumeReadsZerosWithoutStoreCalls() {
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            store.reset();
            assertThat(io.read(0, BS)).isEqualTo(new byte[BS]);
            assertThat(io.read(SIZE - 512, 512)).isEqualTo(new byte[512]);
            assertThat(store.calls()).isZero();
        }
    }

    @Test
    void subBlockWritesMergeWithCommittedData() throws Exception {
        Random r = new Random(1);
        byte[] model = new byte[(int) SIZE];
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            byte[] a = random(r, 3 * BS);
            assertThat(io.write(BS, a, 0)).isEqualTo(a.length);
            System.arraycopy(a, 0, model, BS, a.length);
            t.drain();
            // 512 B and 4 KiB writes over committed blocks, one straddling two blocks
            for (long[] w : new long[][] {{BS + 512, 512}, {2L * BS - 1024, 4096}, {3L * BS + 8192, 512}, {7, 0}}) {
                if (w[1] == 0) {
                    continue;
                }
                byte[] d = random(r, (int) w[1]);
                assertThat(io.write(w[0], d, 0)).isEqualTo(d.length);
                System.arraycopy(d, 0, model, (int) w[0], d.length);
            }
            assertThat(io.read(0, 5 * BS)).isEqualTo(Arrays.copyOf(model, 5 * BS));
            assertThat(io.read(BS + 512, 512)).isEqualTo(Arrays.copyOfRange(model, BS + 512, BS + 1024));
            t.drain();
            assertThat(io.read(0, 5 * BS)).isEqualTo(Arrays.copyOf(model, 5 * BS));
        }
        // cold: a new cache folder sees the same image from the store alone
        try (CacheTarget t = CacheTarget.open(config("cold", 0), store); Io io = new Io(t)) {
            assertThat(io.read(0, 5 * BS)).isEqualTo(Arrays.copyOf(model, 5 * BS));
            assertThat(t.stats().readMisses()).isEqualTo(3);
        }
    }

    @Test
    void flushedWritesSurviveReopenThroughTheJournal() {
        Random r = new Random(2);
        byte[] a = random(r, BS + 4096);
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            io.write(4096, a, 0);
            assertThat(io.flush()).isZero();
            assertThat(t.stats().uploadRounds()).isZero();
            t.crash();
        }
        try (CacheTarget t = CacheTarget.open(config("c", 0), store); Io io = new Io(t)) {
            assertThat(io.read(4096, a.length)).isEqualTo(a);
            assertThat(t.stats().dirtyBytes()).isEqualTo(2L * BS);
        }
    }

    @Test
    void fuaWriteIsDurableWithoutFlush() {
        byte[] a = random(new Random(3), 8192);
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            assertThat(io.write(0, a, IoFlags.FUA)).isEqualTo(8192);
            long synced = t.journal().files().stream().mapToLong(f -> f.synced).sum();
            assertThat(synced).isGreaterThanOrEqualTo(JournalRecord.HEADER + 8192);
            t.crash();
        }
        try (CacheTarget t = CacheTarget.open(config("c", 0), store); Io io = new Io(t)) {
            assertThat(io.read(0, 8192)).isEqualTo(a);
        }
    }

    @Test
    void tornJournalTailIsCutAndEarlierRecordsKept() throws IOException {
        byte[] a = random(new Random(4), 4096);
        byte[] b = random(new Random(5), 4096);
        Path journal;
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            io.write(0, a, 0);
            io.flush();
            io.write(8192, b, 0);
            journal = t.journal().files().get(0).path;
            t.crash();
        }
        // the second record loses its last bytes, as a power cut in the middle of it would leave it
        long size = Files.size(journal);
        try (var ch = java.nio.channels.FileChannel.open(journal, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        // segments hang, so the replayed epoch is not uploaded (and its file trimmed) before the look below
        io.ublk.s3.FaultInjectingStore held = new io.ublk.s3.FaultInjectingStore(store).hang(io.ublk.s3.FaultInjectingStore.Op.PUT);
        try (CacheTarget t = CacheTarget.open(config("c", 0), held); Io io = new Io(t)) {
            assertThat(Files.size(journal)).isEqualTo(size - JournalRecord.HEADER - 4096L);
            assertThat(io.read(0, 4096)).isEqualTo(a);
            assertThat(io.read(8192, 4096)).isEqualTo(new byte[4096]);
            held.resume();
        }
    }

    @Test
    void zeroLengthRequestsAreNoOpsAndLaterRecordsSurvive() {
        byte[] a = random(new Random(11), 4096);
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            long before = t.journal().files().stream().mapToLong(f -> Files.exists(f.path) ? f.path.toFile().length() : 0).sum();
            assertThat(io.write(4096, new byte[0], 0)).isZero();
            assertThat(io.discard(8192, 0)).isZero();
            long after = t.journal().files().stream().mapToLong(f -> f.path.toFile().length()).sum();
            assertThat(after).as("journal bytes after zero-length requests").isEqualTo(before);
            assertThat(io.write(0, a, 0)).isEqualTo(4096);
            assertThat(io.flush()).isZero();
            t.crash();
        }
        try (CacheTarget t = CacheTarget.open(config("c", 0), store); Io io = new Io(t)) {
            assertThat(io.read(0, 4096)).isEqualTo(a);
        }
    }

    @Test
    void theJournalFolderIs0700AndADamagedJournalRefusesTheOpen() throws IOException {
        Path journal;
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            io.write(0, random(new Random(12), 4096), 0);
            io.write(8192, random(new Random(13), 4096), 0);
            io.flush();
            journal = t.journal().files().get(0).path;
            t.crash();
        }
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(journal.getParent())))
                .isEqualTo("rwx------");
        byte[] bytes = Files.readAllBytes(journal);
        bytes[bytes.length - 2 * (JournalRecord.HEADER + 4096) + JournalRecord.HEADER + 7] ^= 1; // in the first record's data
        Files.write(journal, bytes);
        assertThatThrownBy(() -> CacheTarget.open(config("c", 0), store)).isInstanceOf(VolumeException.class)
                .hasMessageContaining(journal.getFileName().toString()).hasMessageContaining("bad CRC");
        assertThat(Files.readAllBytes(journal)).isEqualTo(bytes);
    }

    @Test
    void drainThenColdStartServesEverythingFromTheStore() throws Exception {
        Random r = new Random(6);
        byte[] image = random(r, (int) SIZE);
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            for (int off = 0; off < SIZE; off += 4 * BS) {
                io.write(off, Arrays.copyOfRange(image, off, off + 4 * BS), 0);
            }
            io.discard(10L * BS, 2L * BS);
            Arrays.fill(image, 10 * BS, 12 * BS, (byte) 0);
            t.drain();
            assertThat(t.stats().dirtyBytes()).isZero();
        }
        store.reset();
        try (CacheTarget t = CacheTarget.open(config("cold", 0), store); Io io = new Io(t)) {
            for (int off = 0; off < SIZE; off += 4 * BS) {
                assertThat(io.read(off, 4 * BS)).isEqualTo(Arrays.copyOfRange(image, off, off + 4 * BS));
            }
            // 62 data blocks; the two discarded ones read as zeros without a store call
            assertThat(t.stats().readMisses()).isEqualTo(62);
        }
    }

    @Test
    void uploadsAreAmortisedIntoSegments() throws Exception {
        CacheConfig c = CacheConfig.of(tmp.resolve("c"), "vol", SIZE).withSizes(64L * BS, 8L * BS, 32L * BS)
                .withUpload(Duration.ofMinutes(10), 2);
        byte[] data = random(new Random(7), 4 * BS);
        try (CacheTarget t = CacheTarget.open(c, store); Io io = new Io(t)) {
            store.reset();
            for (long off = 0; off < SIZE; off += data.length) {
                io.write(off, data, 0);
            }
            t.drain();
            // 8 MiB in 4 MiB segments: 2 segment PUTs and 1 manifest, however the rounds fell
            assertThat(t.stats().segmentPuts()).isLessThanOrEqualTo(3);
            assertThat(store.puts.get()).isLessThanOrEqualTo(5);
        }
    }

    @Test
    void compactionReclaimsOverwrittenDataAndDeletesDeadObjects() throws Exception {
        CacheConfig c = config("c", SIZE).withCompaction(new CacheConfig.Compaction(0.5, 8L * BS, Duration.ZERO));
        Random r = new Random(10);
        byte[] model = new byte[(int) SIZE];
        try (CacheTarget t = CacheTarget.open(c, store); Io io = new Io(t)) {
            for (int round = 0; round < 12; round++) {
                // each round rewrites 12 of the first 16 blocks: older segments keep few live blocks
                for (int i = 0; i < 12; i++) {
                    int b = r.nextInt(16);
                    byte[] d = random(r, BS);
                    io.write((long) b * BS, d, 0);
                    System.arraycopy(d, 0, model, b * BS, BS);
                }
                t.drain();
            }
            io.discard(0, 8L * BS);
            Arrays.fill(model, 0, 8 * BS, (byte) 0);
            t.drain();
            t.drain(); // a round after the compaction deletes what it retired (grace 0)
            assertThat(t.stats().compactions()).isPositive();
            assertThat(t.stats().deletedObjects()).isPositive();
            assertThat(io.read(0, 16 * BS)).isEqualTo(Arrays.copyOf(model, 16 * BS));
        }
        long segments;
        try (Stream<Path> s = Files.walk(tmp.resolve("store/vol/seg"))) {
            segments = s.filter(Files::isRegularFile).count();
        }
        // 13 data rounds wrote 13+ segments; what is left holds at most the 8 live blocks twice over
        assertThat(segments).isLessThan(8);
        assertThat(StoreImage.read(store, "vol")).isEqualTo(model);
    }

    /** Uploads as soon as it can, 4-block segments, room for 48 dirty blocks of which {@code inMemory} in memory. */
    private CacheConfig uploadingAtOnce(int inMemory) {
        return config("c", SIZE).withSizes(48L * BS, 8L * BS, 4L * BS).withDirtyMemory((long) inMemory * BS)
                .withUpload(Duration.ZERO, 2);
    }

    @Test
    void duringAStoreOutageMemoryStaysBoundedAndNothingIsLost() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(store);
        CacheConfig c = uploadingAtOnce(8);
        Random r = new Random(11);
        byte[] model = new byte[(int) SIZE];
        try (CacheTarget t = CacheTarget.open(c, faulty); Io io = new Io(t)) {
            faulty.failNext(FaultInjectingStore.Op.PUT, 6);
            for (int b = 0; b < 40; b++) {
                byte[] d = random(r, BS);
                assertThat(io.write((long) b * BS, d, 0)).isEqualTo(BS);
                System.arraycopy(d, 0, model, b * BS, BS);
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((t.stats().dirtyMemory() > 8L * BS || t.stats().uploadFailures() == 0) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(t.stats().uploadFailures()).isPositive();
            assertThat(t.stats().spilledBlocks()).isPositive();
            assertThat(t.stats().dirtyMemory()).isLessThanOrEqualTo(8L * BS);
            // spilled blocks read back from the journal
            assertThat(io.read(0, 40 * BS)).isEqualTo(Arrays.copyOf(model, 40 * BS));
            t.drain();
            assertThat(t.stats().dirtyBytes()).isZero();
            assertThat(io.read(0, 40 * BS)).isEqualTo(Arrays.copyOf(model, 40 * BS));
        }
        assertThat(StoreImage.read(store, "vol")).isEqualTo(model);
    }

    @Test
    void spilledWholeBlocksGoUpFromTheJournalBesideMergedOnes() throws Exception {
        FaultInjectingStore faulty = new FaultInjectingStore(store);
        // segments of 4 blocks: each mixes blocks sent from the journal with blocks merged in memory
        CacheConfig c = uploadingAtOnce(4);
        Random r = new Random(12);
        byte[] model = new byte[(int) SIZE];
        try (CacheTarget t = CacheTarget.open(c, faulty); Io io = new Io(t)) {
            faulty.failNext(FaultInjectingStore.Op.PUT, 4); // rounds back up, so epochs spill
            for (int b = 0; b < 40; b++) {
                // every third block only partly written: spilled, it is merged from its pieces
                int at = b % 3 == 0 ? 8192 : 0;
                int len = b % 3 == 0 ? 4096 : BS;
                byte[] d = random(r, len);
                assertThat(io.write((long) b * BS + at, d, 0)).isEqualTo(len);
                System.arraycopy(d, 0, model, b * BS + at, len);
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (t.stats().spilledBlocks() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            t.drain();
            assertThat(t.stats().spilledBlocks()).isPositive();
            assertThat(t.stats().journalSentBlocks()).isPositive().isLessThan(t.stats().spilledBlocks() + 1);
            assertThat(io.read(0, 40 * BS)).isEqualTo(Arrays.copyOf(model, 40 * BS));
        }
        // the store alone (every block's CRC checked) holds the image
        assertThat(StoreImage.read(store, "vol")).isEqualTo(model);
        try (CacheTarget t = CacheTarget.open(config("cold", SIZE), store); Io io = new Io(t)) {
            assertThat(io.read(0, (int) SIZE)).isEqualTo(model);
            assertThat(t.stats().checksumErrors()).isZero();
        }
    }

    @Test
    void corruptStoreDataIsAnIoErrorAndCounted() throws Exception {
        byte[] a = random(new Random(8), BS);
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            io.write(0, a, 0);
            t.drain();
        }
        Path seg;
        try (Stream<Path> s = Files.walk(tmp.resolve("store"))) {
            seg = s.filter(p -> p.toString().contains("/seg/")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(seg);
        bytes[bytes.length - 10] ^= 1;
        Files.write(seg, bytes);
        try (CacheTarget t = CacheTarget.open(config("cold", 0), store); Io io = new Io(t)) {
            assertThat(io.tryRead(0, 4096)).isEqualTo(-5);
            assertThat(t.stats().checksumErrors()).isEqualTo(1);
        }
    }

    @Test
    void writesWaitAboveTheDirtyBoundAndResumeInOrder() throws Exception {
        Random r = new Random(9);
        byte[] model = new byte[(int) SIZE];
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store); Io io = new Io(t)) {
            for (int i = 0; i < 48; i++) {
                byte[] d = random(r, BS);
                int off = (i % 40) * BS;
                assertThat(io.write(off, d, 0)).isEqualTo(BS);
                System.arraycopy(d, 0, model, off, BS);
            }
            assertThat(t.stats().writeWaits()).isPositive();
            assertThat(t.stats().dirtyBytes()).isLessThanOrEqualTo(16L * BS + BS);
            assertThat(io.read(0, 40 * BS)).isEqualTo(Arrays.copyOf(model, 40 * BS));
        }
    }

    @Test
    void badOpensSayWhyAndChangeNothing() throws Exception {
        assertThatThrownBy(() -> CacheTarget.open(config("c", 0), store))
                .isInstanceOf(VolumeException.class).hasMessageContaining("does not exist");
        assertThat(tmp.resolve("c")).doesNotExist();
        assertThat(store.puts.get()).isZero();
        try (CacheTarget t = CacheTarget.open(config("c", SIZE), store)) {
            assertThatThrownBy(() -> CacheTarget.open(config("c", SIZE), store))
                    .isInstanceOf(VolumeException.class).hasMessageContaining("in use");
        }
        assertThatThrownBy(() -> CacheTarget.open(config("c", SIZE * 2), store))
                .isInstanceOf(VolumeException.class).hasMessageContaining("is " + SIZE + " bytes");
        // a cache folder of another volume with the same name (the store was wiped and recreated)
        try (LocalObjectStore other = new LocalObjectStore(tmp.resolve("store2"))) {
            CacheTarget.open(config("c2", SIZE), other).close();
            assertThatThrownBy(() -> CacheTarget.open(config("c2", SIZE), store))
                    .isInstanceOf(VolumeException.class).hasMessageContaining("holds volume");
        }
        Files.writeString(tmp.resolve("file"), "x");
        assertThatThrownBy(() -> CacheTarget.open(CacheConfig.of(tmp.resolve("file"), "vol", SIZE), store))
                .isInstanceOf(VolumeException.class).hasMessageContaining("not a folder");
        assertThat(List.of(tmp.resolve("c").toFile().list())).containsExactly("vol");
    }
}
