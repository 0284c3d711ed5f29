package io.ublk.server.cpu;

import io.ublk.headers.Libc;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;

/** CPU sets as the kernel passes them ({@code cpu_set_t} bitmaps), and thread pinning. */
public final class CpuSet {
    /** Bytes of the masks we pass: 1024 CPUs, glibc's {@code cpu_set_t} size. */
    public static final int MASK_BYTES = 128;

    private CpuSet() {}

    /** The CPUs the calling thread may run on (sched_getaffinity). */
    public static BitSet allowed() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(MASK_BYTES, 8);
            NativeException.check(Libc.schedGetaffinity(0, MASK_BYTES, mask), "sched_getaffinity", "");
            return fromMask(mask);
        }
    }

    /** Pins the calling thread to {@code cpu}; call it before the thread touches memory it owns. */
    public static void pinCurrentThread(int cpu) {
        if (cpu < 0 || cpu >= MASK_BYTES * 8) {
            throw new IllegalArgumentException("cpu must be in [0, " + MASK_BYTES * 8 + "): " + cpu);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(MASK_BYTES, 8);
            mask.set(ValueLayout.JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
            NativeException.check(Libc.schedSetaffinity(0, MASK_BYTES, mask), "sched_setaffinity", "cpu " + cpu);
        }
    }

    /** Decodes a little-endian CPU bitmap. */
    public static BitSet fromMask(MemorySegment mask) {
        return BitSet.valueOf(mask.toArray(ValueLayout.JAVA_BYTE));
    }
}
