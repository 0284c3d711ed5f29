package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublksrv_io_desc}: one request as the kernel describes it, 24 bytes, in the
 * read-only per-queue array mmapped from {@code /dev/ublkcN} and indexed by tag (see
 * {@link UblkUserCopy#queueDescriptorOffset}).
 *
 * <pre>
 *   0 op_flags u32 (bits 0-7 op {@link UblkIoOp}, bits 8-31 UBLK_IO_F_*)
 *   4 nr_sectors u32 | nr_zones u32 (REPORT_ZONES)      (anonymous union in C)
 *   8 start_sector u64
 *  16 addr u64 (server buffer address; unused with USER_COPY)
 * </pre>
 * The layout names the anonymous union {@code nr_sectors_union}.
 */
public final class UblksrvIoDesc {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("op_flags"),
            MemoryLayout.unionLayout(
                    JAVA_INT.withName("nr_sectors"),
                    JAVA_INT.withName("nr_zones")).withName("nr_sectors_union"),
            JAVA_LONG.withName("start_sector"),
            JAVA_LONG.withName("addr"))
            .withName("ublksrv_io_desc");
    /** {@code sizeof(struct ublksrv_io_desc)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code op_flags} (u32). */
    public static final long OP_FLAGS_OFFSET = Layouts.offset(LAYOUT, "op_flags");
    /** Offset of {@code nr_sectors} (u32). */
    public static final long NR_SECTORS_OFFSET = Layouts.offset(LAYOUT, "nr_sectors_union", "nr_sectors");
    /** Offset of {@code nr_zones} (u32, same storage as {@code nr_sectors}). */
    public static final long NR_ZONES_OFFSET = Layouts.offset(LAYOUT, "nr_sectors_union", "nr_zones");
    /** Offset of {@code start_sector} (u64). */
    public static final long START_SECTOR_OFFSET = Layouts.offset(LAYOUT, "start_sector");
    /** Offset of {@code addr} (u64). */
    public static final long ADDR_OFFSET = Layouts.offset(LAYOUT, "addr");

    /** {@code op_flags}: {@code (MemorySegment) -> int}. */
    public static final VarHandle OP_FLAGS = Layouts.handle(LAYOUT, "op_flags");
    /** {@code nr_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle NR_SECTORS = Layouts.handle(LAYOUT, "nr_sectors_union", "nr_sectors");
    /** {@code nr_zones}: {@code (MemorySegment) -> int}. */
    public static final VarHandle NR_ZONES = Layouts.handle(LAYOUT, "nr_sectors_union", "nr_zones");
    /** {@code start_sector}: {@code (MemorySegment) -> long}. */
    public static final VarHandle START_SECTOR = Layouts.handle(LAYOUT, "start_sector");
    /** {@code addr}: {@code (MemorySegment) -> long}. */
    public static final VarHandle ADDR = Layouts.handle(LAYOUT, "addr");

    private UblksrvIoDesc() {}
}
