package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct io_uring_sqe}: one submission entry, 64 bytes; 128 with {@code IORING_SETUP_SQE128},
 * where the second half extends {@code cmd}. The kernel struct is mostly unions: the layout names
 * the first member of each, and the aliases this project uses get their own offset constants.
 *
 * <pre>
 *   0 opcode u8   1 flags u8   2 ioprio u16   4 fd s32
 *   8 off | addr2 | cmd_op u32      16 addr | splice_off_in
 *  24 len u32    28 op_flags (rw_flags | poll32_events | uring_cmd_flags | msg_ring_flags ...)
 *  32 user_data u64   40 buf_index u16   42 personality u16   44 splice_fd_in | file_index
 *  48 addr3 | cmd[] (URING_CMD payload: 16 bytes, or 80 with SQE128)   56 pad2
 * </pre>
 */
public final class IoUringSqe {
    private IoUringSqe() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_BYTE.withName("opcode"),
            JAVA_BYTE.withName("flags"),
            JAVA_SHORT.withName("ioprio"),
            JAVA_INT.withName("fd"),
            JAVA_LONG.withName("off"),
            JAVA_LONG.withName("addr"),
            JAVA_INT.withName("len"),
            JAVA_INT.withName("op_flags"),
            JAVA_LONG.withName("user_data"),
            JAVA_SHORT.withName("buf_index"),
            JAVA_SHORT.withName("personality"),
            JAVA_INT.withName("splice_fd_in"),
            JAVA_LONG.withName("addr3"),
            JAVA_LONG.withName("pad2")).withName("io_uring_sqe");

    /** Size of a normal entry. */
    public static final long SIZE = LAYOUT.byteSize();
    /** Size of an entry on a ring set up with {@code IORING_SETUP_SQE128}. */
    public static final long SIZE_128 = 2 * SIZE;

    public static final long OPCODE_OFFSET = Layouts.offset(LAYOUT, "opcode");
    public static final long FLAGS_OFFSET = Layouts.offset(LAYOUT, "flags");
    public static final long IOPRIO_OFFSET = Layouts.offset(LAYOUT, "ioprio");
    public static final long FD_OFFSET = Layouts.offset(LAYOUT, "fd");
    public static final long OFF_OFFSET = Layouts.offset(LAYOUT, "off");
    public static final long ADDR_OFFSET = Layouts.offset(LAYOUT, "addr");
    public static final long LEN_OFFSET = Layouts.offset(LAYOUT, "len");
    public static final long OP_FLAGS_OFFSET = Layouts.offset(LAYOUT, "op_flags");
    public static final long USER_DATA_OFFSET = Layouts.offset(LAYOUT, "user_data");
    public static final long BUF_INDEX_OFFSET = Layouts.offset(LAYOUT, "buf_index");
    public static final long PERSONALITY_OFFSET = Layouts.offset(LAYOUT, "personality");
    public static final long SPLICE_FD_IN_OFFSET = Layouts.offset(LAYOUT, "splice_fd_in");
    public static final long ADDR3_OFFSET = Layouts.offset(LAYOUT, "addr3");

    /** {@code cmd_op} (URING_CMD): the low half of the {@code off} union. */
    public static final long CMD_OP_OFFSET = OFF_OFFSET;
    /** {@code cmd[]} (URING_CMD payload), overlaying {@code addr3}. */
    public static final long CMD_OFFSET = ADDR3_OFFSET;
    /** {@code rw_flags} (READ/WRITE). */
    public static final long RW_FLAGS_OFFSET = OP_FLAGS_OFFSET;
    /** {@code poll32_events} (POLL_ADD). */
    public static final long POLL32_EVENTS_OFFSET = OP_FLAGS_OFFSET;
    /** {@code uring_cmd_flags} (URING_CMD). */
    public static final long URING_CMD_FLAGS_OFFSET = OP_FLAGS_OFFSET;
    /** {@code msg_ring_flags} (MSG_RING). */
    public static final long MSG_RING_FLAGS_OFFSET = OP_FLAGS_OFFSET;

    public static final VarHandle OPCODE = Layouts.handle(LAYOUT, "opcode");
    public static final VarHandle FLAGS = Layouts.handle(LAYOUT, "flags");
    public static final VarHandle IOPRIO = Layouts.handle(LAYOUT, "ioprio");
    public static final VarHandle FD = Layouts.handle(LAYOUT, "fd");
    public static final VarHandle OFF = Layouts.handle(LAYOUT, "off");
    public static final VarHandle ADDR = Layouts.handle(LAYOUT, "addr");
    public static final VarHandle LEN = Layouts.handle(LAYOUT, "len");
    public static final VarHandle OP_FLAGS = Layouts.handle(LAYOUT, "op_flags");
    public static final VarHandle USER_DATA = Layouts.handle(LAYOUT, "user_data");
    public static final VarHandle BUF_INDEX = Layouts.handle(LAYOUT, "buf_index");
    public static final VarHandle PERSONALITY = Layouts.handle(LAYOUT, "personality");
    public static final VarHandle SPLICE_FD_IN = Layouts.handle(LAYOUT, "splice_fd_in");
    public static final VarHandle ADDR3 = Layouts.handle(LAYOUT, "addr3");
}
