package io.ublk.headers;

/**
 * ublk I/O commands, ioctl-encoded ({@code UBLK_U_IO_*}, {@code _IOWR('u', nr, struct ublksrv_io_cmd)}):
 * the {@code cmd_op} of a URING_CMD SQE on {@code /dev/ublkcN} carrying a {@link UblksrvIoCmd}.
 * Names drop the {@code UBLK_U_IO_} prefix; the legacy plain numbers are not bound.
 */
public final class UblkIoCmd {
    /** Hand tag {@code tag} of queue {@code q_id} to the kernel; completes when a request arrives. */
    public static final int FETCH_REQ = 0xC0107520;
    /** Complete the tag's request with {@code result} and fetch the next one. */
    public static final int COMMIT_AND_FETCH_REQ = 0xC0107521;
    /** NEED_GET_DATA devices: supply the buffer for a WRITE so the kernel copies its data. */
    public static final int NEED_GET_DATA = 0xC0107522;

    private UblkIoCmd() {}
}
