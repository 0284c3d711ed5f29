package io.ublk.blockcache;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class NullTargetTest {
    private static final long SIZE = 1 << 20;
    private static final Completion NEVER = (tag, result) -> {
        throw new AssertionError("the null target answers inline, yet completed tag " + tag);
    };

    @Test
    void readsFillTheBufferWithZeros() {
        try (Arena arena = Arena.ofConfined(); NullTarget t = new NullTarget(SIZE)) {
            MemorySegment dst = arena.allocate(256 * 1024).fill((byte) 0x5a);
            assertThat(t.read(4096, dst, 200 * 1024, 1, NEVER)).isEqualTo(200 * 1024);
            for (long i = 0; i < 200 * 1024; i++) {
                assertThat(dst.get(JAVA_BYTE, i)).isZero();
            }
            assertThat(dst.get(JAVA_BYTE, 200 * 1024)).as("beyond length").isEqualTo((byte) 0x5a);
        }
    }

    @Test
    void everythingElseSucceedsAndIsDropped() {
        try (Arena arena = Arena.ofConfined(); NullTarget t = new NullTarget(SIZE)) {
            MemorySegment buf = arena.allocate(8192).fill((byte) 7);
            assertThat(t.write(SIZE - 8192, buf, 8192, IoFlags.FUA, 1, NEVER)).isEqualTo(8192);
            assertThat(t.flush(2, NEVER)).isZero();
            assertThat(t.discard(0, SIZE, 3, NEVER)).isZero();
            assertThat(t.writeZeroes(512, 1024, IoFlags.NOUNMAP, 4, NEVER)).isZero();
            assertThat(t.read(SIZE - 8192, buf, 8192, 5, NEVER)).isEqualTo(8192);
            assertThat(buf.get(JAVA_BYTE, 0)).isZero();
            assertThat(t.size()).isEqualTo(SIZE);
        }
    }

    @Test
    void badRangesAnswerErrnos() {
        try (Arena arena = Arena.ofConfined(); NullTarget t = new NullTarget(SIZE)) {
            MemorySegment buf = arena.allocate(4096);
            assertThat(t.read(SIZE - 512, buf, 1024, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.write(SIZE, buf, 512, 0, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.discard(SIZE - 512, 1024, 1, NEVER)).isEqualTo(-Requests.EIO);
            assertThat(t.writeZeroes(100, 512, 0, 1, NEVER)).isEqualTo(-Requests.EINVAL);
            assertThat(t.read(0, buf, 8192, 1, NEVER)).as("buffer too small").isEqualTo(-Requests.EINVAL);
        }
    }

    @Test
    void sizeMustBeAPositiveMultipleOf4096() {
        assertThatThrownBy(() -> new NullTarget(0)).hasMessage("device size must be a positive multiple of 4096: 0");
        assertThatThrownBy(() -> new NullTarget(6000)).hasMessage("device size must be a positive multiple of 4096: 6000");
    }
}
