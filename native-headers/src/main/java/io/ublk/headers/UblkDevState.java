package io.ublk.headers;

/** Device states ({@code UBLK_S_DEV_*}) in {@code UblksrvCtrlDevInfo.state}. Linux 6.12 has no FAIL_IO state. */
public final class UblkDevState {
    /** Not started, or stopped. */
    public static final int DEAD = 0;
    /** Started and served. */
    public static final int LIVE = 1;
    /** Server gone, waiting for recovery (USER_RECOVERY). */
    public static final int QUIESCED = 2;

    private UblkDevState() {}
}
