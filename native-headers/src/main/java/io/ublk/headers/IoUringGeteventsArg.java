package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct io_uring_getevents_arg}: the {@code IORING_ENTER_EXT_ARG} argument of
 * {@code io_uring_enter}, which carries a wait timeout without an extra TIMEOUT entry.
 * <pre>  0 sigmask u64   8 sigmask_sz u32   12 min_wait_usec u32   16 ts u64 (__kernel_timespec *) </pre>
 */
public final class IoUringGeteventsArg {
    private IoUringGeteventsArg() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sigmask"),
            JAVA_INT.withName("sigmask_sz"),
            JAVA_INT.withName("min_wait_usec"),
            JAVA_LONG.withName("ts")).withName("io_uring_getevents_arg");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long SIGMASK_OFFSET = Layouts.offset(LAYOUT, "sigmask");
    public static final long SIGMASK_SZ_OFFSET = Layouts.offset(LAYOUT, "sigmask_sz");
    public static final long MIN_WAIT_USEC_OFFSET = Layouts.offset(LAYOUT, "min_wait_usec");
    public static final long TS_OFFSET = Layouts.offset(LAYOUT, "ts");

    public static final VarHandle SIGMASK = Layouts.handle(LAYOUT, "sigmask");
    public static final VarHandle SIGMASK_SZ = Layouts.handle(LAYOUT, "sigmask_sz");
    public static final VarHandle MIN_WAIT_USEC = Layouts.handle(LAYOUT, "min_wait_usec");
    public static final VarHandle TS = Layouts.handle(LAYOUT, "ts");
}
