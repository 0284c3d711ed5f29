package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublksrv_io_cmd}: the 16-byte payload of FETCH_REQ / COMMIT_AND_FETCH_REQ /
 * NEED_GET_DATA, placed in the {@code cmd} area (offset 48) of an SQE sent to {@code /dev/ublkcN}.
 *
 * <pre>
 *   0 q_id u16   2 tag u16   4 result s32 (COMMIT: bytes done or -errno)
 *   8 addr u64 | zone_append_lba u64      (anonymous union in C; addr is 0 with USER_COPY)
 * </pre>
 * The layout names the anonymous union {@code addr_union}.
 */
public final class UblksrvIoCmd {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("q_id"),
            JAVA_SHORT.withName("tag"),
            JAVA_INT.withName("result"),
            MemoryLayout.unionLayout(
                    JAVA_LONG.withName("addr"),
                    JAVA_LONG.withName("zone_append_lba")).withName("addr_union"))
            .withName("ublksrv_io_cmd");
    /** {@code sizeof(struct ublksrv_io_cmd)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code q_id} (u16). */
    public static final long Q_ID_OFFSET = Layouts.offset(LAYOUT, "q_id");
    /** Offset of {@code tag} (u16). */
    public static final long TAG_OFFSET = Layouts.offset(LAYOUT, "tag");
    /** Offset of {@code result} (s32). */
    public static final long RESULT_OFFSET = Layouts.offset(LAYOUT, "result");
    /** Offset of {@code addr} (u64). */
    public static final long ADDR_OFFSET = Layouts.offset(LAYOUT, "addr_union", "addr");
    /** Offset of {@code zone_append_lba} (u64, same storage as {@code addr}). */
    public static final long ZONE_APPEND_LBA_OFFSET = Layouts.offset(LAYOUT, "addr_union", "zone_append_lba");

    /** {@code q_id}: {@code (MemorySegment) -> short}. */
    public static final VarHandle Q_ID = Layouts.handle(LAYOUT, "q_id");
    /** {@code tag}: {@code (MemorySegment) -> short}. */
    public static final VarHandle TAG = Layouts.handle(LAYOUT, "tag");
    /** {@code result}: {@code (MemorySegment) -> int}. */
    public static final VarHandle RESULT = Layouts.handle(LAYOUT, "result");
    /** {@code addr}: {@code (MemorySegment) -> long}. */
    public static final VarHandle ADDR = Layouts.handle(LAYOUT, "addr_union", "addr");
    /** {@code zone_append_lba}: {@code (MemorySegment) -> long}. */
    public static final VarHandle ZONE_APPEND_LBA = Layouts.handle(LAYOUT, "addr_union", "zone_append_lba");

    private UblksrvIoCmd() {}
}
