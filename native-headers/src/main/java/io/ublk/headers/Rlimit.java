package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct rlimit} ({@code <sys/resource.h>}) for {@link Libc#getrlimit}/{@link Libc#setrlimit},
 * and the resource numbers used here.
 *
 * <pre>
 *   0        8        16
 *   +--------+--------+
 *   |rlim_cur|rlim_max|   u64 each; RLIM_INFINITY = -1 (all ones)
 *   +--------+--------+
 * </pre>
 */
public final class Rlimit {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("rlim_cur"),
            JAVA_LONG.withName("rlim_max"))
            .withName("rlimit");
    /** {@code sizeof(struct rlimit)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code rlim_cur} (u64, soft limit). */
    public static final long RLIM_CUR_OFFSET = Layouts.offset(LAYOUT, "rlim_cur");
    /** Offset of {@code rlim_max} (u64, hard limit). */
    public static final long RLIM_MAX_OFFSET = Layouts.offset(LAYOUT, "rlim_max");
    /** {@code rlim_cur}: {@code (MemorySegment) -> long}. */
    public static final VarHandle RLIM_CUR = Layouts.handle(LAYOUT, "rlim_cur");
    /** {@code rlim_max}: {@code (MemorySegment) -> long}. */
    public static final VarHandle RLIM_MAX = Layouts.handle(LAYOUT, "rlim_max");

    /** {@code RLIM_INFINITY}: no limit. */
    public static final long RLIM_INFINITY = -1L;
    /** {@code RLIMIT_NOFILE}: open file descriptors (3 per ublk device). */
    public static final int RLIMIT_NOFILE = 7;
    /** {@code RLIMIT_MEMLOCK}: locked memory bytes (io_uring rings and registered buffers on old kernels). */
    public static final int RLIMIT_MEMLOCK = 8;

    private Rlimit() {}
}
