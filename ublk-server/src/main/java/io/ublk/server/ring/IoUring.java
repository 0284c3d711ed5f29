package io.ublk.server.ring;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.ublk.headers.Errno;
import io.ublk.headers.IoCqringOffsets;
import io.ublk.headers.IoSqringOffsets;
import io.ublk.headers.IoUringCqe;
import io.ublk.headers.IoUringEnter;
import io.ublk.headers.IoUringGeteventsArg;
import io.ublk.headers.IoUringParams;
import io.ublk.headers.IoUringRing;
import io.ublk.headers.IoUringSetup;
import io.ublk.headers.IoUringSqe;
import io.ublk.headers.KernelTimespec;
import io.ublk.headers.Libc;
import io.ublk.headers.Mman;
import io.ublk.headers.SyscallNr;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One io_uring instance: the SQ/CQ rings and the SQE array mapped into this process.
 *
 * <p>Single-owner by design: only the thread that drives the ring may call its methods (rings are
 * set up with SINGLE_ISSUER where the caller asks for it). Other threads reach the owner through a
 * queue plus a ring wake-up, never by touching the ring.
 *
 * <p>Memory ordering follows the kernel contract: the SQ tail and CQ head we own are published with
 * release stores; the SQ head and CQ tail the kernel owns are read with acquire loads. Nothing on
 * the submit/reap path allocates: SQE views are sliced once at setup, completions are delivered
 * as primitives to a {@link CompletionHandler}.
 */
public final class IoUring implements AutoCloseable {
    private static final long SYS_IO_URING_SETUP = SyscallNr.IO_URING_SETUP;
    private static final long SYS_IO_URING_ENTER = SyscallNr.IO_URING_ENTER;
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final int fd;
    private final int setupFlags;
    private final int features;
    private final Arena arena;

    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqRingSize;
    private final long cqRingSize;
    private final long sqesSize;

    private final long sqHeadOff;
    private final long sqTailOff;
    private final long sqFlagsOff;
    private final long sqDroppedOff;
    private final int sqMask;
    private final int sqEntries;
    private final long sqeSize;
    private final MemorySegment[] sqeViews;

    private final long cqHeadOff;
    private final long cqTailOff;
    private final long cqOverflowOff;
    private final long cqesOff;
    private final int cqMask;
    private final int cqEntries;
    private final long cqeSize;

    /** EXT_ARG wait argument and its timespec, reused by every timed wait. */
    private final MemorySegment waitArg;
    private final MemorySegment waitTs;

    /** SQEs handed out by {@link #nextSqe()} (free-running). */
    private int sqeTail;
    /** SQEs published to the kernel's SQ tail (free-running). */
    private int sqePublished;
    /** Our copy of the CQ head (we are its only writer). */
    private int cqHead;
    private boolean closed;

