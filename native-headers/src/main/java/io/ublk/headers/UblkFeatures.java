package io.ublk.headers;

/**
 * Device feature bits ({@code UBLK_F_*}, Linux 6.12): {@code UblksrvCtrlDevInfo.flags} and the
 * GET_FEATURES answer. Names drop the {@code UBLK_F_} prefix. Later kernels add bits 9 and up
 * (USER_RECOVERY_FAIL_IO, UPDATE_SIZE, AUTO_BUF_REG, QUIESCE, PER_IO_DAEMON...): not in 6.12.
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

    private UblkFeatures() {}
}
