package io.ublk.server.ctrl;

import io.ublk.headers.UblksrvCtrlDevInfo;
import java.lang.foreign.MemorySegment;

/**
 * A device's {@code ublksrv_ctrl_dev_info}, as sent with ADD_DEV and returned by GET_DEV_INFO.
 * Control path only, so a plain record.
 *
 * @param devId the device id, or {@link #ANY_ID} on ADD_DEV to let the kernel choose
 * @param flags {@code UBLK_F_*} bits (asked for on ADD_DEV, negotiated in the answer)
 */
public record DeviceInfo(int nrHwQueues, int queueDepth, int state, int maxIoBufBytes, int devId,
        int ublksrvPid, long flags, long ublksrvFlags, int ownerUid, int ownerGid) {

    /** ADD_DEV: let the kernel pick the id. */
    public static final int ANY_ID = -1;

    /** What a server asks for on ADD_DEV. */
    public static DeviceInfo request(int devId, int nrHwQueues, int queueDepth, int maxIoBufBytes, long flags) {
        return new DeviceInfo(nrHwQueues, queueDepth, 0, maxIoBufBytes, devId, 0, flags, 0, 0, 0);
    }

    /** {@code UBLK_S_DEV_*} by name: DEAD, LIVE, QUIESCED, FAIL_IO (6.13+), or the number. */
    public static String stateName(int state) {
        return switch (state) {
            case 0 -> "DEAD";
            case 1 -> "LIVE";
            case 2 -> "QUIESCED";
            case 3 -> "FAIL_IO";
            default -> "state " + state;
        };
    }

    void writeTo(MemorySegment s) {
        s.fill((byte) 0);
        UblksrvCtrlDevInfo.NR_HW_QUEUES.set(s, (short) nrHwQueues);
        UblksrvCtrlDevInfo.QUEUE_DEPTH.set(s, (short) queueDepth);
        UblksrvCtrlDevInfo.STATE.set(s, (short) state);
        UblksrvCtrlDevInfo.MAX_IO_BUF_BYTES.set(s, maxIoBufBytes);
        UblksrvCtrlDevInfo.DEV_ID.set(s, devId);
        UblksrvCtrlDevInfo.UBLKSRV_PID.set(s, ublksrvPid);
        UblksrvCtrlDevInfo.FLAGS.set(s, flags);
        UblksrvCtrlDevInfo.UBLKSRV_FLAGS.set(s, ublksrvFlags);
        UblksrvCtrlDevInfo.OWNER_UID.set(s, ownerUid);
        UblksrvCtrlDevInfo.OWNER_GID.set(s, ownerGid);
    }

    static DeviceInfo readFrom(MemorySegment s) {
        return new DeviceInfo(
                Short.toUnsignedInt((short) UblksrvCtrlDevInfo.NR_HW_QUEUES.get(s)),
                Short.toUnsignedInt((short) UblksrvCtrlDevInfo.QUEUE_DEPTH.get(s)),
                Short.toUnsignedInt((short) UblksrvCtrlDevInfo.STATE.get(s)),
                (int) UblksrvCtrlDevInfo.MAX_IO_BUF_BYTES.get(s),
                (int) UblksrvCtrlDevInfo.DEV_ID.get(s),
                (int) UblksrvCtrlDevInfo.UBLKSRV_PID.get(s),
                (long) UblksrvCtrlDevInfo.FLAGS.get(s),
                (long) UblksrvCtrlDevInfo.UBLKSRV_FLAGS.get(s),
                (int) UblksrvCtrlDevInfo.OWNER_UID.get(s),
                (int) UblksrvCtrlDevInfo.OWNER_GID.get(s));
    }
}
