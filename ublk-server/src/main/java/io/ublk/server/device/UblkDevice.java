package io.ublk.server.device;

import io.ublk.blockcache.BlockTarget;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.headers.UblkDevState;
import io.ublk.headers.UblkFeatures;
import io.ublk.headers.UblkParamBasic;
import io.ublk.headers.UblkParamType;
import io.ublk.headers.UblkParams;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.io.QueueDescriptors;
import io.ublk.server.sys.NativeException;
import io.ublk.server.worker.Worker;
import io.ublk.server.worker.WorkerPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exported device through its whole life.
 *
 * <p><b>Create:</b> ADD_DEV (USER_COPY, and the recovery flags so a later server can take it
 * over), SET_PARAMS, then the serve path: place each queue on a worker, open {@code /dev/ublkcN},
 * map each queue's descriptors, let each worker FETCH every tag of its queues; then START_DEV from
 * this (non-worker) thread.
 *
 * <p><b>Recover</b> (a device a dead or departed server left QUIESCED, its I/O queued): GET_DEV_INFO
 * and GET_PARAMS must match the configuration, START_USER_RECOVERY, the same serve path, then
 * END_USER_RECOVERY instead of START_DEV.
 *
 * <p><b>Close:</b> STOP_DEV, wait for the workers to release the queues (a queue not released in
 * time is detached from its worker first), unmap, close, DEL_DEV. <b>Leave</b> ({@link #leave}):
 * no STOP_DEV, no DEL_DEV; the device stays in the kernel for the next server.
 */
public final class UblkDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UblkDevice.class);

    /** Flags every device is created with. */
    public static final long DEVICE_FLAGS =
            UblkFeatures.USER_COPY | UblkFeatures.USER_RECOVERY | UblkFeatures.USER_RECOVERY_REISSUE;

    /**
     * A recovery refused before anything was asked of the kernel (START_USER_RECOVERY was not sent):
     * the device is untouched, still QUIESCED with its I/O queued, and may be recovered later with
     * the right configuration. The message is one line naming what does not match.
     */
    public static final class RecoveryRefusedException extends IllegalStateException {
        RecoveryRefusedException(String message) {
            super(message);
        }
    }

    private final UblkControl control;
    private final WorkerPool workers;
    private final int id;
    private final DeviceConfig config;
    private final BlockTarget target;
    private final Duration deadline;
    private int cdevFd = -1;
    private final List<QueueDescriptors> descriptors = new ArrayList<>();
    /** Release of each attached queue by the kernel, by queue id (only the attached ones). */
    private final List<CompletableFuture<Void>> finished = new ArrayList<>();
    /** The worker placed for each queue, by queue id; the first {@code finished.size()} are attached. */
    private final List<Worker> workerOfQueue = new ArrayList<>();
    private boolean started;
    private boolean closed;

    private UblkDevice(UblkControl control, WorkerPool workers, int id, DeviceConfig config, BlockTarget target,
            Duration deadline) {
        this.control = control;
        this.workers = workers;
        this.id = id;
        this.config = config;
        this.target = target;
        this.deadline = deadline;
    }

    private static void checkShape(WorkerPool workers, DeviceConfig config, BlockTarget target) {
        if (config.slotSize() != workers.config().slotSize()) {
            throw new IllegalArgumentException("device slot size " + config.slotSize()
                    + " must equal the workers' bounce slot size " + workers.config().slotSize());
        }
        if (target.size() != config.sizeBytes()) {
            throw new IllegalArgumentException("target size " + target.size() + " must equal device size "
                    + config.sizeBytes());
        }
    }

    /**
     * Creates, serves and starts a device. On failure everything done so far is undone.
     *
     * @param deadline bound for each wait (control commands have their own)
     */
    public static UblkDevice create(UblkControl control, WorkerPool workers, DeviceConfig config, BlockTarget target,
            Duration deadline) {
        return create(control, workers, config, target, deadline, DeviceInfo.ANY_ID);
    }

    /**
     * {@link #create(UblkControl, WorkerPool, DeviceConfig, BlockTarget, Duration)} as device
     * {@code wantedId} (so a device made anew keeps its {@code /dev/ublkbN}), or any free id with
     * {@link DeviceInfo#ANY_ID}; ADD_DEV fails with EEXIST when the id is taken.
     */
    public static UblkDevice create(UblkControl control, WorkerPool workers, DeviceConfig config, BlockTarget target,
            Duration deadline, int wantedId) {
        checkShape(workers, config, target);
        DeviceInfo info = control.addDevice(DeviceInfo.request(wantedId, config.queues(), config.depth(),
                config.slotSize(), DEVICE_FLAGS));
        UblkDevice dev = new UblkDevice(control, workers, info.devId(), config, target, deadline);
        try {
            try (Arena arena = Arena.ofConfined()) {
                control.setParams(dev.id, DeviceParams.of(config, arena));
            }
            dev.place();
            dev.serve();
            control.startDevice(dev.id, Libc.getpid());
            dev.checkLive("START_DEV");
            return dev;
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /**
     * Takes over device {@code devId}, which a server that died (or left, {@link #leave}) kept in
     * the kernel with USER_RECOVERY: it is QUIESCED with its I/O queued (or still LIVE for the
     * moment the kernel takes to quiesce after the old server's exit). Checks that the device
     * matches {@code config} (queues, depth, max I/O size from GET_DEV_INFO, size from GET_PARAMS)
     * and places its queues before anything changes in the kernel; then START_USER_RECOVERY (EBUSY
     * is retried up to {@code deadline}), opens {@code /dev/ublkcN}, maps the descriptors, FETCHes
     * every tag through the workers (the serve path {@link #create} uses) and sends
     * END_USER_RECOVERY with this process's pid; the kernel then re-sends the queued requests (with
     * REISSUE also those the old server had in flight) and the device is LIVE again, same
     * {@code /dev/ublkbN}.
     *
     * <p><b>Failure</b> never deletes the device. Refused before START_USER_RECOVERY
     * ({@link RecoveryRefusedException}, or START_USER_RECOVERY itself failed): the device is
     * untouched and may be recovered later. Failed after it (cannot open or map the char device, a
     * worker refused a queue, END_USER_RECOVERY failed): the queues attached so far are detached
     * from their workers and the fd and maps closed; the device stays QUIESCED with its I/O queued,
     * but the kernel has already reset it for this attempt, and on 6.12 the FETCH commands already
     * issued stay in this process's worker rings until those workers exit. A later
     * START_USER_RECOVERY answers EBUSY until then, and EINVAL if no queue had been fully fetched
     * (the kernel then counts no ready queue): such a device can only be deleted. The message says
     * which case it is.
     *
     * <p>The target is closed on every failure (as {@link #create} does once the device exists).
     *
     * @param deadline bound for each wait, the START_USER_RECOVERY retries included
     * @throws RecoveryRefusedException when the device does not exist, cannot be recovered (DEAD,
     *     no USER_RECOVERY or USER_COPY) or does not match {@code config}
     */
    public static UblkDevice recover(UblkControl control, WorkerPool workers, int devId, DeviceConfig config,
            BlockTarget target, Duration deadline) {
        checkShape(workers, config, target);
        DeviceInfo info;
        try {
            try {
                info = control.deviceInfo(devId);
            } catch (NativeException e) {
                throw new RecoveryRefusedException("cannot recover ublk" + devId + ": GET_DEV_INFO failed: "
                        + e.getMessage());
            }
            String refusal = refusal(info, deviceBytes(control, devId), config);
            if (refusal != null) {
                throw new RecoveryRefusedException("refusing to recover ublk" + devId + ": " + refusal);
            }
        } catch (RuntimeException e) {
            closeTarget(devId, target);
            throw e;
        }
        UblkDevice dev = new UblkDevice(control, workers, devId, config, target, deadline);
        boolean resetByKernel = false;
        try {
            // Placement first: a worker without room for the tags refuses before the kernel resets anything.
            dev.place();
            for (Worker w : dev.workerOfQueue) {
                if (w.load() > workers.config().maxTags()) {
                    throw new RecoveryRefusedException("refusing to recover ublk" + devId + ": worker " + w.index()
                            + " would serve " + w.load() + " tags, more than " + workers.config().maxTags()
                            + " (add workers or lower the depth of other devices)");
                }
            }
            control.startUserRecovery(devId, deadline);
            resetByKernel = true;
            dev.serve();
            control.endUserRecovery(devId, Libc.getpid());
            dev.checkLive("END_USER_RECOVERY");
            LOG.info("ublk{} recovered (was {}, server pid {}): {} queue(s) x {} tags, {} bytes", devId,
                    DeviceInfo.stateName(info.state()), info.ublksrvPid(), config.queues(), config.depth(),
                    config.sizeBytes());
            return dev;
        } catch (RuntimeException e) {
            String left = dev.abandonRecovery(resetByKernel);
            if (e instanceof RecoveryRefusedException) {
                throw e;
            }
            IllegalStateException failure = new IllegalStateException("recovery of ublk" + devId + " failed: "
                    + e.getMessage() + "; " + left, e);
            throw failure;
        }
    }

    /** The device size the kernel holds (GET_PARAMS basic.dev_sectors), or -1 when it has no basic params. */
    private static long deviceBytes(UblkControl control, int devId) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(UblkParams.LAYOUT);
            UblkParams.LEN.set(p, (int) UblkParams.SIZE);
            control.params(devId, p);
            if (((int) UblkParams.TYPES.get(p) & UblkParamType.BASIC) == 0) {
                return -1;
            }
            MemorySegment basic = p.asSlice(UblkParams.BASIC_OFFSET, UblkParamBasic.SIZE);
            return (long) UblkParamBasic.DEV_SECTORS.get(basic) << 9;
        } catch (NativeException e) {
            throw new RecoveryRefusedException("cannot recover ublk" + devId + ": GET_PARAMS failed: "
                    + e.getMessage());
        }
    }

    /**
     * Why a device the kernel describes as {@code info} (size {@code devBytes}) cannot be recovered
     * with {@code config}, in one line; null when it can.
     */
    static String refusal(DeviceInfo info, long devBytes, DeviceConfig config) {
        if (info.state() == UblkDevState.DEAD) {
            return "it is DEAD (never started, or stopped): there is no queued I/O to take over; delete it";
        }
        List<String> missing = new ArrayList<>();
        if ((info.flags() & UblkFeatures.USER_RECOVERY) == 0) {
            missing.add("USER_RECOVERY");
        }
        if ((info.flags() & UblkFeatures.USER_COPY) == 0) {
            missing.add("USER_COPY");
        }
        if (!missing.isEmpty()) {
            return "it was created without " + String.join(" and ", missing) + " (flags 0x"
                    + Long.toHexString(info.flags()) + ")";
        }
        List<String> diff = new ArrayList<>();
        if (info.nrHwQueues() != config.queues()) {
            diff.add("queues " + info.nrHwQueues() + " (configured " + config.queues() + ")");
        }
        if (info.queueDepth() != config.depth()) {
            diff.add("depth " + info.queueDepth() + " (configured " + config.depth() + ")");
        }
        if (info.maxIoBufBytes() != config.slotSize()) {
            diff.add("max I/O " + info.maxIoBufBytes() + " bytes (configured slot size " + config.slotSize() + ")");
        }
        if (devBytes != config.sizeBytes()) {
            diff.add("size " + devBytes + " bytes (configured " + config.sizeBytes() + ")");
        }
        return diff.isEmpty() ? null : "the device does not match the configuration: " + String.join(", ", diff);
    }

    /** Chooses a worker for every queue (GET_QUEUE_AFFINITY, least loaded on the queue's CPUs). */
    private void place() {
        for (int qid = 0; qid < config.queues(); qid++) {
            BitSet cpus = control.queueAffinity(id, qid);
            Worker w = workers.place(cpus, config.depth());
            workerOfQueue.add(w);
            LOG.info("ublk{} queue {} (cpus {}) -> worker {} (cpu {})", id, qid, cpus, w.index(), w.cpu());
        }
    }

    /**
     * The serve path of create and recover: opens the char device, maps each queue's descriptors
     * and attaches it to its worker, which FETCHes every tag; returns once every FETCH is in the
     * kernel. From then on STOP_DEV is what releases the queues.
     */
    private void serve() {
        cdevFd = openCharDevice();
        List<CompletableFuture<Void>> fetched = new ArrayList<>();
        for (int qid = 0; qid < config.queues(); qid++) {
            QueueDescriptors qd = QueueDescriptors.map(cdevFd, qid, config.depth());
            descriptors.add(qd);
            CompletableFuture<Void> f = new CompletableFuture<>();
            CompletableFuture<Void> done = new CompletableFuture<>();
            fetched.add(f);
            finished.add(done);
            workerOfQueue.get(qid).attach(id, qid, config.depth(), cdevFd, qd, target, f, done);
        }
        await(CompletableFuture.allOf(fetched.toArray(CompletableFuture[]::new)), "FETCH of every tag");
        started = true;
    }

    private void checkLive(String after) {
        DeviceInfo info = control.deviceInfo(id);
        if (info.state() != UblkDevState.LIVE) {
            throw new IllegalStateException("ublk" + id + " is not LIVE after " + after + " ("
                    + DeviceInfo.stateName(info.state()) + ")");
        }
    }

    /**
     * Undoes a recovery that failed, without STOP_DEV or DEL_DEV: gives back placements, detaches
     * the attached queues, closes the fd and maps (when the workers acknowledged), closes the
     * target. Returns what the failure leaves in the kernel, for the message.
     */
    private String abandonRecovery(boolean resetByKernel) {
        closed = true;
        for (int qid = finished.size(); qid < workerOfQueue.size(); qid++) {
            workers.unplace(workerOfQueue.get(qid), config.depth());
        }
        if (workersLetGo()) {
            descriptors.forEach(QueueDescriptors::close);
            if (cdevFd >= 0) {
                Libc.close(cdevFd);
            }
        }
        closeTarget();
        if (!resetByKernel) {
            return "ublk" + id + " is untouched (QUIESCED, its I/O queued) and may be recovered later";
        }
        return "ublk" + id + " stays QUIESCED with its I/O queued, not deleted; the kernel had already reset it for"
                + " this attempt: " + (finished.isEmpty() ? "no queue was fetched, so on 6.12 a later"
                        + " START_USER_RECOVERY answers EINVAL (delete it)"
                        : finished.size() + " of " + config.queues() + " queue(s) were handed to workers, whose FETCH"
                                + " commands stay in this process's rings until those workers exit; a later recovery"
                                + " needs every queue fetched, else delete it");
    }

    private int openCharDevice() {
        Path cdev = charDevice();
        long until = System.nanoTime() + deadline.toNanos();
        // devtmpfs creates the node during ADD_DEV; udev may still be adjusting it: retry briefly.
        // After a recovery's START_USER_RECOVERY the old server's file is released, so EBUSY is over.
        while (true) {
            int fd = Libc.open(cdev.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
            if (fd >= 0) {
                return fd;
            }
            if (System.nanoTime() > until) {
                throw new NativeException("open", -fd, cdev.toString());
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while opening " + cdev, e);
            }
        }
    }

    private void await(CompletableFuture<?> f, String what) {
        try {
            f.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("ublk" + id + ": " + what + " did not finish within " + deadline.toMillis()
                    + " ms");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("ublk" + id + ": " + what + " failed: " + e.getCause().getMessage(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("ublk" + id + ": interrupted waiting for " + what, e);
        }
    }

    /** The device id N of {@code /dev/ublkbN}. */
    public int id() {
        return id;
    }

    public DeviceConfig config() {
        return config;
    }

    /** The storage this device serves. */
    public BlockTarget target() {
        return target;
    }

    /** The worker serving each queue, by queue id (placement, for logs and metrics). */
    public List<Worker> workerOfQueue() {
        return List.copyOf(workerOfQueue);
    }

    /** {@code /dev/ublkbN}. */
    public Path blockDevice() {
        return Path.of("/dev/ublkb" + id);
    }

    /** {@code /dev/ublkcN}. */
    public Path charDevice() {
        return Path.of("/dev/ublkc" + id);
    }

    /**
     * True once no worker can touch the char device fd or the descriptor maps any more: every queue
     * was released, or its worker acknowledged a detach (its late answers are then dropped). A late
     * answer must never pwrite or COMMIT through an fd number that was closed and maybe reused, so
     * when a worker does not acknowledge, the fd and maps are leaked, not closed.
     */
    private boolean workersLetGo() {
        List<CompletableFuture<Void>> detached = new ArrayList<>();
        for (int qid = 0; qid < finished.size(); qid++) {
            if (!finished.get(qid).isDone()) {
                detached.add(workerOfQueue.get(qid).detach(id, qid));
            }
        }
        if (detached.isEmpty()) {
            return true;
        }
        try {
            await(CompletableFuture.allOf(detached.toArray(CompletableFuture[]::new)), "detach of unreleased queues");
            return true;
        } catch (RuntimeException e) {
            LOG.error("ublk{}: {}; its char device fd {} and descriptor maps stay open (leaked) so no late answer"
                    + " reaches a reused fd", id, e.getMessage(), cdevFd);
            return false;
        }
    }

    /**
     * Lets go of the device without STOP_DEV or DEL_DEV, so that it stays in the kernel for the
     * next server ({@link #recover}): unmaps the descriptors, closes the char device fd, closes
     * (flushes) the target. Idempotent; {@link #close} does nothing afterwards.
     *
     * <p>Only after the workers serving its queues have left ({@link WorkerPool#leave}, or
     * {@link DeviceSet#closeLeavingDevices} which does both): on 6.12 the kernel quiesces a device
     * only when the io_uring holding its FETCH commands goes away (ring closed or its task exiting:
     * {@code ublk_uring_cmd_cancel_fn} then {@code ublk_quiesce_work_fn}); closing the char device
     * does not ({@code ublk_ch_release} only clears the open bit). Letting go of one device while
     * its workers keep serving others would leave it LIVE with nobody answering its requests, so
     * that is refused.
     *
     * @throws IllegalStateException when a worker serving one of its queues has not left
     */
    public void leave() {
        if (closed) {
            return;
        }
        for (int qid = 0; qid < finished.size(); qid++) {
            Worker w = workerOfQueue.get(qid);
            if (!w.hasLeft()) {
                throw new IllegalStateException("ublk" + id + " cannot leave while worker " + w.index()
                        + " serves its queue " + qid + ": the kernel lets go of a device only when the io_uring"
                        + " holding its FETCH commands closes (DeviceSet.closeLeavingDevices)");
            }
        }
        closed = true;
        // The workers are gone: nothing touches the fd or the maps any more.
        descriptors.forEach(QueueDescriptors::close);
        if (cdevFd >= 0) {
            Libc.close(cdevFd);
        }
        closeTarget();
        LOG.info("ublk{} left in the kernel for the next server (not stopped, not deleted)", id);
    }

    private void closeTarget() {
        closeTarget(id, target);
    }

    private static void closeTarget(int id, BlockTarget target) {
        try {
            target.close();
        } catch (Exception e) {
            LOG.warn("ublk{}: closing the target failed", id, e);
        }
    }

    /** Stops serving and deletes the device; idempotent. */
    @Override
    public void close() {
        close(control);
    }

    /** {@link #close()} through the given control channel (any channel can address any device). */
    public void close(UblkControl control) {
        if (closed) {
            return;
        }
        closed = true;
        for (int qid = finished.size(); qid < workerOfQueue.size(); qid++) {
            workers.unplace(workerOfQueue.get(qid), config.depth());
        }
        RuntimeException failure = null;
        if (started || !finished.isEmpty()) {
            try {
                // Aborts every fetched tag (also before START_DEV), so the workers release the queues.
                control.stopDevice(id);
                await(CompletableFuture.allOf(finished.toArray(CompletableFuture[]::new)), "release of the queues");
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (workersLetGo()) {
            descriptors.forEach(QueueDescriptors::close);
            if (cdevFd >= 0) {
                Libc.close(cdevFd);
            }
        }
        try {
            control.deleteDevice(id);
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        closeTarget();
        if (failure != null) {
            throw failure;
        }
        LOG.info("ublk{} deleted", id);
    }
}
