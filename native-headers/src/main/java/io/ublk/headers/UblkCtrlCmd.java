package io.ublk.headers;

/**
 * ublk control commands, ioctl-encoded ({@code UBLK_U_CMD_*}, type 'u', size
 * {@code sizeof(struct ublksrv_ctrl_cmd)} = 32): the {@code cmd_op} (u32) of a URING_CMD SQE on
 * {@code /dev/ublk-control}. Names drop the {@code UBLK_U_CMD_} prefix. The legacy plain numbers
 * ({@code UBLK_CMD_*}, "don't use in new application") are not bound.
 */
public final class UblkCtrlCmd {
    /** {@code _IOR('u', 0x01)}: CPU affinity mask of queue {@code queue_id} into {@code addr}. */
    public static final int GET_QUEUE_AFFINITY = 0x80207501;
    /** {@code _IOR('u', 0x02)}: {@link UblksrvCtrlDevInfo} into {@code addr}. */
    public static final int GET_DEV_INFO = 0x80207502;
    /** {@code _IOWR('u', 0x04)}: create a device from the {@link UblksrvCtrlDevInfo} at {@code addr}. */
    public static final int ADD_DEV = 0xC0207504;
    /** {@code _IOWR('u', 0x05)}: delete a device (waits until it is closed and unmapped). */
    public static final int DEL_DEV = 0xC0207505;
    /** {@code _IOWR('u', 0x06)}: start the disk; {@code data[0]} = server pid. */
    public static final int START_DEV = 0xC0207506;
    /** {@code _IOWR('u', 0x07)}: stop the disk. */
    public static final int STOP_DEV = 0xC0207507;
    /** {@code _IOWR('u', 0x08)}: set {@link UblkParams} from {@code addr} (before START_DEV). */
    public static final int SET_PARAMS = 0xC0207508;
    /** {@code _IOR('u', 0x09)}: {@link UblkParams} into {@code addr}. */
    public static final int GET_PARAMS = 0x80207509;
    /** {@code _IOWR('u', 0x10)}: begin recovery of a quiesced device (USER_RECOVERY). */
    public static final int START_USER_RECOVERY = 0xC0207510;
    /** {@code _IOWR('u', 0x11)}: end recovery; {@code data[0]} = new server pid. */
    public static final int END_USER_RECOVERY = 0xC0207511;
    /** {@code _IOR('u', 0x12)}: GET_DEV_INFO with the char-device path check (unprivileged devices). */
    public static final int GET_DEV_INFO2 = 0x80207512;
    /** {@code _IOR('u', 0x13)}: supported {@code UBLK_F_*} bits (u64) into {@code addr}; no device needed. */
    public static final int GET_FEATURES = 0x80207513;
    /** {@code _IOR('u', 0x14)}: delete without waiting for the device to be released. */
    public static final int DEL_DEV_ASYNC = 0x80207514;
    /** {@code UBLK_FEATURES_LEN}: bytes GET_FEATURES writes. */
    public static final int FEATURES_LEN = 8;

    private UblkCtrlCmd() {}
}
