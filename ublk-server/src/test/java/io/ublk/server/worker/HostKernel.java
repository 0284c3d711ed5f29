package io.ublk.server.worker;

import io.ublk.headers.IoUringRing;
import io.ublk.headers.IoUringSqe;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.headers.UblkIoOp;
import io.ublk.headers.UblksrvIoDesc;
import io.ublk.server.io.QueueDescriptors;
import io.ublk.server.ring.IoUring;
import io.ublk.server.ring.Sqes;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The kernel side of one ublk queue, on a host without ublk. The worker's io commands become NOPs
 * that post nothing (so the worker's ring stays real and nothing completes on its own) and are
 * recorded here; a request or an abort is a CQE this class posts on the worker's ring by MSG_RING,
 * as the driver would. A temp file stands in for {@code /dev/ublkcN}: USER_COPY reads and writes
 * land at the same positions.
 */
final class HostKernel implements IoCommands, AutoCloseable {
    /** One io command the worker issued. */
    record Command(int tag, int cmdOp, int result) {}

    private final LinkedBlockingQueue<Command> commands = new LinkedBlockingQueue<>();
    private final AtomicLongArray userDataOfTag;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment iods;
    private final IoUring ring = IoUring.create(8, 0);
    private final Path cdevFile;
    final int depth;
    final int cdevFd;
    private int workerRingFd = -1;
    private boolean cdevClosed;
    /** Tags whose command the kernel holds (so an abort is what the driver could send). */
    private final java.util.Set<Integer> held = java.util.concurrent.ConcurrentHashMap.newKeySet();

    HostKernel(int depth, Path dir) throws Exception {
        this.depth = depth;
        userDataOfTag = new AtomicLongArray(depth);
        iods = arena.allocate(UblksrvIoDesc.SIZE * depth, 8);
        cdevFile = Files.createTempFile(dir, "ublkc", "");
        cdevFd = Libc.open(cdevFile.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
    }

    QueueDescriptors descriptors() {
        return QueueDescriptors.over(iods);
    }

    /** Worker thread: the command is held here, as the driver holds a FETCH until a request comes. */
    @Override
    public void fill(MemorySegment sqe, int fd, int qid, int tag, int cmdOp, int result, long userData) {
        Sqes.nop(sqe, userData);
        IoUringSqe.FLAGS.set(sqe, (byte) IoUringRing.IOSQE_CQE_SKIP_SUCCESS);
        userDataOfTag.set(tag, userData);
        held.add(tag);
        commands.add(new Command(tag, cmdOp, result));
    }

    void bind(Worker w) {
        workerRingFd = w.ringFd();
    }

    /** The next io command the worker issued, or null after {@code millis}. */
    Command next(long millis) throws InterruptedException {
        return commands.poll(millis, TimeUnit.MILLISECONDS);
    }

    /** Hands the worker a request on {@code tag} (completes its FETCH or COMMIT_AND_FETCH). */
    void request(int tag, int op, long sector, int sectors) {
        long at = (long) tag * UblksrvIoDesc.SIZE;
        iods.set(ValueLayout.JAVA_INT, at + UblksrvIoDesc.OP_FLAGS_OFFSET, op);
        iods.set(ValueLayout.JAVA_INT, at + UblksrvIoDesc.NR_SECTORS_OFFSET, sectors);
        iods.set(ValueLayout.JAVA_LONG, at + UblksrvIoDesc.START_SECTOR_OFFSET, sector);
        post(tag, UblkIoOp.RES_OK);
    }

    /** Aborts every command the kernel holds, as STOP_DEV does. */
    void abortAll() {
        for (int tag : held.toArray(Integer[]::new)) {
            post(tag, UblkIoOp.RES_ABORT);
        }
    }

    /** The device closes its char device (the fd number is free for the next open). */
    void closeCdev() {
        cdevClosed = true;
        Libc.close(cdevFd);
    }

    private void post(int tag, int res) {
        if (!held.remove(tag)) {
            throw new IllegalStateException("the kernel holds no command for tag " + tag);
        }
        Sqes.msgRing(ring.nextSqe(), workerRingFd, res, userDataOfTag.get(tag), true, 0);
        ring.submit();
    }

    @Override
    public void close() throws Exception {
        ring.close();
        if (!cdevClosed) {
            Libc.close(cdevFd);
        }
        arena.close();
        Files.deleteIfExists(cdevFile);
    }
}
