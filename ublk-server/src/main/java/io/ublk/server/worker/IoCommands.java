package io.ublk.server.worker;

import io.ublk.headers.IoUringSqe;
import io.ublk.headers.UblksrvIoCmd;
import io.ublk.server.ring.Sqes;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How a worker hands one tag's io command (FETCH, COMMIT_AND_FETCH) to the kernel: fills the SQE
 * the worker took from its ring. {@link #URING_CMD} is the ublk driver; host tests, which have no
 * ublk, substitute a kernel of their own that answers through the same ring.
 */
@FunctionalInterface
interface IoCommands {
    /** The ublk driver: {@code IORING_OP_URING_CMD} on the queue's char device. */
    IoCommands URING_CMD = (sqe, cdevFd, qid, tag, cmdOp, result, userData) -> {
        Sqes.uringCmd(sqe, cdevFd, cmdOp, userData);
        sqe.set(ValueLayout.JAVA_SHORT, IoUringSqe.CMD_OFFSET + UblksrvIoCmd.Q_ID_OFFSET, (short) qid);
        sqe.set(ValueLayout.JAVA_SHORT, IoUringSqe.CMD_OFFSET + UblksrvIoCmd.TAG_OFFSET, (short) tag);
        sqe.set(ValueLayout.JAVA_INT, IoUringSqe.CMD_OFFSET + UblksrvIoCmd.RESULT_OFFSET, result);
    };

    /** Fills {@code sqe} with command {@code cmdOp} for {@code tag} of queue {@code qid}. */
    void fill(MemorySegment sqe, int cdevFd, int qid, int tag, int cmdOp, int result, long userData);
}
