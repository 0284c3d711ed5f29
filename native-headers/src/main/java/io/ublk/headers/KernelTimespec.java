package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/** {@code struct __kernel_timespec}: 64-bit seconds and nanoseconds (io_uring wait timeouts). */
public final class KernelTimespec {
    private KernelTimespec() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("tv_sec"),
            JAVA_LONG.withName("tv_nsec")).withName("__kernel_timespec");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long TV_SEC_OFFSET = Layouts.offset(LAYOUT, "tv_sec");
    public static final long TV_NSEC_OFFSET = Layouts.offset(LAYOUT, "tv_nsec");

    public static final VarHandle TV_SEC = Layouts.handle(LAYOUT, "tv_sec");
    public static final VarHandle TV_NSEC = Layouts.handle(LAYOUT, "tv_nsec");
}
