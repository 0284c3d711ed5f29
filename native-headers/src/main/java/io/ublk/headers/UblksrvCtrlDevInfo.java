package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublksrv_ctrl_dev_info}: the 64-byte device description exchanged by ADD_DEV
 * (the kernel writes back {@code dev_id}, {@code flags}, owner ids) and GET_DEV_INFO.
 *
 * <pre>
 *   0 nr_hw_queues u16   2 queue_depth u16   4 state u16   6 pad0 u16
 *   8 max_io_buf_bytes u32   12 dev_id u32   16 ublksrv_pid s32   20 pad1 u32
 *  24 flags u64 (UBLK_F_*)   32 ublksrv_flags u64 (the server's, the kernel ignores it)
 *  40 owner_uid u32   44 owner_gid u32   48 reserved1 u64   56 reserved2 u64
 * </pre>
 */
public final class UblksrvCtrlDevInfo {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("nr_hw_queues"),
            JAVA_SHORT.withName("queue_depth"),
            JAVA_SHORT.withName("state"),
            JAVA_SHORT.withName("pad0"),
            JAVA_INT.withName("max_io_buf_bytes"),
            JAVA_INT.withName("dev_id"),
            JAVA_INT.withName("ublksrv_pid"),
            JAVA_INT.withName("pad1"),
            JAVA_LONG.withName("flags"),
            JAVA_LONG.withName("ublksrv_flags"),
            JAVA_INT.withName("owner_uid"),
            JAVA_INT.withName("owner_gid"),
            JAVA_LONG.withName("reserved1"),
            JAVA_LONG.withName("reserved2"))
            .withName("ublksrv_ctrl_dev_info");
    /** {@code sizeof(struct ublksrv_ctrl_dev_info)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code nr_hw_queues} (u16). */
    public static final long NR_HW_QUEUES_OFFSET = Layouts.offset(LAYOUT, "nr_hw_queues");
    /** Offset of {@code queue_depth} (u16). */
    public static final long QUEUE_DEPTH_OFFSET = Layouts.offset(LAYOUT, "queue_depth");
    /** Offset of {@code state} (u16, {@link UblkDevState}). */
    public static final long STATE_OFFSET = Layouts.offset(LAYOUT, "state");
    /** Offset of {@code pad0} (u16). */
    public static final long PAD0_OFFSET = Layouts.offset(LAYOUT, "pad0");
    /** Offset of {@code max_io_buf_bytes} (u32). */
    public static final long MAX_IO_BUF_BYTES_OFFSET = Layouts.offset(LAYOUT, "max_io_buf_bytes");
    /** Offset of {@code dev_id} (u32; U32_MAX in ADD_DEV lets the kernel pick). */
    public static final long DEV_ID_OFFSET = Layouts.offset(LAYOUT, "dev_id");
    /** Offset of {@code ublksrv_pid} (s32). */
    public static final long UBLKSRV_PID_OFFSET = Layouts.offset(LAYOUT, "ublksrv_pid");
    /** Offset of {@code pad1} (u32). */
    public static final long PAD1_OFFSET = Layouts.offset(LAYOUT, "pad1");
    /** Offset of {@code flags} (u64, {@link UblkFeatures}). */
    public static final long FLAGS_OFFSET = Layouts.offset(LAYOUT, "flags");
    /** Offset of {@code ublksrv_flags} (u64). */
    public static final long UBLKSRV_FLAGS_OFFSET = Layouts.offset(LAYOUT, "ublksrv_flags");
    /** Offset of {@code owner_uid} (u32, stored by the kernel). */
    public static final long OWNER_UID_OFFSET = Layouts.offset(LAYOUT, "owner_uid");
    /** Offset of {@code owner_gid} (u32, stored by the kernel). */
    public static final long OWNER_GID_OFFSET = Layouts.offset(LAYOUT, "owner_gid");
    /** Offset of {@code reserved1} (u64). */
    public static final long RESERVED1_OFFSET = Layouts.offset(LAYOUT, "reserved1");
    /** Offset of {@code reserved2} (u64). */
    public static final long RESERVED2_OFFSET = Layouts.offset(LAYOUT, "reserved2");

    /** {@code nr_hw_queues}: {@code (MemorySegment) -> short}. */
    public static final VarHandle NR_HW_QUEUES = Layouts.handle(LAYOUT, "nr_hw_queues");
    /** {@code queue_depth}: {@code (MemorySegment) -> short}. */
    public static final VarHandle QUEUE_DEPTH = Layouts.handle(LAYOUT, "queue_depth");
    /** {@code state}: {@code (MemorySegment) -> short}. */
    public static final VarHandle STATE = Layouts.handle(LAYOUT, "state");
    /** {@code pad0}: {@code (MemorySegment) -> short}. */
    public static final VarHandle PAD0 = Layouts.handle(LAYOUT, "pad0");
    /** {@code max_io_buf_bytes}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_IO_BUF_BYTES = Layouts.handle(LAYOUT, "max_io_buf_bytes");
    /** {@code dev_id}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DEV_ID = Layouts.handle(LAYOUT, "dev_id");
    /** {@code ublksrv_pid}: {@code (MemorySegment) -> int}. */
    public static final VarHandle UBLKSRV_PID = Layouts.handle(LAYOUT, "ublksrv_pid");
    /** {@code pad1}: {@code (MemorySegment) -> int}. */
    public static final VarHandle PAD1 = Layouts.handle(LAYOUT, "pad1");
    /** {@code flags}: {@code (MemorySegment) -> long}. */
    public static final VarHandle FLAGS = Layouts.handle(LAYOUT, "flags");
    /** {@code ublksrv_flags}: {@code (MemorySegment) -> long}. */
    public static final VarHandle UBLKSRV_FLAGS = Layouts.handle(LAYOUT, "ublksrv_flags");
    /** {@code owner_uid}: {@code (MemorySegment) -> int}. */
    public static final VarHandle OWNER_UID = Layouts.handle(LAYOUT, "owner_uid");
    /** {@code owner_gid}: {@code (MemorySegment) -> int}. */
    public static final VarHandle OWNER_GID = Layouts.handle(LAYOUT, "owner_gid");
    /** {@code reserved1}: {@code (MemorySegment) -> long}. */
    public static final VarHandle RESERVED1 = Layouts.handle(LAYOUT, "reserved1");
    /** {@code reserved2}: {@code (MemorySegment) -> long}. */
    public static final VarHandle RESERVED2 = Layouts.handle(LAYOUT, "reserved2");

    private UblksrvCtrlDevInfo() {}
}
