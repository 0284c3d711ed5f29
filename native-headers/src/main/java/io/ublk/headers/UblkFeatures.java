package io.ublk.headers;

/**
 * Device feature bits ({@code UBLK_F_*}): {@code UblksrvCtrlDevInfo.flags} and the GET_FEATURES
 * answer. Names drop the {@code UBLK_F_} prefix. Bits 0-8 are those of Linux 6.12, the kernel the
 * server is written for (probed against its uapi header); bits 9-19 came with later kernels and
 * are probed against the 7.2 header (absent from 6.12's). The server asks for none of the later
 * bits: they are here so that a newer kernel's GET_FEATURES answer reads by name.
 */
public final class UblkFeatures {
    /** Bit 0: zero copy (needs 4k blocks; not implemented by 6.12's driver). */
    public static final long SUPPORT_ZERO_COPY = 1L << 0;
    /** Bit 1: complete io commands via task work ({@code io_uring_cmd_complete_in_task}). */
    public static final long URING_CMD_COMP_IN_TASK = 1L << 1;
    /** Bit 2: WRITE requests come back with RES_NEED_GET_DATA; the server sends NEED_GET_DATA with a buffer. */
    public static final long NEED_GET_DATA = 1L << 2;
    /** Bit 3: keep the device after the server dies so a new one can recover it. */
    public static final long USER_RECOVERY = 1L << 3;
    /** Bit 4: with USER_RECOVERY, re-issue the requests that were in flight. */
    public static final long USER_RECOVERY_REISSUE = 1L << 4;
    /** Bit 5: unprivileged devices (not with USER_COPY). */
    public static final long UNPRIVILEGED_DEV = 1L << 5;
    /** Bit 6: use the ioctl-encoded command numbers ({@link UblkCtrlCmd}, {@link UblkIoCmd}). */
    public static final long CMD_IOCTL_ENCODE = 1L << 6;
    /** Bit 7: data moves by pread/pwrite on {@code /dev/ublkcN} at {@link UblkUserCopy#position}. */
    public static final long USER_COPY = 1L << 7;
    /** Bit 8: zoned block device (needs USER_COPY). */
    public static final long ZONED = 1L << 8;

    // Later kernels (probed against the 7.2 uapi header: native-headers/src/test/c/7.2/).

    /** Bit 9 (6.13): recoverable like USER_RECOVERY, but I/O while no server is attached fails at once. */
    public static final long USER_RECOVERY_FAIL_IO = 1L << 9;
    /** Bit 10 (6.16): online resize with the UPDATE_SIZE control command (new size in sectors). */
    public static final long UPDATE_SIZE = 1L << 10;
    /** Bit 11 (6.16): the request's buffer is registered on the fetching ring's fixed-buffer table for each I/O. */
    public static final long AUTO_BUF_REG = 1L << 11;
    /** Bit 12 (6.16): the QUIESCE_DEV control command (server upgrade without losing the device; needs USER_RECOVERY). */
    public static final long QUIESCE = 1L << 12;
    /** Bit 13 (6.16): each (queue, tag) may have its own serving thread instead of one per queue. */
    public static final long PER_IO_DAEMON = 1L << 13;
    /** Bit 14 (6.17): zero-copy buffers may be registered and unregistered from any thread. */
    public static final long BUF_REG_OFF_DAEMON = 1L << 14;
    /** Bit 15 (7.0): batched prepare, commit and fetch commands instead of FETCH_REQ/COMMIT_AND_FETCH_REQ. */
    public static final long BATCH_IO = 1L << 15;
    /** Bit 16 (7.0): requests may carry an integrity (metadata) buffer; needs USER_COPY. */
    public static final long INTEGRITY = 1L << 16;
    /** Bit 17 (7.0): a stop command that stops the device only while nobody has it open. */
    public static final long SAFE_STOP_DEV = 1L << 17;
    /** Bit 18 (7.0): no partition scan when the device starts. */
    public static final long NO_AUTO_PART_SCAN = 1L << 18;
    /** Bit 19 (after 7.0): shared-memory zero copy (buffers the server registers; matching requests point into them). */
    public static final long SHMEM_ZC = 1L << 19;

    private UblkFeatures() {}
}
