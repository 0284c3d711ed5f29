package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublk_param_discard} (20 bytes, {@link UblkParams#DISCARD_OFFSET}).
 *
 * <pre>
 *   0 discard_alignment u32   4 discard_granularity u32   8 max_discard_sectors u32
 *  12 max_write_zeroes_sectors u32   16 max_discard_segments u16   18 reserved0 u16
 * </pre>
 */
public final class UblkParamDiscard {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("discard_alignment"),
            JAVA_INT.withName("discard_granularity"),
            JAVA_INT.withName("max_discard_sectors"),
            JAVA_INT.withName("max_write_zeroes_sectors"),
            JAVA_SHORT.withName("max_discard_segments"),
            JAVA_SHORT.withName("reserved0"))
            .withName("ublk_param_discard");
    /** {@code sizeof(struct ublk_param_discard)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code discard_alignment} (u32). */
    public static final long DISCARD_ALIGNMENT_OFFSET = Layouts.offset(LAYOUT, "discard_alignment");
    /** Offset of {@code discard_granularity} (u32). */
    public static final long DISCARD_GRANULARITY_OFFSET = Layouts.offset(LAYOUT, "discard_granularity");
    /** Offset of {@code max_discard_sectors} (u32). */
    public static final long MAX_DISCARD_SECTORS_OFFSET = Layouts.offset(LAYOUT, "max_discard_sectors");
    /** Offset of {@code max_write_zeroes_sectors} (u32). */
    public static final long MAX_WRITE_ZEROES_SECTORS_OFFSET = Layouts.offset(LAYOUT, "max_write_zeroes_sectors");
    /** Offset of {@code max_discard_segments} (u16). */
    public static final long MAX_DISCARD_SEGMENTS_OFFSET = Layouts.offset(LAYOUT, "max_discard_segments");
    /** Offset of {@code reserved0} (u16). */
    public static final long RESERVED0_OFFSET = Layouts.offset(LAYOUT, "reserved0");

    /** {@code discard_alignment}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DISCARD_ALIGNMENT = Layouts.handle(LAYOUT, "discard_alignment");
    /** {@code discard_granularity}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DISCARD_GRANULARITY = Layouts.handle(LAYOUT, "discard_granularity");
    /** {@code max_discard_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_DISCARD_SECTORS = Layouts.handle(LAYOUT, "max_discard_sectors");
    /** {@code max_write_zeroes_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_WRITE_ZEROES_SECTORS = Layouts.handle(LAYOUT, "max_write_zeroes_sectors");
    /** {@code max_discard_segments}: {@code (MemorySegment) -> short}. */
    public static final VarHandle MAX_DISCARD_SEGMENTS = Layouts.handle(LAYOUT, "max_discard_segments");
    /** {@code reserved0}: {@code (MemorySegment) -> short}. */
    public static final VarHandle RESERVED0 = Layouts.handle(LAYOUT, "reserved0");

    private UblkParamDiscard() {}
}
