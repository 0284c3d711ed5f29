package io.ublk.headers;

/**
 * {@code UblkParams.types} bits ({@code UBLK_PARAM_TYPE_*}, prefix dropped) and
 * {@code UblkParamBasic.attrs} bits ({@code UBLK_ATTR_*} as {@code ATTR_*}). Linux 6.12 has no
 * DMA_ALIGN or SEGMENT parameter types.
 */
public final class UblkParamType {
    /** {@link UblkParamBasic} present (mandatory for SET_PARAMS). */
    public static final int BASIC = 1 << 0;
    /** {@link UblkParamDiscard} present. */
    public static final int DISCARD = 1 << 1;
    /** {@link UblkParamDevt} present (read-only: GET_PARAMS only). */
    public static final int DEVT = 1 << 2;
    /** {@link UblkParamZoned} present. */
    public static final int ZONED = 1 << 3;

    /** The disk is read-only. */
    public static final int ATTR_READ_ONLY = 1 << 0;
    /** Rotational media. */
    public static final int ATTR_ROTATIONAL = 1 << 1;
    /** The device has a volatile write cache: the kernel sends FLUSH. */
    public static final int ATTR_VOLATILE_CACHE = 1 << 2;
    /** The device honours FUA: the kernel sets F_FUA on writes. */
    public static final int ATTR_FUA = 1 << 3;

    private UblkParamType() {}
}