    private IoUring(int entries, int flags, int cqEntriesWanted) {
        if (entries <= 0 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("ring entries must be a power of two > 0: " + entries);
        }
        arena = Arena.ofShared();
        MemorySegment params = arena.allocate(IoUringParams.LAYOUT);
        int setFlags = flags;
        if (cqEntriesWanted > 0) {
            setFlags |= IoUringSetup.CQSIZE;
            IoUringParams.CQ_ENTRIES.set(params, cqEntriesWanted);
        }
        IoUringParams.FLAGS.set(params, setFlags);
        long res = Libc.syscall(SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        if (res < 0) {
            arena.close();
            throw new NativeException("io_uring_setup", (int) -res, "entries=" + entries + " flags=0x" + Integer.toHexString(setFlags));
        }
        fd = (int) res;
        setupFlags = setFlags;
        features = (int) IoUringParams.FEATURES.get(params);
        sqEntries = (int) IoUringParams.SQ_ENTRIES.get(params);
        cqEntries = (int) IoUringParams.CQ_ENTRIES.get(params);
        sqeSize = (setFlags & IoUringSetup.SQE128) != 0 ? IoUringSqe.SIZE_128 : IoUringSqe.SIZE;
        cqeSize = (setFlags & IoUringSetup.CQE32) != 0 ? IoUringCqe.SIZE_32 : IoUringCqe.SIZE;

        MemorySegment sqOff = params.asSlice(IoUringParams.SQ_OFF_OFFSET, IoSqringOffsets.SIZE);
        MemorySegment cqOff = params.asSlice(IoUringParams.CQ_OFF_OFFSET, IoCqringOffsets.SIZE);
        sqHeadOff = sqOff.get(JAVA_INT, IoSqringOffsets.HEAD_OFFSET);
        sqTailOff = sqOff.get(JAVA_INT, IoSqringOffsets.TAIL_OFFSET);
        sqFlagsOff = sqOff.get(JAVA_INT, IoSqringOffsets.FLAGS_OFFSET);
        sqDroppedOff = sqOff.get(JAVA_INT, IoSqringOffsets.DROPPED_OFFSET);
        long sqArrayOff = sqOff.get(JAVA_INT, IoSqringOffsets.ARRAY_OFFSET);
        long sqMaskOff = sqOff.get(JAVA_INT, IoSqringOffsets.RING_MASK_OFFSET);
        cqHeadOff = cqOff.get(JAVA_INT, IoCqringOffsets.HEAD_OFFSET);
        cqTailOff = cqOff.get(JAVA_INT, IoCqringOffsets.TAIL_OFFSET);
        cqOverflowOff = cqOff.get(JAVA_INT, IoCqringOffsets.OVERFLOW_OFFSET);
        cqesOff = cqOff.get(JAVA_INT, IoCqringOffsets.CQES_OFFSET);
        long cqMaskOff = cqOff.get(JAVA_INT, IoCqringOffsets.RING_MASK_OFFSET);

        long sqSize = sqArrayOff + (long) sqEntries * Integer.BYTES;
        long cqSize = cqesOff + (long) cqEntries * cqeSize;
        boolean single = (features & IoUringSetup.FEAT_SINGLE_MMAP) != 0;
        if (single) {
            sqSize = cqSize = Math.max(sqSize, cqSize);
        }
        MemorySegment sq = null;
        MemorySegment cq = null;
        try {
            sq = map(sqSize, IoUringRing.OFF_SQ_RING, "sq ring");
            cq = single ? sq : map(cqSize, IoUringRing.OFF_CQ_RING, "cq ring");
            sqes = map(sqeSize * sqEntries, IoUringRing.OFF_SQES, "sqes");
        } catch (RuntimeException e) {
            if (cq != null && cq != sq) {
                Libc.munmap(cq, cqSize);
            }
            if (sq != null) {
                Libc.munmap(sq, sqSize);
            }
            Libc.close(fd);
            arena.close();
            throw e;
        }
        sqRing = sq;
        cqRing = cq;
        sqRingSize = sqSize;
        cqRingSize = single ? 0 : cqSize;
        sqesSize = sqeSize * sqEntries;
        sqMask = sqRing.get(JAVA_INT, sqMaskOff);
        cqMask = cqRing.get(JAVA_INT, cqMaskOff);

        // SQ array is an indirection we do not use: SQE i always sits in slot i, set once here.
        for (int i = 0; i < sqEntries; i++) {
            sqRing.set(JAVA_INT, sqArrayOff + (long) i * Integer.BYTES, i);
        }
        sqeViews = new MemorySegment[sqEntries];
        for (int i = 0; i < sqEntries; i++) {
            sqeViews[i] = sqes.asSlice(i * sqeSize, sqeSize);
        }
        sqeTail = (int) INT.getAcquire(sqRing, sqTailOff);
        sqePublished = sqeTail;
        cqHead = (int) INT.getAcquire(cqRing, cqHeadOff);

        waitTs = arena.allocate(KernelTimespec.LAYOUT);
        waitArg = arena.allocate(IoUringGeteventsArg.LAYOUT);
        IoUringGeteventsArg.TS.set(waitArg, waitTs.address());
    }

    private MemorySegment map(long size, long offset, String what) {
        long addr = Libc.mmap(0, size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED | Mman.MAP_POPULATE, fd, offset);
        NativeException.check(addr, "mmap", what + " size=" + size);
        return MemorySegment.ofAddress(addr).reinterpret(size);
    }

    /** A ring with {@code entries} SQ entries (a power of two) and the kernel's default CQ size. */
    public static IoUring create(int entries, int flags) {
        return new IoUring(entries, flags, 0);
    }

    /** A ring with an explicit CQ size (IORING_SETUP_CQSIZE). */
    public static IoUring create(int entries, int flags, int cqEntries) {
        if (cqEntries <= 0) {
            throw new IllegalArgumentException("cq entries must be > 0: " + cqEntries);
        }
        return new IoUring(entries, flags, cqEntries);
    }

    /** The ring's file descriptor (a MSG_RING target). */
    public int fd() {
        return fd;
    }

    /** The flags the ring was set up with. */
    public int setupFlags() {
        return setupFlags;
    }

    /** IORING_FEAT_* bits the kernel reported. */
    public int features() {
        return features;
    }

    public int sqEntries() {
        return sqEntries;
    }

    public int cqEntries() {
        return cqEntries;
    }

    /** 64, or 128 with SQE128. */
    public long sqeSize() {
        return sqeSize;
    }

    /**
     * The next free SQE, zeroed, or {@code null} when every entry is taken (queued but not yet
     * consumed by the kernel): submit and reap, then retry.
     */
    public MemorySegment nextSqe() {
        int head = (int) INT.getAcquire(sqRing, sqHeadOff);
        if (sqeTail - head >= sqEntries) {
            return null;
        }
        MemorySegment sqe = sqeViews[sqeTail & sqMask];
        sqeTail++;
        sqe.fill((byte) 0);
        return sqe;
    }

    /** SQEs handed out but not yet consumed by the kernel. */
    public int pendingSubmissions() {
        return sqeTail - (int) INT.getAcquire(sqRing, sqHeadOff);
    }

    /** Publishes the queued SQEs to the kernel's tail; returns how many the kernel has yet to take. */
    private int publish() {
        if (sqePublished != sqeTail) {
            sqePublished = sqeTail;
            INT.setRelease(sqRing, sqTailOff, sqeTail);
        }
        return sqeTail - (int) INT.getAcquire(sqRing, sqHeadOff);
    }

    /** Hands the queued SQEs to the kernel without waiting; returns how many it took. */
    public int submit() {
        return enter(publish(), 0, 0);
    }

    /** Submits the queued SQEs and waits until at least {@code minComplete} completions are ready. */
    public int submitAndWait(int minComplete) {
        return enter(publish(), minComplete, IoUringEnter.GETEVENTS);
    }

    /**
     * Submits the queued SQEs and waits up to {@code timeoutNanos} for {@code minComplete}
     * completions. Also runs deferred task work and flushes overflowed completions into the CQ.
     *
     * @return the number of completions ready to {@link #drain} (may be fewer on timeout)
     */
    public int submitAndWait(int minComplete, long timeoutNanos) {
        if (timeoutNanos < 0) {
            throw new IllegalArgumentException("timeout cannot be negative: " + timeoutNanos);
        }
        KernelTimespec.TV_SEC.set(waitTs, timeoutNanos / 1_000_000_000L);
        KernelTimespec.TV_NSEC.set(waitTs, timeoutNanos % 1_000_000_000L);
        int toSubmit = publish();
        long res = Libc.syscall(SYS_IO_URING_ENTER, fd, toSubmit, minComplete,
                IoUringEnter.GETEVENTS | IoUringEnter.EXT_ARG, waitArg.address(), IoUringGeteventsArg.SIZE);
        if (res < 0 && res != -Errno.ETIME && res != -Errno.EINTR) {
            throw new NativeException("io_uring_enter", (int) -res, "wait min=" + minComplete);
        }
        return readyCompletions();
    }

    /** Non-blocking: runs deferred task work and flushes overflow, then reports ready completions. */
    public int poll() {
        enter(publish(), 0, IoUringEnter.GETEVENTS);
        return readyCompletions();
    }

    private int enter(int toSubmit, int minComplete, int flags) {
        if (toSubmit == 0 && flags == 0) {
            return 0;
        }
        while (true) {
            long res = Libc.syscall(SYS_IO_URING_ENTER, fd, toSubmit, minComplete, flags, 0, 0);
            if (res >= 0) {
                return (int) res;
            }
            if (res == -Errno.EINTR) {
                continue;
            }
            // EBUSY/EAGAIN: the CQ is backed up; the caller must reap before more can be submitted.
            if ((res == -Errno.EBUSY || res == -Errno.EAGAIN) && flags == 0) {
                return 0;
            }
            throw new NativeException("io_uring_enter", (int) -res, "submit=" + toSubmit + " min=" + minComplete);
        }
    }

    /** Completions in the CQ ring that {@link #drain} would deliver now. */
    public int readyCompletions() {
        return (int) INT.getAcquire(cqRing, cqTailOff) - cqHead;
    }

    /** True when completions overflowed the CQ and wait in the kernel (flushed by the next wait). */
    public boolean overflowPending() {
        return ((int) INT.getAcquire(sqRing, sqFlagsOff) & IoUringRing.SQ_CQ_OVERFLOW) != 0;
    }

    /** Completions the kernel had to drop (only without FEAT_NODROP). */
    public int droppedCompletions() {
        return (int) INT.getAcquire(cqRing, cqOverflowOff);
    }

    /** Invalid SQEs the kernel dropped. */
    public int droppedSubmissions() {
        return (int) INT.getAcquire(sqRing, sqDroppedOff);
    }

    /**
     * Delivers every ready completion to {@code handler} in order and frees their CQ slots.
     *
     * @return how many were delivered
     */
    public int drain(CompletionHandler handler) {
        int tail = (int) INT.getAcquire(cqRing, cqTailOff);
        int head = cqHead;
        if (head == tail) {
            return 0;
        }
        int n = 0;
        while (head != tail) {
            long off = cqesOff + (head & cqMask) * cqeSize;
            long userData = cqRing.get(JAVA_LONG, off + IoUringCqe.USER_DATA_OFFSET);
            int res = cqRing.get(JAVA_INT, off + IoUringCqe.RES_OFFSET);
            int flags = cqRing.get(JAVA_INT, off + IoUringCqe.FLAGS_OFFSET);
            head++;
            n++;
            // Free the slot before the callback: handlers may submit and wait again.
            cqHead = head;
            INT.setRelease(cqRing, cqHeadOff, head);
            handler.onCompletion(userData, res, flags);
        }
        return n;
    }

    /** Unmaps the rings and closes the ring fd; in-flight requests are cancelled by the kernel. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.munmap(sqes, sqesSize);
        if (cqRingSize != 0) {
            Libc.munmap(cqRing, cqRingSize);
        }
        Libc.munmap(sqRing, sqRingSize);
        Libc.close(fd);
        arena.close();
    }
}
