package io.ublk.blockcache.cache;

import io.ublk.blockcache.IoFlags;
import io.ublk.blockcache.cache.journal.JournalFile;
import io.ublk.s3.LocalObjectStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random writes, FUA writes, flushes, discards, reads, process crashes, power cuts and restarts
 * against a byte-array model, with the uploader running on its own schedule. Checked:
 * <ul>
 *   <li>every read returns the model (the last answered write of each sector);</li>
 *   <li>after a process crash the reopened volume equals the model (answered writes are in the
 *       journal's files, which survive the process);</li>
 *   <li>after a power cut (journal files cut anywhere after their last forced byte) every sector
 *       holds its value at the last FLUSH or a value written after it; nothing else;</li>
 *   <li>the store, read by a cold reader with an empty cache folder, always equals the model
 *       image after some operation: never a mix of two instants.</li>
 * </ul>
 * The seed is printed on failure; {@code -Dcache.seed=N} replays one (the uploader's timing is
 * not part of the seed, so a replay explores the same operations, not the same interleaving).
 */
class CachePropertyTest {
    static final int BS = 16 * 1024;
    static final int BLOCKS = 24;
    static final int SIZE = BS * BLOCKS;
    static final int SECTORS = SIZE / 512;

    @TempDir Path tmp;

    @Test
    void randomOperationsWithCrashesMatchTheModel() throws Exception {
        String fixed = System.getProperty("cache.seed");
        long[] seeds = fixed != null ? new long[] {Long.parseLong(fixed)}
                : new long[] {System.nanoTime(), System.nanoTime() + 1, System.nanoTime() + 2, 42};
        for (long seed : seeds) {
            try {
                new Run(seed, tmp.resolve("run-" + seed)).go(500);
            } catch (Throwable e) {
                throw new AssertionError("seed " + seed + " (replay with -Dcache.seed=" + seed + "): " + e.getMessage(), e);
            }
        }
    }

    private static final class Run {
        final long seed;
        final Random random;
        final Path dir;
        final LocalObjectStore store;
        final byte[] model = new byte[SIZE];
        /** The model at the last FLUSH (or restart), and the writes answered since, for power cuts. */
        byte[] flushed = new byte[SIZE];
        final List<int[]> sinceFlush = new ArrayList<>(); // {offset, length, opIndex}
        final Map<Integer, byte[]> sinceFlushData = new HashMap<>();
        /** Image hash -> first op index it appeared at. */
        final Map<Long, Integer> history = new HashMap<>();
        int lastStoreImageOp = -1;
        int crashes;
        long compactions;
        long spills;
        int powerCuts;
        CacheTarget target;
        Io io;
        int op;

        Run(long seed, Path dir) {
            this.seed = seed;
            this.random = new Random(seed);
            this.dir = dir;
            this.store = new LocalObjectStore(dir.resolve("store"));
        }

        CacheConfig config(String cache, long size) {
            long delay = random.nextInt(3) == 0 ? 0 : 5;
            return CacheConfig.of(dir.resolve(cache), "v", size).withBlockSize(BS)
                    .withSizes(8L * BS, 6L * BS, 4L * BS)
                    .withDirtyMemory(random.nextBoolean() ? 4L * BS : 8L * BS)
                    .withUpload(Duration.ofMillis(delay), 1 + random.nextInt(3))
                    .withCompaction(new CacheConfig.Compaction(0.5, 4L * BS, Duration.ofMillis(300)));
        }

        void go(int ops) throws Exception {
            target = CacheTarget.open(config("cache", SIZE), store);
            io = new Io(target);
            remember();
            try {
                for (op = 0; op < ops; op++) {
                    step();
                }
                target.drain();
                checkStoreImage();
                checkReadsEqualModel();
                // the run must have exercised what it claims to check
                assertThat(crashes).as("process crashes").isPositive();
                assertThat(powerCuts).as("power cuts").isPositive();
                assertThat(history.size()).as("distinct images").isGreaterThan(ops / 4);
                compactions += target.stats().compactions();
                spills += target.stats().spilledBlocks();
                assertThat(compactions).as("compactions").isPositive();
                assertThat(spills).as("blocks spilled to the journal").isPositive();
            } finally {
                target.close();
                io.close();
                store.close();
            }
        }

        void step() throws Exception {
            int kind = random.nextInt(100);
            if (kind < 40) {
                write(kind < 5 ? IoFlags.FUA : 0);
            } else if (kind < 50) {
                assertThat(io.flush()).isZero();
                markFlushed();
            } else if (kind < 58) {
                int[] r = range();
                assertThat(io.discard(r[0], r[1])).isZero();
                Arrays.fill(model, r[0], r[0] + r[1], (byte) 0);
                noteSinceFlush(r[0], r[1]);
                remember();
            } else if (kind < 80) {
                int[] r = range();
                byte[] got = io.read(r[0], r[1]);
                if (!Arrays.equals(got, 0, r[1], model, r[0], r[0] + r[1])) {
                    throw new AssertionError("op " + op + ": read of " + r[1] + " at " + r[0] + " differs from the model");
                }
            } else if (kind < 86) {
                crashAndRestart(false);
            } else if (kind < 90) {
                crashAndRestart(true);
            } else if (kind < 96) {
                checkStoreImage();
            } else {
                target.drain();
                checkStoreImage();
            }
        }

        int[] range() {
            int sectors = 1 + random.nextInt(random.nextBoolean() ? 8 : 3 * BS / 512);
            int start = random.nextInt(SECTORS - sectors + 1);
            return new int[] {start * 512, sectors * 512};
        }

        void write(int flags) {
            int[] r = range();
            byte[] data = new byte[r[1]];
            random.nextBytes(data);
            assertThat(io.write(r[0], data, flags)).isEqualTo(r[1]);
            System.arraycopy(data, 0, model, r[0], r[1]);
            if ((flags & IoFlags.FUA) != 0) {
                // FUA makes this write durable, not the ones before it: it stays a post-flush candidate
                // too, but it must survive, so fold it into the flushed image only for its own range.
                System.arraycopy(data, 0, flushed, r[0], r[1]);
            } else {
                noteSinceFlush(r[0], r[1]);
                sinceFlushData.put(sinceFlush.size() - 1, data);
            }
            remember();
        }

        void noteSinceFlush(int offset, int length) {
            sinceFlush.add(new int[] {offset, length, op});
        }

        void markFlushed() {
            flushed = model.clone();
            sinceFlush.clear();
            sinceFlushData.clear();
        }

        void remember() {
            history.putIfAbsent(hash(model), op);
        }

        void crashAndRestart(boolean powerCut) throws IOException {
            List<JournalFile> files = target.journal().files();
            compactions += target.stats().compactions();
            spills += target.stats().spilledBlocks();
            target.crash();
            if (powerCut) {
                powerCuts++;
            } else {
                crashes++;
            }
            io.close();
            if (powerCut) {
                for (JournalFile f : files) {
                    long size = Files.exists(f.path) ? Files.size(f.path) : 0;
                    if (size > f.synced) {
                        long cut = f.synced + (long) (random.nextDouble() * (size - f.synced));
                        try (FileChannel ch = FileChannel.open(f.path, StandardOpenOption.WRITE)) {
                            ch.truncate(cut);
                        }
                    }
                }
            }
            target = CacheTarget.open(config("cache", 0), store);
            io = new Io(target);
            byte[] got = io.read(0, SIZE);
            if (!powerCut) {
                if (!Arrays.equals(got, model)) {
                    throw new AssertionError("op " + op + ": after a process crash the volume differs from the model at byte "
                            + Arrays.mismatch(got, model));
                }
                return;
            }
            for (int s = 0; s < SECTORS; s++) {
                int at = s * 512;
                if (Arrays.equals(got, at, at + 512, flushed, at, at + 512)) {
                    continue;
                }
                boolean written = false;
                for (int i = 0; i < sinceFlush.size() && !written; i++) {
                    int[] w = sinceFlush.get(i);
                    if (at >= w[0] && at < w[0] + w[1]) {
                        byte[] d = sinceFlushData.get(i);
                        written = d == null ? isZero(got, at) : Arrays.equals(got, at, at + 512, d, at - w[0], at - w[0] + 512);
                    }
                }
                if (!written) {
                    throw new AssertionError("op " + op + ": after a power cut sector " + s
                            + " holds neither its flushed value nor one written since");
                }
            }
            // What survived is the device now.
            System.arraycopy(got, 0, model, 0, SIZE);
            markFlushed();
            remember();
        }

        void checkReadsEqualModel() {
            assertThat(io.read(0, SIZE)).isEqualTo(model);
        }

        void checkStoreImage() {
            byte[] image = StoreImage.read(store, "v");
            Integer at = history.get(hash(image));
            if (at == null) {
                throw new AssertionError("op " + op + ": the store image (generation "
                        + StoreImage.generation(store, "v") + ") is no state the device was ever in");
            }
            if (at < lastStoreImageOp) {
                throw new AssertionError("op " + op + ": the store went back from the image of op " + lastStoreImageOp
                        + " to that of op " + at);
            }
            lastStoreImageOp = at;
        }

        static boolean isZero(byte[] b, int at) {
            for (int i = at; i < at + 512; i++) {
                if (b[i] != 0) {
                    return false;
                }
            }
            return true;
        }

        static long hash(byte[] b) {
            long h = 0xcbf29ce484222325L;
            for (int i = 0; i < b.length; i += 8) {
                long v = java.nio.ByteBuffer.wrap(b, i, 8).getLong();
                h = (h ^ v) * 0x100000001b3L;
                h ^= h >>> 29;
            }
            return h;
        }
    }
}
