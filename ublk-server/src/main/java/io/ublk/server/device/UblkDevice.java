package io.ublk.server.device;

import io.ublk.blockcache.BlockTarget;
import io.ublk.headers.Libc;
import io.ublk.headers.OpenFlags;
import io.ublk.headers.UblkDevState;
import io.ublk.headers.UblkFeatures;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.io.QueueDescriptors;
import io.ublk.server.sys.NativeException;
import io.ublk.server.worker.Worker;
import io.ublk.server.worker.WorkerPool;
import java.lang.foreign.Arena;
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
 * One exported device through its whole life: ADD_DEV (USER_COPY, and the recovery flags so a
 * later server can take it over), SET_PARAMS, open {@code /dev/ublkcN}, map each queue's
 * descriptors, place each queue on a worker that FETCHes every tag, START_DEV from this (non-worker)
 * thread; and back: STOP_DEV, wait for the workers to release the queues (a queue not released in
 * time is detached from its worker first), unmap, close, DEL_DEV.
 */
public final class UblkDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UblkDevice.class);

    /** Flags every device is created with. */
    public static final long DEVICE_FLAGS =
            UblkFeatures.USER_COPY | UblkFeatures.USER_RECOVERY | UblkFeatures.USER_RECOVERY_REISSUE;

    private final UblkControl control;
    private final int id;
    private final DeviceConfig config;
    private final BlockTarget target;
    private final Duration deadline;
    private int cdevFd = -1;
    private final List<QueueDescriptors> descriptors = new ArrayList<>();
    private final List<CompletableFuture<Void>> finished = new ArrayList<>();
    private final List<Worker> workerOfQueue = new ArrayList<>();
    private boolean started;
    private boolean closed;

    private UblkDevice(UblkControl control, int id, DeviceConfig config, BlockTarget target, Duration deadline) {
        this.control = control;
        this.id = id;
        this.config = config;
        this.target = target;
        this.deadline = deadline;
    }

    /**
     * Creates, serves and starts a device. On failure everything done so far is undone.
     *
     * @param deadline bound for each wait (control commands have their own)
     */
    public static UblkDevice create(UblkControl control, WorkerPool workers, DeviceConfig config, BlockTarget target,
            Duration deadline) {
        if (config.slotSize() != workers.config().slotSize()) {
            throw new IllegalArgumentException("device slot size " + config.slotSize()
                    + " must equal the workers' bounce slot size " + workers.config().slotSize());
        }
        if (target.size() != config.sizeBytes()) {
            throw new IllegalArgumentException("target size " + target.size() + " must equal device size "
                    + config.sizeBytes());
        }
        DeviceInfo info = control.addDevice(DeviceInfo.request(DeviceInfo.ANY_ID, config.queues(), config.depth(),
                config.slotSize(), DEVICE_FLAGS));
        UblkDevice dev = new UblkDevice(control, info.devId(), config, target, deadline);
        try {
            dev.serve(workers);
            return dev;
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    private void serve(WorkerPool workers) {
        try (Arena arena = Arena.ofConfined()) {
            control.setParams(id, DeviceParams.of(config, arena));
        }
        cdevFd = openCharDevice();
        List<CompletableFuture<Void>> fetched = new ArrayList<>();
        for (int qid = 0; qid < config.queues(); qid++) {
            QueueDescriptors qd = QueueDescriptors.map(cdevFd, qid, config.depth());
            descriptors.add(qd);
            BitSet cpus = control.queueAffinity(id, qid);
            Worker w = workers.place(cpus, config.depth());
            workerOfQueue.add(w);
            LOG.info("ublk{} queue {} (cpus {}) -> worker {} (cpu {})", id, qid, cpus, w.index(), w.cpu());
            CompletableFuture<Void> f = new CompletableFuture<>();
            CompletableFuture<Void> done = new CompletableFuture<>();
            fetched.add(f);
            finished.add(done);
            w.attach(id, qid, config.depth(), cdevFd, qd, target, f, done);
        }
        await(CompletableFuture.allOf(fetched.toArray(CompletableFuture[]::new)), "FETCH of every tag");
        started = true; // from here on, STOP_DEV is what releases the queues
        control.startDevice(id, Libc.getpid());
        DeviceInfo info = control.deviceInfo(id);
        if (info.state() != UblkDevState.LIVE) {
            throw new IllegalStateException("ublk" + id + " is not LIVE after START_DEV (state " + info.state() + ")");
        }
    }

    private int openCharDevice() {
        Path cdev = charDevice();
        long until = System.nanoTime() + deadline.toNanos();
        // devtmpfs creates the node during ADD_DEV; udev may still be adjusting it: retry briefly.
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
        try {
            target.close();
        } catch (Exception e) {
            LOG.warn("ublk{}: closing the target failed", id, e);
        }
        if (failure != null) {
            throw failure;
        }
        LOG.info("ublk{} deleted", id);
    }
}
