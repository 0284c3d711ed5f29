package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublk_param_zoned} (32 bytes, {@link UblkParams#ZONED_OFFSET}), for UBLK_F_ZONED devices.
 *
 * <pre>
 *   0 max_open_zones u32   4 max_active_zones u32   8 max_zone_append_sectors u32   12 reserved[20] u8
 * </pre>
 */
public final class UblkParamZoned {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("max_open_zones"),
            JAVA_INT.withName("max_active_zones"),
            JAVA_INT.withName("max_zone_append_sectors"),
            MemoryLayout.sequenceLayout(20, JAVA_BYTE).withName("reserved"))
            .withName("ublk_param_zoned");
    /** {@code sizeof(struct ublk_param_zoned)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code max_open_zones} (u32). */
    public static final long MAX_OPEN_ZONES_OFFSET = Layouts.offset(LAYOUT, "max_open_zones");
    /** Offset of {@code max_active_zones} (u32). */
    public static final long MAX_ACTIVE_ZONES_OFFSET = Layouts.offset(LAYOUT, "max_active_zones");
    /** Offset of {@code max_zone_append_sectors} (u32). */
    public static final long MAX_ZONE_APPEND_SECTORS_OFFSET = Layouts.offset(LAYOUT, "max_zone_append_sectors");
    /** Offset of {@code reserved[20]} (u8 array; no var handle). */
    public static final long RESERVED_OFFSET = Layouts.offset(LAYOUT, "reserved");

    /** {@code max_open_zones}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_OPEN_ZONES = Layouts.handle(LAYOUT, "max_open_zones");
    /** {@code max_active_zones}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_ACTIVE_ZONES = Layouts.handle(LAYOUT, "max_active_zones");
    /** {@code max_zone_append_sectors}: {@code (MemorySegment) -> int}. */
    public static final VarHandle MAX_ZONE_APPEND_SECTORS = Layouts.handle(LAYOUT, "max_zone_append_sectors");

    private UblkParamZoned() {}
}
