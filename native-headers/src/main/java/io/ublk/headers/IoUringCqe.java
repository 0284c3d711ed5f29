package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct io_uring_cqe}: one completion, 16 bytes (32 with {@code IORING_SETUP_CQE32}).
 * <pre>  0 user_data u64   8 res s32 (result or -errno)   12 flags u32   16 big_cqe[] </pre>
 */
public final class IoUringCqe {
    private IoUringCqe() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("user_data"),
            JAVA_INT.withName("res"),
            JAVA_INT.withName("flags")).withName("io_uring_cqe");

    public static final long SIZE = LAYOUT.byteSize();
    /** Size of an entry on a ring set up with {@code IORING_SETUP_CQE32}. */
    public static final long SIZE_32 = 2 * SIZE;
    public static final long USER_DATA_OFFSET = Layouts.offset(LAYOUT, "user_data");
    public static final long RES_OFFSET = Layouts.offset(LAYOUT, "res");
    public static final long FLAGS_OFFSET = Layouts.offset(LAYOUT, "flags");
    /** {@code big_cqe[]}: the extra 16 bytes of a CQE32 entry. */
    public static final long BIG_CQE_OFFSET = SIZE;

    public static final VarHandle USER_DATA = Layouts.handle(LAYOUT, "user_data");
    public static final VarHandle RES = Layouts.handle(LAYOUT, "res");
    public static final VarHandle FLAGS = Layouts.handle(LAYOUT, "flags");
}
