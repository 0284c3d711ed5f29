package io.ublk.headers;

/** {@code enum io_uring_op}: the opcodes this project submits. */
public final class IoUringOp {
    private IoUringOp() {}

    /** Completes at once with res 0: ring tests and wake-ups. */
    public static final int NOP = 0;
    /** Vectored read. */
    public static final int READV = 1;
    /** Vectored write. */
    public static final int WRITEV = 2;
    /** fsync/fdatasync. */
    public static final int FSYNC = 3;
    /** One-shot or multishot poll on a file descriptor (eventfd wake-ups). */
    public static final int POLL_ADD = 6;
    /** Cancels a POLL_ADD by user_data. */
    public static final int POLL_REMOVE = 7;
    /** Timeout entry. */
    public static final int TIMEOUT = 11;
    /** Cancels a request by user_data. */
    public static final int ASYNC_CANCEL = 14;
    /** Non-vectored read into {@code addr}. */
    public static final int READ = 22;
    /** Non-vectored write from {@code addr}. */
    public static final int WRITE = 23;
    /** Posts a CQE on another ring (cross-worker wake-up). */
    public static final int MSG_RING = 40;
    /** Passes a command to the file's driver (ublk control and I/O commands). */
    public static final int URING_CMD = 46;
}
