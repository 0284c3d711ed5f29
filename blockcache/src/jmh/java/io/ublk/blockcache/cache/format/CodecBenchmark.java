package io.ublk.blockcache.cache.format;

import io.ublk.blockcache.BenchSupport;
import io.ublk.blockcache.cache.CacheConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a segment's encoding costs per block: the CRC32C of one 128 KiB block, on the heap (a
 * dirty version's array) and in native memory (a segment buffer, through
 * {@link Codec#crc32c(MemorySegment, long, int)}); a copy of the same block from native memory
 * to the heap as the same-run reference (memory bandwidth: a CRC near it costs about one pass
 * over the bytes); the CRC of a block's tail derived from two others
 * ({@link Codec#crc32cOfTail}, how the uploader avoids reading a spilled block); and the header
 * of a full default segment (256 blocks, {@link SegmentHeader#encode}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CodecBenchmark {
    private static final int BLOCK = CacheConfig.DEFAULT_BLOCK_SIZE;

    private Arena arena;
    private MemorySegment nativeBlock;
    private byte[] heapBlock;
    private int crcOfAll;
    private int crcOfHead;
    private SegmentHeader header;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        nativeBlock = BenchSupport.bounceSlot(arena, BLOCK);
        heapBlock = nativeBlock.toArray(ValueLayout.JAVA_BYTE);
        crcOfAll = Codec.crc32c(heapBlock, 0, BLOCK);
        crcOfHead = Codec.crc32c(heapBlock, 0, 512);
        int n = (int) (CacheConfig.DEFAULT_SEGMENT / BLOCK);
        long[] blocks = new long[n];
        int[] kinds = new int[n];
        int[] args = new int[n];
        int[] crcs = new int[n];
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < n; i++) {
            blocks[i] = random.nextLong(1L << 30);
            kinds[i] = SegmentHeader.DATA;
            args[i] = i;
            crcs[i] = random.nextInt();
        }
        header = new SegmentHeader(new UUID(1, 2), 7, blocks, kinds, args, crcs);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int crc32cHeap() {
        return Codec.crc32c(heapBlock, 0, BLOCK);
    }

    @Benchmark
    public int crc32cNative() {
        return Codec.crc32c(nativeBlock, 0, BLOCK);
    }

    @Benchmark
    public byte[] copyNativeToHeap() {
        MemorySegment.copy(nativeBlock, ValueLayout.JAVA_BYTE, 0, heapBlock, 0, BLOCK);
        return heapBlock;
    }

    @Benchmark
    public int crc32cOfTail() {
        return Codec.crc32cOfTail(crcOfAll, crcOfHead, BLOCK - 512);
    }

    @Benchmark
    public byte[] segmentHeaderEncode() {
        return header.encode();
    }
}
