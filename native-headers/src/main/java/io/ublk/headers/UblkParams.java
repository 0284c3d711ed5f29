package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublk_params} as of Linux 6.12 (112 bytes): SET_PARAMS / GET_PARAMS payload.
 * {@code len} must hold the number of bytes passed ({@link #SIZE} here) and {@code types} the
 * {@code UblkParamType} bits of the members filled in; the struct grows across kernels (later
 * ones append {@code dma} and {@code seg}, not in 6.12).
 *
 * <pre>
 *   0 len u32   4 types u32
 *   8 basic    (UblkParamBasic,   32)
 *  40 discard  (UblkParamDiscard, 20)
 *  60 devt     (UblkParamDevt,    16)
 *  76 zoned    (UblkParamZoned,   32)
 * 108 (4 bytes tail padding to the 8-byte alignment of basic's u64 members)
 * </pre>
 */
public final class UblkParams {
    /** The C layout; the members are the {@code LAYOUT}s of the member struct classes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("len"),
            JAVA_INT.withName("types"),
            UblkParamBasic.LAYOUT.withName("basic"),
            UblkParamDiscard.LAYOUT.withName("discard"),
            UblkParamDevt.LAYOUT.withName("devt"),
            UblkParamZoned.LAYOUT.withName("zoned"),
            MemoryLayout.paddingLayout(4))
            .withName("ublk_params");
    /** {@code sizeof(struct ublk_params)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code len} (u32). */
    public static final long LEN_OFFSET = Layouts.offset(LAYOUT, "len");
    /** Offset of {@code types} (u32). */
    public static final long TYPES_OFFSET = Layouts.offset(LAYOUT, "types");
    /** Offset of {@code basic} ({@link UblkParamBasic}). */
    public static final long BASIC_OFFSET = Layouts.offset(LAYOUT, "basic");
    /** Offset of {@code discard} ({@link UblkParamDiscard}). */
    public static final long DISCARD_OFFSET = Layouts.offset(LAYOUT, "discard");
    /** Offset of {@code devt} ({@link UblkParamDevt}). */
    public static final long DEVT_OFFSET = Layouts.offset(LAYOUT, "devt");
    /** Offset of {@code zoned} ({@link UblkParamZoned}). */
    public static final long ZONED_OFFSET = Layouts.offset(LAYOUT, "zoned");

    /** {@code len}: {@code (MemorySegment) -> int}. */
    public static final VarHandle LEN = Layouts.handle(LAYOUT, "len");
    /** {@code types}: {@code (MemorySegment) -> int}. */
    public static final VarHandle TYPES = Layouts.handle(LAYOUT, "types");

    private UblkParams() {}
}
