package io.ublk.blockcache;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MemoryTargetTest {
    private static final long CHUNK = MemoryTarget.CHUNK_SIZE;
    private static final int MAX_IO = 256 * 1024;
    private static final Completion NEVER = (tag, result) -> {
        throw new AssertionError("the memory target answers inline, yet completed tag " + tag);
    };

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(MAX_IO, 4096);

    @AfterEach
    void freeBuffers() {
        arena.close();
    }

    @Test
    void randomOperationsMatchAByteArrayModel() {
        long seed = System.nanoTime();
        try {
            randomOperations(seed);
        } catch (AssertionError e) {
            throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
        }
    }

    private void randomOperations(long seed) {
        Random random = new Random(seed);
        // Not a whole number of chunks: the last chunk is short.
        int size = (int) (40 * CHUNK + 3 * 4096);
        byte[] model = new byte[size];
        byte[] data = new byte[MAX_IO];
        try (MemoryTarget t = new MemoryTarget(size)) {
            for (int op = 0; op < 3000; op++) {
                int sectors = 1 + random.nextInt(MAX_IO / 512);
                int length = Math.min(sectors * 512, size);
                int offset = 512 * random.nextInt((size - length) / 512 + 1);
                int kind = random.nextInt(10);
                if (kind < 4) {
                    random.nextBytes(data);
                    MemorySegment.copy(MemorySegment.ofArray(data), 0, buf, 0, length);
                    assertThat(t.write(offset, buf, length, 0, op, NEVER)).isEqualTo(length);
                    System.arraycopy(data, 0, model, offset, length);
                } else if (kind < 8) {
                    assertSame(t, model, offset, length, "op " + op);
                } else if (kind == 8) {
                    assertThat(t.discard(offset, length, op, NEVER)).isZero();
                    Arrays.fill(model, offset, offset + length, (byte) 0);
                } else {
                    int flags = random.nextBoolean() ? IoFlags.NOUNMAP : 0;
                    assertThat(t.writeZeroes(offset, length, flags, op, NEVER)).isZero();
                    Arrays.fill(model, offset, offset + length, (byte) 0);
                }
            }
            for (int off = 0; off < size; off += MAX_IO) {
                assertSame(t, model, off, Math.min(MAX_IO, size - off), "final sweep");
            }
        }
    }

    @Test
    void neverWrittenRangesReadAsZerosAndAllocateNothing() {
        try (MemoryTarget t = new MemoryTarget(1L << 40)) {
            buf.fill((byte) 0x77);
            assertThat(t.read(123 * CHUNK + 512, buf, MAX_IO, 1, NEVER)).isEqualTo(MAX_IO);
            assertZeros(buf, 0, MAX_IO);
            assertThat(t.bytesAllocated()).isZero();
        }
    }

    @Test
    void firstAndLastSectorsAndChunkCrossingWrites() {
        long size = 8 * CHUNK;
        byte[] model = new byte[(int) size];
        try (MemoryTarget t = new MemoryTarget(size)) {
            write(t, model, 0, 512, (byte) 1);
            write(t, model, size - 512, 512, (byte) 2);
            write(t, model, 3 * CHUNK - 1024, 4096, (byte) 3);
            write(t, model, CHUNK + 512, (int) (2 * CHUNK + 1024), (byte) 4);
            assertSame(t, model, 0, 4096, "first sector");
            assertSame(t, model, size - 4096, 4096, "last sector");
            assertSame(t, model, 3 * CHUNK - 4096, 8192, "across a chunk boundary");
            assertSame(t, model, CHUNK, MAX_IO, "across three chunks");
            // Chunks 0, 1, 2, 3 and 7 were touched.
            assertThat(t.bytesAllocated()).isEqualTo(5 * CHUNK);
        }
    }

    @Test
    void discardZeroesPartialChunksAndFreesWholeOnes() {
        long size = 8 * CHUNK;
        byte[] model = new byte[(int) size];
        try (MemoryTarget t = new MemoryTarget(size)) {
            for (long off = 0; off < size; off += MAX_IO) {
                write(t, model, off, MAX_IO, (byte) (off / MAX_IO + 1));
            }
            assertThat(t.bytesAllocated()).isEqualTo(8 * CHUNK);

            // Half of chunk 1, all of chunks 2 and 3, a sector of chunk 4.
            assertThat(t.discard(CHUNK + CHUNK / 2, 2 * CHUNK + CHUNK / 2 + 512, 1, NEVER)).isZero();
            Arrays.fill(model, (int) (CHUNK + CHUNK / 2), (int) (4 * CHUNK + 512), (byte) 0);

            assertThat(t.bytesAllocated()).isEqualTo(6 * CHUNK);
            for (long off = 0; off < size; off += MAX_IO) {
                assertSame(t, model, off, MAX_IO, "after discard");
            }
        }
    }

    @Test
    void writeZeroesFreesWholeChunksUnlessNoUnmap() {
        long size = 4 * CHUNK;
        byte[] model = new byte[(int) size];
        try (MemoryTarget t = new MemoryTarget(size)) {
            write(t, model, 0, (int) size, (byte) 9);

            assertThat(t.writeZeroes(0, 2 * CHUNK, IoFlags.NOUNMAP, 1, NEVER)).isZero();
            Arrays.fill(model, 0, (int) (2 * CHUNK), (byte) 0);
            assertThat(t.bytesAllocated()).as("NOUNMAP keeps chunks").isEqualTo(4 * CHUNK);
            assertSame(t, model, 0, (int) size, "after write-zeroes NOUNMAP");

            assertThat(t.writeZeroes(2 * CHUNK - 512, CHUNK + 1024, 0, 2, NEVER)).isZero();
            Arrays.fill(model, (int) (2 * CHUNK - 512), (int) (3 * CHUNK + 512), (byte) 0);
            assertThat(t.bytesAllocated()).as("chunk 2 covered, dropped").isEqualTo(3 * CHUNK);
            assertSame(t, model, 0, (int) size, "after write-zeroes");
        }
    }

    @Test
    void aShortLastChunkIsFreedWhenCoveredToTheEnd() {
        long size = 2 * CHUNK + 8192;
        try (MemoryTarget t = new MemoryTarget(size)) {
            buf.fill((byte) 1);
            t.write(size - 8192, buf, 8192, 0, 1, NEVER);
            assertThat(t.bytesAllocated()).isEqualTo(CHUNK);
            assertThat(t.discard(2 * CHUNK, 8192, 2, NEVER)).isZero();
            assertThat(t.bytesAllocated()).isZero();
        }
    }

    @Test
    void concurrentWritersOnDisjointRangesAllLand() throws Exception {
        int threads = 4;
        int block = 4096;
        long size = 64 * CHUNK;
        // Block i belongs to thread i % 4: every chunk is shared, so threads race to install it.
        try (MemoryTarget t = new MemoryTarget(size); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < threads; w++) {
                int worker = w;
                done.add(pool.submit((Callable<Void>) () -> {
                    try (Arena own = Arena.ofConfined()) {
                        MemorySegment src = own.allocate(block, 4096);
                        for (long b = worker; b < size / block; b += threads) {
                            src.fill(pattern(b));
                            assertThat(t.write(b * block, src, block, 0, b, NEVER)).isEqualTo(block);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            assertThat(t.bytesAllocated()).isEqualTo(size);
            for (long b = 0; b < size / block; b++) {
                assertThat(t.read(b * block, buf, block, b, NEVER)).isEqualTo(block);
                for (int i = 0; i < block; i += 512) {
                    assertThat(buf.get(JAVA_BYTE, i)).as("block %d byte %d", b, i).isEqualTo(pattern(b));
                }
            }
        }
    }

    @Test
    void outOfRangeAnswersEioAndMalformedAnswersEinval() {
        long size = 4 * CHUNK;
        try (MemoryTarget t = new MemoryTarget(size)) {
            assertThat(t.read(size, buf, 512, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.read(size - 512, buf, 1024, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.write(size - 512, buf, 1024, 0, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.discard(0, size + 512, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.writeZeroes(Long.MAX_VALUE - 511, 512, 0, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.write(-512, buf, 512, 0, 1, NEVER)).isEqualTo(-Requests.EINVAL);
            assertThat(t.write(100, buf, 512, 0, 1, NEVER)).isEqualTo(-Requests.EINVAL);
            assertThat(t.read(0, buf, 700, 1, NEVER)).isEqualTo(-Requests.EINVAL);
            assertThat(t.read(0, buf.asSlice(0, 512), 1024, 1, NEVER)).as("buffer too small").isEqualTo(-Requests.EINVAL);
            assertThat(t.bytesAllocated()).as("failed writes allocate nothing").isZero();
            assertThat(t.read(size - 512, buf, 512, 1, NEVER)).isEqualTo(512);
        }
    }

    @Test
    void sizeIsChecked() {
        assertThatThrownBy(() -> new MemoryTarget(-4096)).hasMessage("device size must be a positive multiple of 4096: -4096");
        assertThatThrownBy(() -> new MemoryTarget(1L << 47))
                .hasMessage("memory target size must be <= " + (1L << 46) + ": " + (1L << 47));
    }

    @Test
    void closeDropsEveryChunk() {
        MemoryTarget t = new MemoryTarget(4 * CHUNK);
        buf.fill((byte) 3);
        t.write(CHUNK, buf, MAX_IO / 2, 0, 1, NEVER);
        assertThat(t.bytesAllocated()).isEqualTo(2 * CHUNK);
        t.close();
        assertThat(t.bytesAllocated()).isZero();
    }

    private static byte pattern(long block) {
        return (byte) (block * 31 + 7);
    }

    private void write(MemoryTarget t, byte[] model, long offset, int length, byte value) {
        buf.asSlice(0, length).fill(value);
        assertThat(t.write(offset, buf, length, 0, 0, NEVER)).isEqualTo(length);
        Arrays.fill(model, (int) offset, (int) offset + length, value);
    }

    private void assertSame(MemoryTarget t, byte[] model, long offset, int length, String what) {
        buf.fill((byte) 0x55);
        assertThat(t.read(offset, buf, length, 0, NEVER)).isEqualTo(length);
        long at = MemorySegment.mismatch(buf, 0, length, MemorySegment.ofArray(model), offset, offset + length);
        assertThat(at).as("%s: first difference in [%d, +%d) at +%d", what, offset, length, at).isEqualTo(-1);
    }

    private static void assertZeros(MemorySegment s, long offset, long length) {
        for (long i = offset; i < offset + length; i++) {
            if (s.get(JAVA_BYTE, i) != 0) {
                throw new AssertionError("byte " + i + " is not zero");
            }
        }
    }
}
