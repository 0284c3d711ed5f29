package io.ublk.server.ctrl;

import io.ublk.headers.Errno;
import io.ublk.headers.IoUringSetup;
import io.ublk.headers.IoUringSqe;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.headers.UblkCtrlCmd;
import io.ublk.headers.UblksrvCtrlCmd;
import io.ublk.headers.UblksrvCtrlDevInfo;
import io.ublk.server.cpu.CpuSet;
import io.ublk.server.ring.IoUring;
import io.ublk.server.ring.Sqes;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The ublk control plane: commands to {@code /dev/ublk-control}, sent as io_uring URING_CMDs on a
 * private SQE128 ring (the 32-byte {@code ublksrv_ctrl_cmd} lives in the SQE's {@code cmd[]}).
 *
 * <p>Commands are serialised (control path, not hot) and each has a deadline: a command the kernel
 * does not answer in time is reported with {@link ControlTimeoutException} instead of hanging the
 * caller. Its payload buffer stays alive until the kernel answers or the control is closed, since
 * the kernel may still write to it.
 */
public final class UblkControl implements AutoCloseable {
    /** The control device the ublk driver creates. */
    public static final Path CONTROL_PATH = Path.of("/dev/ublk-control");
    /** {@code queue_id} for commands that are not about a queue. */
    private static final short NO_QUEUE = (short) 0xFFFF;

    private final int fd;
    private final IoUring ring;
    private final Duration deadline;
    /** Payload arenas of commands that timed out, by user_data; freed when their CQE arrives. */
    private final Map<Long, Arena> abandoned = new HashMap<>();
    private long nextUserData = 1;
    private long completedUserData;
    private int completedRes;

    private UblkControl(int fd, IoUring ring, Duration deadline) {
        this.fd = fd;
        this.ring = ring;
        this.deadline = deadline;
    }

    /**
     * Opens the control device.
     *
     * @param deadline how long any one command may take before it is reported as stuck
     * @throws UblkUnavailableException when this kernel has no ublk driver loaded
     */
    public static UblkControl open(Duration deadline) {
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("control deadline must be positive: " + deadline);
        }
        if (!Files.exists(CONTROL_PATH)) {
            throw new UblkUnavailableException("ublk is not available: " + CONTROL_PATH
                    + " does not exist (load the ublk_drv module; the kernel needs CONFIG_BLK_DEV_UBLK)");
        }
        int fd = Libc.open(CONTROL_PATH.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        NativeException.check(fd, "open", CONTROL_PATH.toString());
        try {
            return new UblkControl(fd, IoUring.create(4, IoUringSetup.SQE128), deadline);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** GET_FEATURES: the {@code UBLK_F_*} bits this kernel supports. */
    public synchronized long features() {
        Arena arena = Arena.ofShared();
        MemorySegment buf = arena.allocate(UblkCtrlCmd.FEATURES_LEN, 8);
        run(UblkCtrlCmd.GET_FEATURES, "GET_FEATURES", DeviceInfo.ANY_ID, buf, 0, arena, true);
        long features = buf.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
        arena.close();
        return features;
    }

    /** ADD_DEV: creates {@code /dev/ublkcN}; returns the kernel's answer (id, negotiated flags). */
    public synchronized DeviceInfo addDevice(DeviceInfo wanted) {
        Arena arena = Arena.ofShared();
        MemorySegment info = arena.allocate(UblksrvCtrlDevInfo.LAYOUT);
        wanted.writeTo(info);
        run(UblkCtrlCmd.ADD_DEV, "ADD_DEV", wanted.devId(), info, 0, arena, true);
        try {
            return DeviceInfo.readFrom(info);
        } finally {
            arena.close();
        }
    }

    /** GET_DEV_INFO: the device's current info (state, flags, server pid). */
    public synchronized DeviceInfo deviceInfo(int devId) {
        Arena arena = Arena.ofShared();
        MemorySegment info = arena.allocate(UblksrvCtrlDevInfo.LAYOUT);
        run(UblkCtrlCmd.GET_DEV_INFO, "GET_DEV_INFO", devId, info, 0, arena, true);
        try {
            return DeviceInfo.readFrom(info);
        } finally {
            arena.close();
        }
    }

    /** SET_PARAMS: {@code params} is a filled {@code ublk_params} whose {@code len} says how much to send. */
    public synchronized void setParams(int devId, MemorySegment params) {
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate(params.byteSize(), 8).copyFrom(params);
        run(UblkCtrlCmd.SET_PARAMS, "SET_PARAMS", devId, copy, 0, arena, true);
        arena.close();
    }

    /**
     * GET_PARAMS into {@code params}, whose {@code len} field must say how many bytes the caller
     * can take; the kernel fills in what it knows and sets {@code types}.
     */
    public synchronized void params(int devId, MemorySegment params) {
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate(params.byteSize(), 8).copyFrom(params);
        run(UblkCtrlCmd.GET_PARAMS, "GET_PARAMS", devId, copy, 0, arena, true);
        params.copyFrom(copy);
        arena.close();
    }

    /** GET_QUEUE_AFFINITY: the CPUs whose I/O the kernel maps to queue {@code qid} (blk-mq). */
    public synchronized BitSet queueAffinity(int devId, int qid) {
        Arena arena = Arena.ofShared();
        MemorySegment mask = arena.allocate(CpuSet.MASK_BYTES, 8);
        run(UblkCtrlCmd.GET_QUEUE_AFFINITY, "GET_QUEUE_AFFINITY", devId, (short) qid, mask, 0, arena, true);
        BitSet cpus = CpuSet.fromMask(mask);
        arena.close();
        return cpus;
    }

    /**
     * START_DEV: publishes {@code /dev/ublkbN}. Waits (in the kernel) until every tag was fetched,
     * so call it from a thread that is not a queue worker.
     */
    public synchronized void startDevice(int devId, int serverPid) {
        run(UblkCtrlCmd.START_DEV, "START_DEV", devId, null, serverPid, null, false);
    }

    /** STOP_DEV: removes the block device; in-flight fetches complete with -ENODEV. */
    public synchronized void stopDevice(int devId) {
        run(UblkCtrlCmd.STOP_DEV, "STOP_DEV", devId, null, 0, null, false);
    }

    /**
     * START_USER_RECOVERY with the control's deadline as the retry window; see
     * {@link #startUserRecovery(int, Duration)}.
     */
    public void startUserRecovery(int devId) {
        startUserRecovery(devId, deadline);
    }

    /**
     * START_USER_RECOVERY: the kernel forgets the dead server of a device created with
     * USER_RECOVERY (its queues are reset for new FETCHes, its I/O stays queued). The kernel answers
     * EBUSY until it has quiesced the old server's queues and the old server's char device is fully
     * released (fd closed, descriptors unmapped, its io_uring gone), so EBUSY is retried with short
     * sleeps until {@code retryFor} has passed. Any other errno fails at once. Each attempt has the
     * control's own deadline. Not synchronized as a whole: other commands on this channel may run
     * between the attempts.
     *
     * @throws NativeException naming the errno (EBUSY after the retry window, with the device's
     *     state and server pid as the kernel reports them then)
     */
    public void startUserRecovery(int devId, Duration retryFor) {
        long until = System.nanoTime() + retryFor.toNanos();
        long sleepMs = 5;
        int attempts = 0;
        while (true) {
            attempts++;
            try {
                runOnce(UblkCtrlCmd.START_USER_RECOVERY, "START_USER_RECOVERY", devId, 0);
                return;
            } catch (NativeException e) {
                if (e.errno() != Errno.EBUSY) {
                    throw e.errno() == Errno.EINVAL
                            ? new NativeException("ublk START_USER_RECOVERY", e.errno(), "device " + devId
                                    + ": not created with USER_RECOVERY, or no queue of it is ready (never started,"
                                    + " or an earlier recovery attempt stopped before a whole queue was fetched)")
                            : e;
                }
                if (System.nanoTime() - until >= 0) {
                    throw new NativeException("ublk START_USER_RECOVERY", Errno.EBUSY, "device " + devId
                            + " still busy after " + attempts + " attempts in " + retryFor.toMillis() + " ms: "
                            + busyReason(devId));
                }
            }
            try {
                Thread.sleep(sleepMs);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted retrying START_USER_RECOVERY for device " + devId, ie);
            }
            sleepMs = Math.min(100, sleepMs * 2);
        }
    }

    /** What the kernel says about a device START_USER_RECOVERY keeps refusing (for the message). */
    private String busyReason(int devId) {
        try {
            DeviceInfo info = deviceInfo(devId);
            String pid = info.ublksrvPid() > 0 && Files.exists(Path.of("/proc/" + info.ublksrvPid()))
                    ? "its server pid " + info.ublksrvPid() + " still exists"
                    : "server pid " + info.ublksrvPid() + " is gone";
            return "state " + DeviceInfo.stateName(info.state()) + ", " + pid
                    + " (the kernel waits until the old server's queues are quiesced and /dev/ublkc" + devId
                    + " is released by every process)";
        } catch (RuntimeException e) {
            return "GET_DEV_INFO failed too: " + e.getMessage();
        }
    }

    /**
     * END_USER_RECOVERY: the device is served again by {@code serverPid}; the kernel unquiesces it
     * and re-sends the queued requests. Waits (in the kernel) until every tag of every queue was
     * fetched, so call it from a thread that is not a queue worker, after the FETCHes.
     */
    public synchronized void endUserRecovery(int devId, int serverPid) {
        run(UblkCtrlCmd.END_USER_RECOVERY, "END_USER_RECOVERY", devId, null, serverPid, null, false);
    }

    private synchronized void runOnce(int cmdOp, String name, int devId, long data0) {
        run(cmdOp, name, devId, null, data0, null, false);
    }

    /** DEL_DEV: removes {@code /dev/ublkcN}; the kernel waits until its fds and mmaps are released. */
    public synchronized void deleteDevice(int devId) {
        run(UblkCtrlCmd.DEL_DEV, "DEL_DEV", devId, null, 0, null, false);
    }

    /**
     * Submits one command and waits for its answer within the deadline.
     *
     * @param arena owns {@code buf}; with {@code keepOnTimeout} it is handed to {@link #abandoned}
     *     when the command times out, otherwise the caller closes it
     */
    private int run(int cmdOp, String name, int devId, MemorySegment buf, long data0, Arena arena,
            boolean keepOnTimeout) {
        return run(cmdOp, name, devId, NO_QUEUE, buf, data0, arena, keepOnTimeout);
    }

    private int run(int cmdOp, String name, int devId, short queueId, MemorySegment buf, long data0, Arena arena,
            boolean keepOnTimeout) {
        long userData = nextUserData++;
        MemorySegment sqe = ring.nextSqe();
        if (sqe == null) {
            throw new ControlTimeoutException("ublk control ring is full of stuck commands; restart the server");
        }
        Sqes.uringCmd(sqe, fd, cmdOp, userData);
        MemorySegment cmd = sqe.asSlice(IoUringSqe.CMD_OFFSET, UblksrvCtrlCmd.SIZE);
        UblksrvCtrlCmd.DEV_ID.set(cmd, devId);
        UblksrvCtrlCmd.QUEUE_ID.set(cmd, queueId);
        if (buf != null) {
            UblksrvCtrlCmd.ADDR.set(cmd, buf.address());
            UblksrvCtrlCmd.LEN.set(cmd, (short) buf.byteSize());
        }
        UblksrvCtrlCmd.DATA.set(cmd, data0);

        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        completedUserData = 0;
        ring.submit();
        while (true) {
            ring.drain(this::onCompletion);
            if (completedUserData == userData) {
                break;
            }
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                if (keepOnTimeout && arena != null) {
                    abandoned.put(userData, arena);
                }
                throw new ControlTimeoutException("ublk " + name + " for device " + devId + " did not complete within "
                        + deadline.toMillis() + " ms");
            }
            ring.submitAndWait(1, left);
        }
        if (completedRes < 0) {
            throw new NativeException("ublk " + name, -completedRes, "device " + devId);
        }
        return completedRes;
    }

    private void onCompletion(long userData, int res, int flags) {
        Arena late = abandoned.remove(userData);
        if (late != null) {
            late.close();
            return;
        }
        completedUserData = userData;
        completedRes = res;
    }

    @Override
    public synchronized void close() {
        ring.close();
        Libc.close(fd);
        abandoned.values().forEach(Arena::close);
        abandoned.clear();
    }
}
