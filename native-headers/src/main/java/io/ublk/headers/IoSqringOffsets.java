package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_sqring_offsets}: where the kernel placed the SQ ring's fields inside the SQ ring
 * mapping (filled in by {@code io_uring_setup}).
 */
public final class IoSqringOffsets {
    private IoSqringOffsets() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("head"),
            JAVA_INT.withName("tail"),
            JAVA_INT.withName("ring_mask"),
            JAVA_INT.withName("ring_entries"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("dropped"),
            JAVA_INT.withName("array"),
            JAVA_INT.withName("resv1"),
            JAVA_LONG.withName("user_addr")).withName("io_sqring_offsets");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long HEAD_OFFSET = Layouts.offset(LAYOUT, "head");
    public static final long TAIL_OFFSET = Layouts.offset(LAYOUT, "tail");
    public static final long RING_MASK_OFFSET = Layouts.offset(LAYOUT, "ring_mask");
    public static final long RING_ENTRIES_OFFSET = Layouts.offset(LAYOUT, "ring_entries");
    public static final long FLAGS_OFFSET = Layouts.offset(LAYOUT, "flags");
    public static final long DROPPED_OFFSET = Layouts.offset(LAYOUT, "dropped");
    public static final long ARRAY_OFFSET = Layouts.offset(LAYOUT, "array");
    public static final long USER_ADDR_OFFSET = Layouts.offset(LAYOUT, "user_addr");
}
