package io.ublk.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * {@code struct ublk_param_devt} (16 bytes, {@link UblkParams#DEVT_OFFSET}): read-only (GET_PARAMS);
 * the disk numbers are valid once the device is started.
 *
 * <pre>
 *   0 char_major u32   4 char_minor u32   8 disk_major u32   12 disk_minor u32
 * </pre>
 */
public final class UblkParamDevt {
    /** The C layout. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("char_major"),
            JAVA_INT.withName("char_minor"),
            JAVA_INT.withName("disk_major"),
            JAVA_INT.withName("disk_minor"))
            .withName("ublk_param_devt");
    /** {@code sizeof(struct ublk_param_devt)}. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code char_major} (u32). */
    public static final long CHAR_MAJOR_OFFSET = Layouts.offset(LAYOUT, "char_major");
    /** Offset of {@code char_minor} (u32). */
    public static final long CHAR_MINOR_OFFSET = Layouts.offset(LAYOUT, "char_minor");
    /** Offset of {@code disk_major} (u32). */
    public static final long DISK_MAJOR_OFFSET = Layouts.offset(LAYOUT, "disk_major");
    /** Offset of {@code disk_minor} (u32). */
    public static final long DISK_MINOR_OFFSET = Layouts.offset(LAYOUT, "disk_minor");

    /** {@code char_major}: {@code (MemorySegment) -> int}. */
    public static final VarHandle CHAR_MAJOR = Layouts.handle(LAYOUT, "char_major");
    /** {@code char_minor}: {@code (MemorySegment) -> int}. */
    public static final VarHandle CHAR_MINOR = Layouts.handle(LAYOUT, "char_minor");
    /** {@code disk_major}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DISK_MAJOR = Layouts.handle(LAYOUT, "disk_major");
    /** {@code disk_minor}: {@code (MemorySegment) -> int}. */
    public static final VarHandle DISK_MINOR = Layouts.handle(LAYOUT, "disk_minor");

    private UblkParamDevt() {}
}
