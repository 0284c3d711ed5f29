package io.ublk.headers;

/** {@code IORING_SETUP_*} flags for {@code io_uring_params.flags} and {@code IORING_FEAT_*} bits. */
public final class IoUringSetup {
    private IoUringSetup() {}

    /** Busy-poll completions (block devices opened O_DIRECT only). */
    public static final int IOPOLL = 1;
    /** A kernel thread polls the SQ. */
    public static final int SQPOLL = 1 << 1;
    /** {@code cq_entries} is set by the caller. */
    public static final int CQSIZE = 1 << 3;
    /** Clamp too-large ring sizes instead of failing. */
    public static final int CLAMP = 1 << 4;
    /** Ring starts disabled until REGISTER_ENABLE_RINGS. */
    public static final int R_DISABLED = 1 << 6;
    /** Keep submitting a batch after one entry fails. */
    public static final int SUBMIT_ALL = 1 << 7;
    /** Task work does not interrupt the task with an IPI. */
    public static final int COOP_TASKRUN = 1 << 8;
    /** Set IORING_SQ_TASKRUN when task work is pending. */
    public static final int TASKRUN_FLAG = 1 << 9;
    /** 128-byte SQEs: needed for ublk control commands (80-byte URING_CMD payload). */
    public static final int SQE128 = 1 << 10;
    /** 32-byte CQEs. */
    public static final int CQE32 = 1 << 11;
    /** Only one task submits: lets the kernel skip locking. */
    public static final int SINGLE_ISSUER = 1 << 12;
    /** Task work runs only when the owner enters the kernel to wait (needs SINGLE_ISSUER). */
    public static final int DEFER_TASKRUN = 1 << 13;

    /** SQ and CQ rings share one mapping. */
    public static final int FEAT_SINGLE_MMAP = 1;
    /** Completions are never dropped on CQ overflow; they wait in the kernel. */
    public static final int FEAT_NODROP = 1 << 1;
    /** SQE data is consumed at submit time. */
    public static final int FEAT_SUBMIT_STABLE = 1 << 2;
    /** Internal poll for pollable files. */
    public static final int FEAT_FAST_POLL = 1 << 5;
    /** {@code io_uring_enter} takes IORING_ENTER_EXT_ARG (wait with a timeout). */
    public static final int FEAT_EXT_ARG = 1 << 8;
    /** io-wq workers are native threads. */
    public static final int FEAT_NATIVE_WORKERS = 1 << 9;
    /** IOSQE_CQE_SKIP_SUCCESS is supported. */
    public static final int FEAT_CQE_SKIP = 1 << 11;
}
