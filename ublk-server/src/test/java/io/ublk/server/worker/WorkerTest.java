package io.ublk.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.headers.Errno;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.headers.UblkIoCmd;
import io.ublk.headers.UblkIoOp;
import io.ublk.headers.UblkUserCopy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker on the host: a real ring and pool, the ublk driver replaced by {@link HostKernel}.
 * Each test hands the worker requests and reads back the io commands it issued, in order.
 */
class WorkerTest {
    private static final int DEPTH = 4;
    private static final int LEN = 4096;
    private static final long WAIT_MS = 5_000;

    @TempDir
    Path dir;
    private Worker worker;
    private final FaultyTarget target = new FaultyTarget();

    @BeforeEach
    void startWorker() throws Exception {
        worker = new Worker(0, -1, new WorkerConfig(LEN, 4, 64, 64), this::fill);
        worker.start().get(WAIT_MS, TimeUnit.MILLISECONDS);
    }

    @AfterEach
    void stopWorker() throws Exception {
        for (HostKernel k : kernels.values()) {
            k.abortAll(); // as STOP_DEV: the worker releases the queue, then may exit
        }
        worker.requestStop();
        worker.join(WAIT_MS);
        assertThat(worker.isAlive()).as("worker alive after stop").isFalse();
        for (HostKernel k : kernels.values()) {
            k.close();
        }
    }

    // Commands of every queue go to the kernel that attached it (by cdev fd).
    private final java.util.Map<Integer, HostKernel> kernels = new java.util.concurrent.ConcurrentHashMap<>();

    private void fill(MemorySegment sqe, int fd, int qid, int tag, int cmdOp, int result, long userData) {
        kernels.get(fd).fill(sqe, fd, qid, tag, cmdOp, result, userData);
    }

    private HostKernel attach(int devId) throws Exception {
        HostKernel k = new HostKernel(DEPTH, dir);
        kernels.put(k.cdevFd, k);
        k.bind(worker);
        CompletableFuture<Void> fetched = new CompletableFuture<>();
        worker.attach(devId, 0, DEPTH, k.cdevFd, k.descriptors(), target, fetched, new CompletableFuture<>());
        fetched.get(WAIT_MS, TimeUnit.MILLISECONDS);
        for (int tag = 0; tag < DEPTH; tag++) {
            assertThat(k.next(WAIT_MS)).isEqualTo(new HostKernel.Command(tag, UblkIoCmd.FETCH_REQ, 0));
        }
        return k;
    }

    private static HostKernel.Command commit(int tag, int result) {
        return new HostKernel.Command(tag, UblkIoCmd.COMMIT_AND_FETCH_REQ, result);
    }

