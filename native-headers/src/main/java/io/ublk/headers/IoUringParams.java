package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct io_uring_params}: in/out argument of {@code io_uring_setup}. The caller sets
 * {@code flags} (and {@code cq_entries} with CQSIZE); the kernel fills in the sizes, the
 * {@code features} it supports and the ring offsets.
 *
 * <pre>
 *   0 sq_entries  4 cq_entries  8 flags  12 sq_thread_cpu  16 sq_thread_idle  20 features
 *  24 wq_fd  28 resv[3]  40 sq_off (io_sqring_offsets)  80 cq_off (io_cqring_offsets)  = 120
 * </pre>
 */
public final class IoUringParams {
    private IoUringParams() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("sq_entries"),
            JAVA_INT.withName("cq_entries"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("sq_thread_cpu"),
            JAVA_INT.withName("sq_thread_idle"),
            JAVA_INT.withName("features"),
            JAVA_INT.withName("wq_fd"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv"),
            IoSqringOffsets.LAYOUT.withName("sq_off"),
            IoCqringOffsets.LAYOUT.withName("cq_off")).withName("io_uring_params");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long SQ_ENTRIES_OFFSET = Layouts.offset(LAYOUT, "sq_entries");
    public static final long CQ_ENTRIES_OFFSET = Layouts.offset(LAYOUT, "cq_entries");
    public static final long FLAGS_OFFSET = Layouts.offset(LAYOUT, "flags");
    public static final long SQ_THREAD_CPU_OFFSET = Layouts.offset(LAYOUT, "sq_thread_cpu");
    public static final long SQ_THREAD_IDLE_OFFSET = Layouts.offset(LAYOUT, "sq_thread_idle");
    public static final long FEATURES_OFFSET = Layouts.offset(LAYOUT, "features");
    public static final long WQ_FD_OFFSET = Layouts.offset(LAYOUT, "wq_fd");
    public static final long RESV_OFFSET = Layouts.offset(LAYOUT, "resv");
    public static final long SQ_OFF_OFFSET = Layouts.offset(LAYOUT, "sq_off");
    public static final long CQ_OFF_OFFSET = Layouts.offset(LAYOUT, "cq_off");

    public static final VarHandle SQ_ENTRIES = Layouts.handle(LAYOUT, "sq_entries");
    public static final VarHandle CQ_ENTRIES = Layouts.handle(LAYOUT, "cq_entries");
    public static final VarHandle FLAGS = Layouts.handle(LAYOUT, "flags");
    public static final VarHandle SQ_THREAD_CPU = Layouts.handle(LAYOUT, "sq_thread_cpu");
    public static final VarHandle SQ_THREAD_IDLE = Layouts.handle(LAYOUT, "sq_thread_idle");
    public static final VarHandle FEATURES = Layouts.handle(LAYOUT, "features");
    public static final VarHandle WQ_FD = Layouts.handle(LAYOUT, "wq_fd");
}
