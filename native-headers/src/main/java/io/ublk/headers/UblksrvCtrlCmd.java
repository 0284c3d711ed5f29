package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublksrv_ctrl_cmd}: the 32-byte payload of a ublk control command, placed in the
 * {@code cmd} area (offset 48) of a 128-byte io_uring SQE sent to {@code /dev/ublk-control}.
 *
 * <pre>
 *   0 dev_id u32   4 queue_id u16 (0xFFFF: not a queue command)   6 len u16
 *   8 addr u64 (user buffer for the command's IN/OUT data)
 *  16 data[1] u64 (inline argument, e.g. the server pid for START_DEV)
 *  24 dev_path_len u16   26 pad u16   28 reserved u32
 * </pre>
 */
public final class UblksrvCtrlCmd {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("dev_id"),
            JAVA_SHORT.withName("queue_id"),
            JAVA_SHORT.withName("len"),
            JAVA_LONG.withName("addr"),
            MemoryLayout.sequenceLayout(1, JAVA_LONG).withName("data"),
            JAVA_SHORT.withName("dev_path_len"),
            JAVA_SHORT.withName("pad"),
            JAVA_INT.withName("reserved"))
            .withName("ublksrv_ctrl_cmd");
    /** {@code sizeof(struct ublksrv_ctrl_cmd)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code dev_id} (u32). */
    public static final long DEV_ID_OFFSET = Layouts.offset(LAYOUT, "dev_id");
    /** Offset of {@code queue_id} (u16). */
    public static final long QUEUE_ID_OFFSET = Layouts.offset(LAYOUT, "queue_id");
    /** Offset of {@code len} (u16, length of the buffer at {@code addr}). */
    public static final long LEN_OFFSET = Layouts.offset(LAYOUT, "len");
    /** Offset of {@code addr} (u64). */
    public static final long ADDR_OFFSET = Layouts.offset(LAYOUT, "addr");
    /** Offset of {@code data[0]} (u64). */
    public static final long DATA_OFFSET = Layouts.offset(LAYOUT, "data");
    /** Offset of {@code dev_path_len} (u16, UNPRIVILEGED_DEV and GET_DEV_INFO2 only). */
    public static final long DEV_PATH_LEN_OFFSET = Layouts.offset(LAYOUT, "dev_path_len");
    /** Offset of {@code pad} (u16). */
    public static final long PAD_OFFSET = Layouts.offset(LAYOUT, "pad");
    /** Offset of {@code reserved} (u32). */
    public static final long RESERVED_OFFSET = Layouts.offset(LAYOUT, "reserved");

    /** {@code dev_id}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DEV_ID = Layouts.handle(LAYOUT, "dev_id");
    /** {@code queue_id}: {@code (MemorySegment) -> short}. */
    public static final VarHandle QUEUE_ID = Layouts.handle(LAYOUT, "queue_id");
    /** {@code len}: {@code (MemorySegment) -> short}. */
    public static final VarHandle LEN = Layouts.handle(LAYOUT, "len");
    /** {@code addr}: {@code (MemorySegment) -> long}. */
    public static final VarHandle ADDR = Layouts.handle(LAYOUT, "addr");
    /** {@code data[0]}: {@code (MemorySegment) -> long}. */
    public static final VarHandle DATA = Layouts.elementHandle(LAYOUT, "data", 0);
    /** {@code dev_path_len}: {@code (MemorySegment) -> short}. */
    public static final VarHandle DEV_PATH_LEN = Layouts.handle(LAYOUT, "dev_path_len");
    /** {@code pad}: {@code (MemorySegment) -> short}. */
    public static final VarHandle PAD = Layouts.handle(LAYOUT, "pad");
    /** {@code reserved}: {@code (MemorySegment) -> int}. */
    public static final VarHandle RESERVED = Layouts.handle(LAYOUT, "reserved");

    private UblksrvCtrlCmd() {}
}
