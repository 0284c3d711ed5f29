package io.ublk.headers;

/** {@code IORING_ENTER_*} flags of {@code io_uring_enter}. */
public final class IoUringEnter {
    private IoUringEnter() {}

    /** Wait for {@code min_complete} completions (and run deferred task work). */
    public static final int GETEVENTS = 1;
    /** Wake the SQPOLL thread. */
    public static final int SQ_WAKEUP = 1 << 1;
    /** Wait for SQ space (SQPOLL). */
    public static final int SQ_WAIT = 1 << 2;
    /** The argument is a {@code struct io_uring_getevents_arg}. */
    public static final int EXT_ARG = 1 << 3;
}
