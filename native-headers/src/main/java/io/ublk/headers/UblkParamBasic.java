package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublk_param_basic} (32 bytes, {@link UblkParams#BASIC_OFFSET}): mandatory queue limits.
 *
 * <pre>
 *   0 attrs u32 (UblkParamType.ATTR_*)
 *   4 logical_bs_shift u8   5 physical_bs_shift u8   6 io_opt_shift u8   7 io_min_shift u8
 *   8 max_sectors u32   12 chunk_sectors u32   16 dev_sectors u64   24 virt_boundary_mask u64
 * </pre>
 */
public final class UblkParamBasic {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("attrs"),
            JAVA_BYTE.withName("logical_bs_shift"),
            JAVA_BYTE.withName("physical_bs_shift"),
            JAVA_BYTE.withName("io_opt_shift"),
            JAVA_BYTE.withName("io_min_shift"),
            JAVA_INT.withName("max_sectors"),
            JAVA_INT.withName("chunk_sectors"),
            JAVA_LONG.withName("dev_sectors"),
            JAVA_LONG.withName("virt_boundary_mask"))
            .withName("ublk_param_basic");
    /** {@code sizeof(struct ublk_param_basic)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code attrs} (u32). */
    public static final long ATTRS_OFFSET = Layouts.offset(LAYOUT, "attrs");
    /** Offset of {@code logical_bs_shift} (u8). */
    public static final long LOGICAL_BS_SHIFT_OFFSET = Layouts.offset(LAYOUT, "logical_bs_shift");
    /** Offset of {@code physical_bs_shift} (u8). */
    public static final long PHYSICAL_BS_SHIFT_OFFSET = Layouts.offset(LAYOUT, "physical_bs_shift");
    /** Offset of {@code io_opt_shift} (u8). */
    public static final long IO_OPT_SHIFT_OFFSET = Layouts.offset(LAYOUT, "io_opt_shift");
    /** Offset of {@code io_min_shift} (u8). */
    public static final long IO_MIN_SHIFT_OFFSET = Layouts.offset(LAYOUT, "io_min_shift");
    /** Offset of {@code max_sectors} (u32). */
    public static final long MAX_SECTORS_OFFSET = Layouts.offset(LAYOUT, "max_sectors");
    /** Offset of {@code chunk_sectors} (u32). */
    public static final long CHUNK_SECTORS_OFFSET = Layouts.offset(LAYOUT, "chunk_sectors");
    /** Offset of {@code dev_sectors} (u64). */
    public static final long DEV_SECTORS_OFFSET = Layouts.offset(LAYOUT, "dev_sectors");
    /** Offset of {@code virt_boundary_mask} (u64). */
    public static final long VIRT_BOUNDARY_MASK_OFFSET = Layouts.offset(LAYOUT, "virt_boundary_mask");

    /** {@code attrs}: {@code (MemorySegment) -> int}. */
    public static final VarHandle ATTRS = Layouts.handle(LAYOUT, "attrs");
    /** {@code logical_bs_shift}: {@code (MemorySegment) -> byte}. */
    public static final VarHandle LOGICAL_BS_SHIFT = Layouts.handle(LAYOUT, "logical_bs_shift");
    /** {@code physical_bs_shift}: {@code (MemorySegment) -> byte}. */
    public static final VarHandle PHYSICAL_BS_SHIFT = Layouts.handle(LAYOUT, "physical_bs_shift");
    /** {@code io_opt_shift}: {@code (MemorySegment) -> byte}. */
    public static final VarHandle IO_OPT_SHIFT = Layouts.handle(LAYOUT, "io_opt_shift");
    /** {@code io_min_shift}: {@code (MemorySegment) -> byte}. */
    public static final VarHandle IO_MIN_SHIFT = Layouts.handle(LAYOUT, "io_min_shift");
    /** {@code max_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_SECTORS = Layouts.handle(LAYOUT, "max_sectors");
    /** {@code chunk_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle CHUNK_SECTORS = Layouts.handle(LAYOUT, "chunk_sectors");
    /** {@code dev_sectors}: {@code (MemorySegment) -> long}. */
    public static final VarHandle DEV_SECTORS = Layouts.handle(LAYOUT, "dev_sectors");
    /** {@code virt_boundary_mask}: {@code (MemorySegment) -> long}. */
    public static final VarHandle VIRT_BOUNDARY_MASK = Layouts.handle(LAYOUT, "virt_boundary_mask");

    private UblkParamBasic() {}
}