    @Test
    void servesAReadAndCopiesItsDataToTheCharDevice() throws Exception {
        HostKernel k = attach(1);
        k.request(2, UblkIoOp.OP_READ, 8, LEN >> 9);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(2, LEN));
        assertThat(readCdev(k.cdevFd, 2)).isEqualTo(FaultyTarget.fillByte(8L << 9));
    }

    @Test
    void aTargetThatThrowsFailsThatRequestWithEioAndTheWorkerServesOn() throws Exception {
        HostKernel k = attach(1);
        target.throwOnce = new IllegalStateException("injected target bug");
        k.request(0, UblkIoOp.OP_READ, 0, LEN >> 9);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(0, -Errno.EIO));
        target.throwOnce = new StackOverflowError("injected deep recursion");
        k.request(1, UblkIoOp.OP_FLUSH, 0, 0);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(1, -Errno.EIO));
        k.request(0, UblkIoOp.OP_READ, 0, LEN >> 9);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(0, LEN));
        assertThat(worker.isAlive()).isTrue();
        assertThat(worker.stats().targetErrors()).isEqualTo(2);
        assertThat(worker.stats().errors()).isEqualTo(2);
    }

    @Test
    void aLateAnswerWithATagNoRequestHasDoesNotThrowAtTheAnswerer() throws Exception {
        HostKernel k = attach(1);
        Thread answerer = new Thread(() -> {
            worker.complete(1_000_000, 0);
            worker.complete(-1L, 0);
        });
        CompletableFuture<Throwable> thrown = new CompletableFuture<>();
        answerer.setUncaughtExceptionHandler((t, e) -> thrown.complete(e));
        answerer.start();
        answerer.join(WAIT_MS);
        thrown.complete(null);
        assertThat(thrown.get()).isNull();
        k.request(3, UblkIoOp.OP_READ, 0, LEN >> 9);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(3, LEN));
        assertThat(worker.stats().lateAnswersDropped()).isEqualTo(2);
    }

    @Test
    void aStaleLateAnswerDoesNotCompleteTheNextRequestOnItsTag() throws Exception {
        HostKernel k = attach(1);
        target.flushLater = true;
        k.request(0, UblkIoOp.OP_FLUSH, 0, 0);
        long first = target.pendingTag.take();
        worker.complete(first, 0);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(0, 0));
        k.request(0, UblkIoOp.OP_FLUSH, 0, 0); // the next request on tag 0, still pending at the target
        long second = target.pendingTag.take();
        worker.complete(first, 0); // the target answers the first request twice
        target.flushLater = false;
        k.request(1, UblkIoOp.OP_FLUSH, 0, 0); // a fence: the worker drains answers before this CQE
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(1, 0));
        worker.complete(second, -Errno.ENOSPC);
        assertThat(k.next(WAIT_MS)).isEqualTo(commit(0, -Errno.ENOSPC));
        assertThat(worker.stats().lateAnswersDropped()).isEqualTo(1);
    }

    /**
     * Late answers from another thread, one or two in flight, for many rounds: each answer lands
     * while the worker is busy, about to sleep or asleep, so a lost wake-up (the worker asleep in
     * io_uring_enter with an answer queued) stops the test at once.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void lateAnswersFromAnotherThreadAtQd1AndQd2AreNeverLost(int depth) throws Exception {
        HostKernel k = attach(1);
        target.flushLater = true;
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread answerer = new Thread(() -> {
            java.util.Random r = new java.util.Random(depth);
            while (!stop.get()) {
                try {
                    Long tag = target.pendingTag.poll(10, TimeUnit.MILLISECONDS);
                    if (tag == null) {
                        continue;
                    }
                    int spin = r.nextInt(4);
                    if (spin == 1) {
                        Thread.onSpinWait();
                    } else if (spin == 2) {
                        Thread.yield();
                    } else if (spin == 3) {
                        java.util.concurrent.locks.LockSupport.parkNanos(r.nextInt(20_000));
                    }
                    worker.complete(tag, 0);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "answerer");
        answerer.start();
        try {
            int rounds = 20_000 / depth;
            for (int round = 0; round < rounds; round++) {
                for (int tag = 0; tag < depth; tag++) {
                    k.request(tag, UblkIoOp.OP_FLUSH, 0, 0);
                }
                for (int i = 0; i < depth; i++) {
                    HostKernel.Command c = k.next(WAIT_MS);
                    assertThat(c).as("round %d of %d at QD%d: an answer that never came back", round, rounds, depth)
                            .isNotNull();
                    assertThat(c.cmdOp()).isEqualTo(UblkIoCmd.COMMIT_AND_FETCH_REQ);
                    assertThat(c.result()).as("round %d tag %d", round, c.tag()).isZero();
                }
            }
        } finally {
            stop.set(true);
            answerer.join(WAIT_MS);
            target.flushLater = false;
        }
        assertThat(worker.stats().lateAnswersDropped()).isZero();
    }

    @Test
    void aLateAnswerAfterTheQueueWasDetachedTouchesNeitherItsFdNorTheKernel() throws Exception {
        HostKernel gone = attach(1);
        HostKernel fence = attach(2);
        target.readLater = true;
        gone.request(0, UblkIoOp.OP_READ, 0, LEN >> 9);
        long tag = target.pendingTag.take();
        target.readLater = false;
        // The release wait timed out: the device detaches the queue, and only then closes its char
        // device; the fd number goes to the next open, as it would in a server.
        worker.detach(1, 0).get(WAIT_MS, TimeUnit.MILLISECONDS);
        int fd = gone.cdevFd;
        gone.closeCdev();
        Path other = Files.createTempFile(dir, "reused", "");
        int reused = Libc.open(other.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        try {
            assertThat(reused).isEqualTo(fd);
            worker.complete(tag, LEN);
            fence.request(0, UblkIoOp.OP_READ, 0, LEN >> 9);
            assertThat(fence.next(WAIT_MS)).isEqualTo(commit(0, LEN));
            assertThat(Files.size(other)).as("bytes the late answer wrote to the reused fd").isZero();
            assertThat(gone.next(0)).as("a command for the detached queue").isNull();
            assertThat(worker.stats().lateAnswersDropped()).isEqualTo(1);
        } finally {
            Libc.close(reused);
        }
    }

    @Test
    void aWriteWaitingForRoomAtItsTargetHoldsNoBounceSlot() throws Exception {
        HostKernel stalled = attach(1);
        HostKernel healthy = attach(2);
        target.stallWrites = true; // as a cache whose store is down and whose dirty bound is reached
        for (int tag = 0; tag < DEPTH; tag++) {
            writeCdev(stalled.cdevFd, tag); // the data the worker's USER_COPY pread takes
        }
        for (int tag = 0; tag < DEPTH; tag++) {
            stalled.request(tag, UblkIoOp.OP_WRITE, tag * 8L, LEN >> 9);
        }
        long[] waiting = new long[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            Long t = target.admissions.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            assertThat(t).as("write %d asked its target for room before taking a slot", i).isNotNull();
            waiting[i] = t;
        }
        assertThat(worker.stats().pool().inUse()).as("slots held by the waiting writes").isZero();
        // the pool has as many slots as the stalled device has tags: the other device is served
        healthy.request(0, UblkIoOp.OP_READ, 0, LEN >> 9);
        assertThat(healthy.next(WAIT_MS)).isEqualTo(commit(0, LEN));
        target.stallWrites = false;
        for (long t : waiting) {
            worker.complete(t, 0); // room now: each write takes a slot and runs
        }
        java.util.Set<HostKernel.Command> commits = new java.util.HashSet<>();
        for (int i = 0; i < DEPTH; i++) {
            commits.add(stalled.next(WAIT_MS));
        }
        assertThat(commits).containsExactlyInAnyOrder(commit(0, LEN), commit(1, LEN), commit(2, LEN), commit(3, LEN));
        assertThat(target.writes.get()).isEqualTo(DEPTH);
    }

    private static void writeCdev(int fd, int tag) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(LEN);
            buf.fill((byte) (tag + 1));
            assertThat(Libc.pwrite(fd, buf, LEN, UblkUserCopy.position(0, tag, 0))).isEqualTo(LEN);
        }
    }

    private static byte readCdev(int fd, int tag) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(LEN);
            assertThat(Libc.pread(fd, buf, LEN, UblkUserCopy.position(0, tag, 0))).isEqualTo(LEN);
            return buf.get(ValueLayout.JAVA_BYTE, LEN - 1);
        }
    }

    /** Fills reads with a byte derived from the offset; throws or answers late on demand. */
    static final class FaultyTarget implements BlockTarget {
        volatile Throwable throwOnce;
        volatile boolean flushLater;
        volatile boolean readLater;
        final java.util.concurrent.LinkedBlockingQueue<Long> pendingTag = new java.util.concurrent.LinkedBlockingQueue<>();
        final AtomicLong calls = new AtomicLong();
        /** Writes wait for room: admissions answer later; a write that comes anyway waits too, holding its slot. */
        volatile boolean stallWrites;
        final java.util.concurrent.LinkedBlockingQueue<Long> admissions = new java.util.concurrent.LinkedBlockingQueue<>();
        final AtomicLong writes = new AtomicLong();

        static byte fillByte(long offset) {
            return (byte) (offset >> 9 | 1);
        }

        private void maybeThrow() {
            calls.incrementAndGet();
            Throwable t = throwOnce;
            if (t != null) {
                throwOnce = null;
                if (t instanceof RuntimeException r) {
                    throw r;
                }
                throw (Error) t;
            }
        }

        @Override
        public long size() {
            return 1L << 20;
        }

        @Override
        public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
            maybeThrow();
            dst.asSlice(0, length).fill(fillByte(offset));
            if (readLater) {
                pendingTag.add(tag);
                return PENDING;
            }
            return length;
        }

        @Override
        public int admit(long offset, int length, long tag, Completion done) {
            if (stallWrites) {
                admissions.add(tag);
                return PENDING;
            }
            return 0;
        }

        @Override
        public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
            maybeThrow();
            if (stallWrites) {
                admissions.add(tag);
                return PENDING; // holds the slot until answered
            }
            writes.incrementAndGet();
            return length;
        }

        @Override
        public int flush(long tag, Completion done) {
            maybeThrow();
            if (flushLater) {
                pendingTag.add(tag);
                return PENDING;
            }
            return 0;
        }

        @Override
        public int discard(long offset, long length, long tag, Completion done) {
            maybeThrow();
            return 0;
        }

        @Override
        public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
            maybeThrow();
            return 0;
        }
    }
}
