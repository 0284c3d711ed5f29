package io.ublk.server.ring;

import io.ublk.headers.IoUringOp;
import io.ublk.headers.IoUringRing;
import io.ublk.headers.IoUringSqe;
import java.lang.foreign.MemorySegment;

/**
 * Fills zeroed SQEs from {@link IoUring#nextSqe()} for the operations this project uses.
 * Static and allocation-free: buffers are passed as segments, results come back by user_data.
 */
public final class Sqes {
    private Sqes() {}

    private static void common(MemorySegment sqe, int opcode, int fd, long userData) {
        IoUringSqe.OPCODE.set(sqe, (byte) opcode);
        IoUringSqe.FD.set(sqe, fd);
        IoUringSqe.USER_DATA.set(sqe, userData);
    }

    /** A no-op that completes with res 0. */
    public static void nop(MemorySegment sqe, long userData) {
        common(sqe, IoUringOp.NOP, -1, userData);
    }

    /** Reads {@code len} bytes at file {@code offset} into {@code buf}. */
    public static void read(MemorySegment sqe, int fd, MemorySegment buf, int len, long offset, long userData) {
        rw(sqe, IoUringOp.READ, fd, buf, len, offset, userData);
    }

    /** Writes {@code len} bytes from {@code buf} at file {@code offset}. */
    public static void write(MemorySegment sqe, int fd, MemorySegment buf, int len, long offset, long userData) {
        rw(sqe, IoUringOp.WRITE, fd, buf, len, offset, userData);
    }

    private static void rw(MemorySegment sqe, int op, int fd, MemorySegment buf, int len, long offset, long userData) {
        if (len < 0 || len > buf.byteSize()) {
            throw new IllegalArgumentException("length must be within the buffer: " + len + " > " + buf.byteSize());
        }
        common(sqe, op, fd, userData);
        IoUringSqe.ADDR.set(sqe, buf.address());
        IoUringSqe.LEN.set(sqe, len);
        IoUringSqe.OFF.set(sqe, offset);
    }

    /** Polls {@code fd} for {@code events}; multishot keeps it armed (CQE_F_MORE while armed). */
    public static void pollAdd(MemorySegment sqe, int fd, int events, boolean multishot, long userData) {
        common(sqe, IoUringOp.POLL_ADD, fd, userData);
        IoUringSqe.OP_FLAGS.set(sqe, events);
        IoUringSqe.LEN.set(sqe, multishot ? IoUringRing.POLL_ADD_MULTI : 0);
    }

    /**
     * Posts a CQE with {@code res} and {@code targetUserData} on the ring {@code targetRingFd};
     * with {@code skipLocal} the sending ring gets a CQE only if the message fails.
     */
    public static void msgRing(MemorySegment sqe, int targetRingFd, int res, long targetUserData, boolean skipLocal,
            long userData) {
        common(sqe, IoUringOp.MSG_RING, targetRingFd, userData);
        IoUringSqe.ADDR.set(sqe, (long) IoUringRing.MSG_DATA);
        IoUringSqe.LEN.set(sqe, res);
        IoUringSqe.OFF.set(sqe, targetUserData);
        if (skipLocal) {
            IoUringSqe.FLAGS.set(sqe, (byte) IoUringRing.IOSQE_CQE_SKIP_SUCCESS);
        }
    }

    /**
     * A driver command ({@code cmd_op}) on {@code fd}. The caller writes the payload at
     * {@code IoUringSqe.CMD_OFFSET} (16 bytes, 80 on an SQE128 ring); no slice is made here so the
     * I/O path stays allocation-free.
     */
    public static void uringCmd(MemorySegment sqe, int fd, int cmdOp, long userData) {
        common(sqe, IoUringOp.URING_CMD, fd, userData);
        IoUringSqe.OFF.set(sqe, Integer.toUnsignedLong(cmdOp));
    }
}
