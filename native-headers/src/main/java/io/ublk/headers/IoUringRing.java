package io.ublk.headers;

/** Ring mapping offsets, ring flags and per-entry flags of io_uring. */
public final class IoUringRing {
    private IoUringRing() {}

    /** mmap offset of the SQ ring (and, with FEAT_SINGLE_MMAP, of the CQ ring). */
    public static final long OFF_SQ_RING = 0L;
    /** mmap offset of the CQ ring. */
    public static final long OFF_CQ_RING = 0x8000000L;
    /** mmap offset of the SQE array. */
    public static final long OFF_SQES = 0x10000000L;

    /** SQ flag: the SQPOLL thread sleeps and needs IORING_ENTER_SQ_WAKEUP. */
    public static final int SQ_NEED_WAKEUP = 1;
    /** SQ flag: completions overflowed and wait in the kernel; GETEVENTS flushes them. */
    public static final int SQ_CQ_OVERFLOW = 1 << 1;
    /** SQ flag: task work is pending (with TASKRUN_FLAG). */
    public static final int SQ_TASKRUN = 1 << 2;
    /** CQ flag: the registered eventfd is not signalled. */
    public static final int CQ_EVENTFD_DISABLED = 1;

    /** SQE flag: {@code fd} is an index into the registered files. */
    public static final int IOSQE_FIXED_FILE = 1;
    /** SQE flag: run after all earlier entries complete. */
    public static final int IOSQE_IO_DRAIN = 1 << 1;
    /** SQE flag: the next entry starts after this one completes. */
    public static final int IOSQE_IO_LINK = 1 << 2;
    /** SQE flag: like IO_LINK, but the chain survives a failure. */
    public static final int IOSQE_IO_HARDLINK = 1 << 3;
    /** SQE flag: always issue asynchronously. */
    public static final int IOSQE_ASYNC = 1 << 4;
    /** SQE flag: post no CQE when the request succeeds. */
    public static final int IOSQE_CQE_SKIP_SUCCESS = 1 << 6;

    /** CQE flag: the request will post more CQEs (multishot). */
    public static final int CQE_F_MORE = 1 << 1;

    /** POLL_ADD {@code len} flag: multishot poll. */
    public static final int POLL_ADD_MULTI = 1;
    /** POLL_ADD event: readable. */
    public static final int POLLIN = 1;
    /** MSG_RING command in {@code addr}: post a CQE with {@code len} as res and {@code off} as user_data. */
    public static final int MSG_DATA = 0;
    /** MSG_RING flag: post no CQE on the target ring (not for MSG_DATA). */
    public static final int MSG_RING_CQE_SKIP = 1;
}
