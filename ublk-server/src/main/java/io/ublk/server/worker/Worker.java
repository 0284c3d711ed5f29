package io.ublk.server.worker;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.blockcache.IoFlags;
import io.ublk.headers.Errno;
import io.ublk.headers.EventFd;
import io.ublk.headers.IoUringRing;
import io.ublk.headers.IoUringSetup;
import io.ublk.headers.Libc;
import io.ublk.headers.UblkIoCmd;
import io.ublk.headers.UblkIoOp;
import io.ublk.headers.UblkUserCopy;
import io.ublk.server.buffer.BouncePool;
import io.ublk.server.buffer.BouncePoolStats;
import io.ublk.server.buffer.SlotWaiter;
import io.ublk.server.cpu.CpuSet;
import io.ublk.server.ring.CompletionHandler;
import io.ublk.server.ring.IoUring;
import io.ublk.server.ring.Sqes;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pinned worker: one thread, one io_uring, one bounce pool, serving the queues of many devices.
 *
 * <p><b>Start.</b> The thread pins itself to its CPU before it touches anything it owns, then
 * creates its ring (SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN when the kernel has them) and maps
 * and pre-faults its pool, so first-touch puts both on the CPU's NUMA node.
 *
 * <p><b>Requests.</b> Each tag of each attached queue has a request id ({@code queue.base + tag})
 * indexing the per-request arrays below; user_data and target tags carry that id, never an object.
 * A request moves: FETCHING (the kernel holds our command) -> [PREPARE] -> [WAIT_SLOT] -> TARGET ->
 * COMMIT_AND_FETCH. A READ asks the target to prefetch, and a WRITE asks it for room (admission),
 * before either takes a slot, so no slot waits on a slow store or a full cache. Targets that answer inline are served on this thread without a hop; late answers
 * come back through {@link #answers} plus an eventfd wake-up on the ring.
 *
 * <p><b>Others.</b> Other threads never touch the ring: they post {@link WorkerMessage}s and wake the
 * worker through its eventfd.
 */
public final class Worker implements Completion, SlotWaiter {
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

    // user_data: kind in the high bits, request id in the low 32.
    private static final long KIND_IO = 1L << 32;
    private static final long KIND_WAKE = 2L << 32;

    /** Largest errno the kernel takes as a result; anything more negative is not an errno (e.g. PENDING). */
    private static final int MAX_ERRNO = 4095;
    /** At most one line per queue this often about a target that throws: a failing target is an I/O storm. */
    private static final long TARGET_ERROR_LOG_NANOS = 10_000_000_000L;

    // Request states.
    private static final byte FREE = 0;
    private static final byte FETCHING = 1;
    /** Waiting for the target before taking a slot: a READ's prefetch, a WRITE's admission. */
    private static final byte PREPARE = 2;
    private static final byte WAIT_SLOT = 3;
    private static final byte TARGET = 4;
    private static final byte DEAD = 5;
    /**
     * Handed to us while the worker leaves: never served, never committed. The kernel takes it back
     * when the ring closes (USER_RECOVERY_REISSUE: it is re-sent to the next server).
     */
    private static final byte HELD = 6;
    /** While leaving, the loop looks at the clock at least this often. */
    private static final long LEAVE_POLL_NANOS = 10_000_000L;
    /**
     * While leaving, the ring closes only once no request has come for this long: a request the
     * kernel dispatches to us after the ring is closed, before its cancel work has marked the queue
     * canceling, is stuck on 6.12 (its task work waits on the ring's DEFER_TASKRUN list, which only
     * this thread runs, while the ring's exit work keeps skipping its started request): the device
     * never quiesces and cannot even be stopped. Holding until the clients have no more to send
     * (their requests all held here) keeps that window empty for clients with bounded queue depth.
     */
    private static final long LEAVE_QUIET_NANOS = 500_000_000L;

    /** One eventfd increment, shared read-only by every waking thread. */
    private static final MemorySegment ONE = oneSegment();

    private static MemorySegment oneSegment() {
        MemorySegment s = Arena.global().allocate(ValueLayout.JAVA_LONG);
        s.set(ValueLayout.JAVA_LONG, 0, 1L);
        return s;
    }

    private final int index;
    private final int cpu;
    private final WorkerConfig config;
    private final IoCommands commands;
    private final Thread thread;
    private final ConcurrentLinkedQueue<WorkerMessage> inbox = new ConcurrentLinkedQueue<>();
    private final LongMpscQueue answers;
    private final AtomicBoolean sleeping = new AtomicBoolean();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final int eventFd;
    private volatile boolean stopRequested;
    /** {@link #leave}: stop serving, drain the targets, close the ring with the commands in it. */
    private volatile boolean leaving;
    private volatile long leaveDrainNanos;
    /** Worker thread: when the last request was held while leaving. */
    private long lastHeldAt;
    /** Completes when the ring is closed after a leave: true when no request was left at a target. */
    private final CompletableFuture<Boolean> left = new CompletableFuture<>();
    /** Set before the eventfd is closed; wake() stops writing to it from then on. */
    private volatile boolean exited;
    /** Tags placed on this worker (placement load): added at placement, removed at release. */
    private final AtomicInteger load = new AtomicInteger();

    // Owned by the worker thread from here on.
    private IoUring ring;
    private volatile BouncePool pool;
    private MemorySegment eventBuf;
    private final ServedQueue[] queueOf;
    private final byte[] state;
    private final int[] slotOf;
    private final int[] opFlags;
    private final long[] offset;
    private final int[] length;
    /**
     * Bumped for each request an id carries; the target's tag is {@code generation << 32 | id}, so
     * an answer for an earlier request on the same id (a target answering twice, or after it threw)
     * is recognised and dropped without a lookup or an allocation.
     */
    private final int[] generation;
    /** Slot hand-offs from the pool, served from the loop (not from inside release, to bound the stack). */
    private final long[] handoffIds;
    private final int[] handoffSlots;
    private final int handoffMask;
    private int handoffHead;
    private int handoffTail;
    private final BitSet usedIds = new BitSet();
    private int queuesAttached;

    // Statistics: written by the worker only; readers see a recent value.
    private long requests;
    private long inlineAnswers;
    private long lateAnswers;
    private long errors;
    private long targetErrors;
    private long droppedAnswers;
    /** The queues attached, for detach (control path only). */
    private final List<ServedQueue> served = new ArrayList<>();
    /** Answers refused off the worker thread (a tag no request has, a full queue): any answering thread. */
    private final AtomicLong refusedAnswers = new AtomicLong();

    private final CompletionHandler onCqe = this::onCqe;
    private final LongMpscQueue.LongConsumer onAnswer = this::onAnswer;

    Worker(int index, int cpu, WorkerConfig config) {
        this(index, cpu, config, IoCommands.URING_CMD);
    }

    /** A worker whose io commands go to {@code commands} (host tests: a kernel of their own). */
    Worker(int index, int cpu, WorkerConfig config, IoCommands commands) {
        this.index = index;
        this.cpu = cpu;
        this.config = config;
        this.commands = commands;
        int ids = config.maxTags();
        int pow2 = Math.max(2, Integer.highestOneBit(ids - 1) << 1);
        answers = new LongMpscQueue(pow2 * 2); // headroom: stale answers must not crowd out live ones
        queueOf = new ServedQueue[ids];
        state = new byte[ids];
        slotOf = new int[ids];
        opFlags = new int[ids];
        offset = new long[ids];
        length = new int[ids];
        generation = new int[ids];
        handoffIds = new long[pow2];
        handoffSlots = new int[pow2];
        handoffMask = pow2 - 1;
        eventFd = NativeException.check(Libc.eventfd(0, EventFd.EFD_CLOEXEC | EventFd.EFD_NONBLOCK), "eventfd", "");
        thread = new Thread(this::run, "ublk-worker-" + index + (cpu >= 0 ? "-cpu" + cpu : ""));
        thread.setDaemon(true);
    }

    /** Starts the thread; the future completes once the ring and pool exist. */
    CompletableFuture<Void> start() {
        thread.start();
        return started;
    }

    public int index() {
        return index;
    }

    /** The CPU this worker is pinned to, or -1 when unpinned. */
    public int cpu() {
        return cpu;
    }

    /** Tags placed on this worker: the placement load. */
    public int load() {
        return load.get();
    }

    /** Placement took {@code tags} more tags for this worker. */
    void addLoad(int tags) {
        load.addAndGet(tags);
    }

    /** A snapshot of this worker's counters (racy but cheap). */
    public WorkerStats stats() {
        BouncePool p = pool;
        BouncePoolStats ps = p == null ? null : p.stats();
        return new WorkerStats(index, cpu, queuesAttached, load.get(), requests, inlineAnswers, lateAnswers, errors,
                targetErrors, droppedAnswers + refusedAnswers.get(), ps);
    }

    /**
     * Attaches a device queue: the worker takes request ids for its tags and FETCHes every tag.
     * {@code fetched} completes when the fetches are in the kernel; {@code finished} when the
     * kernel aborted every tag (after STOP_DEV).
     */
    public void attach(int devId, int qid, int depth, int cdevFd, io.ublk.server.io.QueueDescriptors descriptors,
            BlockTarget target, CompletableFuture<Void> fetched, CompletableFuture<Void> finished) {
        if (leaving) {
            load.addAndGet(-depth);
            fetched.completeExceptionally(new IllegalStateException("worker " + index
                    + " left its queues to the next server; it attaches no more"));
            return;
        }
        // the target view this worker serves through (the cache binds it to the worker's journal lane)
        post(new WorkerMessage.Attach(new ServedQueue(devId, qid, depth, cdevFd, descriptors, target.lane(index), fetched,
                finished)));
    }

    /**
     * Lets go of a queue whose release did not come (STOP_DEV or the release wait timed out): once
     * the returned future completes, this worker never again touches the queue's char device fd or
     * descriptors, so the device may close and unmap them. Requests still at the target are dropped
     * when they answer (counted); the queue's ids stay taken until every one of them came back.
     */
    public CompletableFuture<Void> detach(int devId, int qid) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        post(new WorkerMessage.Detach(devId, qid, done));
        return done;
    }

    /**
     * Leaves every queue on this worker to the kernel for a later server (USER_RECOVERY), without
     * STOP_DEV: the worker stops serving new requests (they stay uncommitted, {@code HELD}), lets the
     * requests already at a target answer and commits them, and waits until no new request came for
     * half a second (see {@code LEAVE_QUIET_NANOS}), for at most {@code drain}; then closes
     * its ring with every FETCH and held request still in it and exits. Closing the ring is what
     * makes the kernel let go: io_uring cancels the cancelable ublk commands
     * ({@code ublk_uring_cmd_cancel_fn}), which aborts the queue (held requests are requeued) and
     * schedules the quiesce work; the device turns QUIESCED with its I/O queued. On 6.12 nothing
     * else does, short of STOP_DEV: closing the char device fd does not ({@code ublk_ch_release}
     * only clears the open bit), and the ring holds a file reference until it is closed anyway.
     *
     * <p>The future completes once the ring is closed: true when every target answered; false when
     * some had not within {@code drain} (their late answers are then never delivered, and the bounce
     * pool and eventfd are leaked, not unmapped, since a target may still write into a slot). The
     * thread exits right after; join it before a START_USER_RECOVERY of its devices (the kernel
     * expects the old queue owner to be an exiting task).
     */
    public CompletableFuture<Boolean> leave(java.time.Duration drain) {
        leaveDrainNanos = Math.max(0, drain.toNanos());
        leaving = true;
        wake();
        return left;
    }

    /** True once this worker left ({@link #leave}) and its thread has exited. */
    public boolean hasLeft() {
        return left.isDone() && !thread.isAlive();
    }

    /** Asks the worker to exit once no queue is attached; returns at once. */
    public void requestStop() {
        stopRequested = true;
        wake();
    }

    /** Waits for the thread to exit. */
    public void join(long millis) throws InterruptedException {
        thread.join(millis);
    }

    public boolean isAlive() {
        return thread.isAlive();
    }

    /** The worker's ring fd, a MSG_RING target (host tests post the kernel's completions there). */
    int ringFd() {
        return ring.fd();
    }

    private void post(WorkerMessage m) {
        inbox.add(m);
        wake();
    }

    private void wake() {
        if (exited) {
            return; // the worker is gone and its eventfd closed
        }
        Libc.write(eventFd, ONE, 8);
    }

    // ---- Completion and SlotWaiter: the two ways work comes back ----

    /** Any thread: a target's late answer. */
    @Override
    public void complete(long tag, int result) {
        int id = (int) tag;
        if (id < 0 || id >= state.length) {
            refuse("a tag no request of this worker has", tag);
            return;
        }
        if (!answers.offer(tag, result)) {
            // Capacity is one entry per request id: only a target answering more than once gets here.
            refuse("a full answer queue (answered more than once?)", tag);
            return;
        }
        VarHandle.fullFence();
        if (sleeping.get()) {
            wake();
        }
    }

    /**
     * Drops an answer the worker cannot take; the answering thread is the target's, so nothing is
     * thrown at it. Counted, and logged once per worker: a broken target answers like this in storms.
     */
    private void refuse(String why, long tag) {
        if (refusedAnswers.getAndIncrement() == 0) {
            LOG.error("worker {}: late answer for tag {} dropped: {} (counted in ublk_worker_late_answers_dropped_total)",
                    index, tag, why);
        }
    }

    /** Worker thread (from pool.release): a parked request gets its slot. */
    @Override
    public void slotReady(long token, int slot) {
        int i = handoffTail++ & handoffMask;
        handoffIds[i] = token;
        handoffSlots[i] = slot;
    }

    // ---- The loop ----

    private void run() {
        try {
            if (cpu >= 0) {
                CpuSet.pinCurrentThread(cpu);
            }
            ring = createRing(config.ringEntries());
            pool = new BouncePool(config.poolSlots(), config.slotSize(), config.maxTags());
            pool.prefault();
            eventBuf = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG);
            armWake();
            ring.submit();
        } catch (RuntimeException | Error e) {
            started.completeExceptionally(e);
            closeResources();
            return;
        }
        started.complete(null);
        LOG.debug("worker {} started on cpu {} (ring {} entries, pool {} x {} bytes)", index, cpu, ring.sqEntries(),
                config.poolSlots(), config.slotSize());
        try {
            loop();
        } catch (RuntimeException | Error e) {
            LOG.error("worker {} failed; its devices stop serving", index, e);
        } finally {
            closeResources();
        }
    }

    /** Requests a target still holds: an answer (and, for a READ, writes into a slot) may come. */
    private int atTargets() {
        int n = 0;
        for (int id = 0, end = usedIds.length(); id < end; id++) {
            if (state[id] == PREPARE || state[id] == TARGET) {
                n++;
            }
        }
        return n;
    }

    private int held() {
        int n = 0;
        for (int id = 0, end = usedIds.length(); id < end; id++) {
            if (state[id] == HELD) {
                n++;
            }
        }
        return n;
    }

    private static IoUring createRing(int entries) {
        int base = IoUringSetup.SINGLE_ISSUER | IoUringSetup.COOP_TASKRUN;
        try {
            return IoUring.create(entries, base | IoUringSetup.DEFER_TASKRUN, entries * 2);
        } catch (NativeException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            return IoUring.create(entries, 0, entries * 2); // older kernels
        }
    }

    private void loop() {
        long leaveBy = 0;
        while (true) {
            if (leaving) {
                long now = System.nanoTime();
                if (leaveBy == 0) {
                    leaveBy = now + leaveDrainNanos;
                    lastHeldAt = now;
                    LOG.info("worker {} leaving its {} queue(s) to the next server: draining {} request(s) at targets",
                            index, queuesAttached, atTargets());
                }
                if ((atTargets() == 0 && now - lastHeldAt >= LEAVE_QUIET_NANOS) || now - leaveBy >= 0) {
                    break;
                }
            } else if (stopRequested && queuesAttached == 0) {
                break;
            }
            processInbox();
            answers.drain(onAnswer, Integer.MAX_VALUE);
            serveHandoffs();
            ring.drain(onCqe);
            // One syscall per turn: submit the commits just queued and wait for the next CQE in the
            // same io_uring_enter (it returns at once when completions are already there). Other
            // threads see `sleeping` and wake us through the eventfd.
            sleeping.set(true);
            // Dekker with complete(): our store of `sleeping` before our loads of the queues, its
            // store into `answers` before its load of `sleeping`; one of the two sides sees the other.
            VarHandle.fullFence();
            if (inbox.isEmpty() && answers.isEmpty() && handoffHead == handoffTail && !stopRequested) {
                if (leaving) {
                    ring.submitAndWait(1, LEAVE_POLL_NANOS);
                } else {
                    ring.submitAndWait(1);
                }
            } else {
                ring.poll();
            }
            sleeping.set(false);
        }
    }

    private void closeResources() {
        int stillAtTargets = leaving && ring != null ? atTargets() : 0;
        int heldForNext = leaving && ring != null ? held() : 0;
        if (ring != null) {
            ring.close(); // the kernel cancels every command in it (after a leave: the devices quiesce)
        }
        if (stillAtTargets == 0) {
            if (pool != null) {
                pool.close();
            }
            exited = true;
            Libc.close(eventFd);
        } else {
            LOG.error("worker {} left with {} request(s) still at targets after the drain: its bounce pool ({} bytes)"
                    + " and eventfd stay mapped and open (leaked) since a target may still write into a slot; those"
                    + " requests are re-sent to the next server", index, stillAtTargets,
                    (long) config.poolSlots() * config.slotSize());
        }
        if (leaving) {
            LOG.info("worker {} closed its ring: {} request(s) held uncommitted for the next server", index,
                    heldForNext);
            left.complete(stillAtTargets == 0);
        } else {
            left.completeExceptionally(new IllegalStateException("worker " + index + " stopped without leaving"));
        }
    }

    private void armWake() {
        MemorySegment sqe = nextSqe();
        Sqes.pollAdd(sqe, eventFd, IoUringRing.POLLIN, true, KIND_WAKE);
    }

    private MemorySegment nextSqe() {
        MemorySegment sqe = ring.nextSqe();
        if (sqe == null) {
            ring.submit(); // the kernel consumes the whole SQ on submit
            sqe = ring.nextSqe();
            if (sqe == null) {
                throw new IllegalStateException("worker " + index + " SQ still full after submit");
            }
        }
        return sqe;
    }

    private void processInbox() {
        WorkerMessage m;
        while ((m = inbox.poll()) != null) {
            if (m instanceof WorkerMessage.Attach a && leaving) {
                load.addAndGet(-a.queue().depth);
                a.queue().fetched.completeExceptionally(new IllegalStateException("worker " + index
                        + " is leaving its queues to the next server; it attaches no more"));
            } else if (m instanceof WorkerMessage.Attach a) {
                attachQueue(a.queue());
            } else if (m instanceof WorkerMessage.Detach d) {
                detachQueue(d);
            }
        }
    }

    private void attachQueue(ServedQueue q) {
        int base = findIds(q.depth);
        if (base < 0) {
            load.addAndGet(-q.depth);
            q.fetched.completeExceptionally(new IllegalStateException("worker " + index + " has no room for "
                    + q.depth + " more tags (max " + config.maxTags() + " per worker; add workers or lower --depth)"));
            return;
        }
        q.base = base;
        usedIds.set(base, base + q.depth);
        for (int tag = 0; tag < q.depth; tag++) {
            queueOf[base + tag] = q;
            state[base + tag] = FETCHING;
            slotOf[base + tag] = -1;
            submitIoCmd(q, tag, UblkIoCmd.FETCH_REQ, 0);
        }
        q.live = q.depth;
        queuesAttached++;
        served.add(q);
        try {
            ring.submit();
            q.fetched.complete(null);
        } catch (RuntimeException e) {
            q.fetched.completeExceptionally(e);
        }
        LOG.info("worker {} (cpu {}) serves {} ({} tags)", index, cpu, q, q.depth);
    }

    private void detachQueue(WorkerMessage.Detach d) {
        for (ServedQueue q : served) {
            if (q.devId == d.devId() && q.qid == d.qid() && !q.detached) {
                q.detached = true;
                LOG.warn("worker {} detached {} with {} tags not yet back; their late answers will be dropped", index, q,
                        q.live);
            }
        }
        d.done().complete(null); // from here on nothing below touches a detached queue's fd or descriptors
    }

    private int findIds(int depth) {
        int from = 0;
        while (true) {
            int start = usedIds.nextClearBit(from);
            if (start + depth > queueOf.length) {
                return -1;
            }
            int nextUsed = usedIds.nextSetBit(start);
            if (nextUsed < 0 || nextUsed >= start + depth) {
                return start;
            }
            from = nextUsed;
        }
    }

    private void submitIoCmd(ServedQueue q, int tag, int cmdOp, int result) {
        commands.fill(nextSqe(), q.cdevFd, q.qid, tag, cmdOp, result, KIND_IO | (q.base + tag));
    }

    // ---- Request state machine ----

    private void onCqe(long userData, int res, int flags) {
        if ((userData & ~0xFFFF_FFFFL) == KIND_WAKE) {
            Libc.read(eventFd, eventBuf, 8); // reset the counter; the loop checks every source anyway
            if ((flags & IoUringRing.CQE_F_MORE) == 0) {
                armWake();
            }
            return;
        }
        int id = (int) userData;
        ServedQueue q = queueOf[id];
        if (state[id] != FETCHING) {
            // The kernel answers only commands it holds; counting this tag again would release ids in use.
            errors++;
            LOG.error("{} request {}: io command completion ({}) in state {} ignored", q, id, res, state[id]);
            return;
        }
        if (res == UblkIoOp.RES_OK && !q.detached && leaving) {
            state[id] = HELD; // not ours to serve any more: the kernel re-sends it to the next server
            lastHeldAt = System.nanoTime();
        } else if (res == UblkIoOp.RES_OK && !q.detached) {
            requests++;
            dispatch(q, id);
        } else {
            if (res != UblkIoOp.RES_ABORT && res != UblkIoOp.RES_OK) {
                errors++;
                LOG.warn("{} tag {}: io command failed: {}", q, id - q.base, Errno.name(res));
            }
            retire(q, id);
        }
    }

    private void retire(ServedQueue q, int id) {
        state[id] = DEAD;
        if (--q.live == 0) {
            for (int tag = 0; tag < q.depth; tag++) {
                queueOf[q.base + tag] = null;
                state[q.base + tag] = FREE;
            }
            usedIds.clear(q.base, q.base + q.depth);
            queuesAttached--;
            served.remove(q);
            load.addAndGet(-q.depth);
            LOG.info("worker {} released {}", index, q);
            q.finished.complete(null);
        }
    }

    private void dispatch(ServedQueue q, int id) {
        int tag = id - q.base;
        int of = q.descriptors.opFlags(tag);
        opFlags[id] = of;
        offset[id] = q.descriptors.startSector(tag) << 9;
        length[id] = q.descriptors.nrSectors(tag) << 9;
        generation[id]++;
        int op = UblkIoOp.op(of);
        int r = callTarget(q, id, op, of);
        if (op == UblkIoOp.OP_READ || op == UblkIoOp.OP_WRITE) {
            // that was the prefetch or the admission: no slot waits on a slow store or a full cache
            if (r == BlockTarget.PENDING) {
                state[id] = PREPARE;
            } else if (r < 0) {
                commit(q, id, r);
            } else {
                acquireSlot(q, id);
            }
            return;
        }
        if (r == BlockTarget.PENDING) {
            state[id] = TARGET;
        } else {
            inlineAnswers++;
            commit(q, id, r);
        }
    }

    /** The target's tag for id's current request. */
    private long tagOf(int id) {
        return (long) generation[id] << 32 | id;
    }

    /** The target call before any slot: a READ's prefetch, a WRITE's admission, FLUSH, DISCARD, WRITE_ZEROES. */
    private int callTarget(ServedQueue q, int id, int op, int of) {
        BlockTarget t = q.target;
        long tag = tagOf(id);
        try {
            return switch (op) {
                case UblkIoOp.OP_READ -> t.prefetch(offset[id], length[id], tag, this);
                case UblkIoOp.OP_WRITE -> t.admit(offset[id], length[id], tag, this);
                case UblkIoOp.OP_FLUSH -> t.flush(tag, this);
                case UblkIoOp.OP_DISCARD -> t.discard(offset[id], length[id], tag, this);
                case UblkIoOp.OP_WRITE_ZEROES -> t.writeZeroes(offset[id], length[id],
                        (of & UblkIoOp.F_NOUNMAP) != 0 ? IoFlags.NOUNMAP : 0, tag, this);
                default -> -Errno.EOPNOTSUPP;
            };
        } catch (Throwable e) {
            return targetThrew(q, id, e);
        }
    }

    /**
     * A target call threw: that request answers EIO and the worker serves on, since every device on
     * this worker would hang if it died. StackOverflowError unwinds to here with the worker's stack
     * intact, and OutOfMemoryError is the target's (the worker allocates nothing per request), so
     * both fail just the request; any other VirtualMachineError means the JVM itself is unusable.
     */
    private int targetThrew(ServedQueue q, int id, Throwable e) {
        if (e instanceof VirtualMachineError vme && !(e instanceof OutOfMemoryError)
                && !(e instanceof StackOverflowError)) {
            throw vme;
        }
        targetErrors++;
        q.targetErrorsUnreported++;
        long now = System.nanoTime();
        if (!q.targetErrorReported || now - q.targetErrorLoggedAt >= TARGET_ERROR_LOG_NANOS) {
            q.targetErrorReported = true;
            LOG.error("{} tag {}: the target threw; the request answers EIO ({} since the last report, at most one"
                    + " report per {} s; ublk_worker_target_errors_total counts them all)", q, id - q.base,
                    q.targetErrorsUnreported, TARGET_ERROR_LOG_NANOS / 1_000_000_000L, e);
            q.targetErrorsUnreported = 0;
            q.targetErrorLoggedAt = now;
        }
        return -Errno.EIO;
    }

    private void acquireSlot(ServedQueue q, int id) {
        int slot = pool.acquire(id, this);
        if (slot < 0) {
            state[id] = WAIT_SLOT;
        } else {
            withSlot(q, id, slot);
        }
    }

    private void serveHandoffs() {
        while (handoffHead != handoffTail) {
            int i = handoffHead++ & handoffMask;
            int id = (int) handoffIds[i];
            ServedQueue q = queueOf[id];
            if (q.detached) {
                pool.release(handoffSlots[i]); // may hand it on to the next waiter: this loop serves that too
                retire(q, id);
            } else if (leaving) {
                pool.release(handoffSlots[i]); // it has not reached the target's data path: hold it
                state[id] = HELD;
            } else {
                withSlot(q, id, handoffSlots[i]);
            }
        }
    }

    private void withSlot(ServedQueue q, int id, int slot) {
        slotOf[id] = slot;
        MemorySegment buf = pool.slot(slot);
        int len = length[id];
        int r;
        if (UblkIoOp.op(opFlags[id]) == UblkIoOp.OP_READ) {
            try {
                r = q.target.read(offset[id], buf, len, tagOf(id), this);
            } catch (Throwable e) {
                r = targetThrew(q, id, e);
            }
        } else {
            long n = Libc.pread(q.cdevFd, buf, len, UblkUserCopy.position(q.qid, id - q.base, 0));
            if (n != len) {
                LOG.warn("{} tag {}: USER_COPY pread of {} bytes returned {}", q, id - q.base, len,
                        n < 0 ? Errno.name((int) n) : n);
                errors++;
                finish(q, id, -Errno.EIO);
                return;
            }
            int flags = (opFlags[id] & UblkIoOp.F_FUA) != 0 ? IoFlags.FUA : 0;
            try {
                r = q.target.write(offset[id], buf, len, flags, tagOf(id), this);
            } catch (Throwable e) {
                r = targetThrew(q, id, e);
            }
        }
        if (r == BlockTarget.PENDING) {
            state[id] = TARGET;
        } else {
            inlineAnswers++;
            finish(q, id, r);
        }
    }

    /** A data request's target answered: copy read data out, free the slot, commit. */
    private void finish(ServedQueue q, int id, int r) {
        int slot = slotOf[id];
        int len = length[id];
        if (r >= 0 && UblkIoOp.op(opFlags[id]) == UblkIoOp.OP_READ) {
            // Only bytes the target filled reach the client: anything short is an error, not stale slot data.
            if (r != len) {
                r = -Errno.EIO;
            } else {
                long n = Libc.pwrite(q.cdevFd, pool.slot(slot), len, UblkUserCopy.position(q.qid, id - q.base, 0));
                if (n != len) {
                    LOG.warn("{} tag {}: USER_COPY pwrite of {} bytes returned {}", q, id - q.base, len,
                            n < 0 ? Errno.name((int) n) : n);
                    errors++;
                    r = -Errno.EIO;
                }
            }
        }
        if (slot >= 0) {
            slotOf[id] = -1;
            pool.release(slot);
        }
        commit(q, id, r);
    }

    private void commit(ServedQueue q, int id, int result) {
        if (result < 0) {
            errors++;
            if (result < -MAX_ERRNO) {
                result = -Errno.EIO; // not an errno (a late PENDING, a target bug): the kernel must get one
            }
        }
        state[id] = FETCHING;
        submitIoCmd(q, id - q.base, UblkIoCmd.COMMIT_AND_FETCH_REQ, result);
    }

    private void onAnswer(long tag, int r) {
        int id = (int) tag;
        byte st = state[id];
        if ((int) (tag >>> 32) != generation[id] || (st != PREPARE && st != TARGET)) {
            drop(queueOf[id], id, tag, "for no request waiting on it (the target answered twice, or after it threw)");
            return;
        }
        ServedQueue q = queueOf[id];
        lateAnswers++;
        if (q.detached) {
            int slot = slotOf[id];
            if (slot >= 0) {
                slotOf[id] = -1;
                pool.release(slot);
            }
            drop(q, id, tag, "for a detached queue (the device is going)");
            retire(q, id);
            return;
        }
        if (st == PREPARE) {
            if (r < 0) {
                commit(q, id, r);
            } else if (leaving) {
                state[id] = HELD; // prefetched or admitted, but not started: the next server does it
            } else {
                acquireSlot(q, id);
            }
            return;
        }
        int op = UblkIoOp.op(opFlags[id]);
        if (op == UblkIoOp.OP_READ || op == UblkIoOp.OP_WRITE) {
            finish(q, id, r);
        } else {
            commit(q, id, r);
        }
    }

    /** A late answer nothing takes: counted, and logged once per queue (a broken target answers in storms). */
    private void drop(ServedQueue q, int id, long tag, String why) {
        droppedAnswers++;
        if (q != null && !q.droppedAnswerReported) {
            q.droppedAnswerReported = true;
            LOG.warn("{} tag {}: late answer (target tag 0x{}) dropped {}; ublk_worker_late_answers_dropped_total counts"
                    + " them all", q, id - q.base, Long.toHexString(tag), why);
        }
    }
}
