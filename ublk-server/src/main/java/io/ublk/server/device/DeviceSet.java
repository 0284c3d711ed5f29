package io.ublk.server.device;

import io.ublk.blockcache.BlockTarget;
import io.ublk.headers.UblkDevState;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.FeatureNames;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.ctrl.UblkUnavailableException;
import io.ublk.server.sys.Limits;
import io.ublk.server.worker.Worker;
import io.ublk.server.worker.WorkerConfig;
import io.ublk.server.worker.WorkerPool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The devices one server process exports, with the control channels and the workers they share.
 * Probes the kernel's features once (GET_FEATURES) and refuses to start without the ones devices
 * are created with.
 *
 * <p>Creating a device waits on the kernel (START_DEV scans the new disk's partitions, which our
 * workers serve), so many devices are created and deleted by several threads at once, each with its
 * own control channel (a control ring is per-caller state).
 */
public final class DeviceSet implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceSet.class);

    private final List<UblkControl> channels;
    private final BlockingQueue<UblkControl> idle;
    private final WorkerPool workers;
    private final Duration deadline;
    private final long features;
    private final List<UblkDevice> devices = new ArrayList<>();
    private boolean closed;

    private DeviceSet(List<UblkControl> channels, WorkerPool workers, Duration deadline, long features) {
        this.channels = channels;
        this.idle = new ArrayBlockingQueue<>(channels.size(), false, channels);
        this.workers = workers;
        this.deadline = deadline;
        this.features = features;
    }

    /**
     * Opens the control device, checks features, raises the fd limit and starts the workers.
     *
     * @param workerCount workers to start (0: one per CPU this process may use)
     * @param parallelism control channels, i.e. devices created or deleted at once (>= 1)
     * @throws UblkUnavailableException naming the missing flags when the kernel lacks a feature
     */
    public static DeviceSet open(int workerCount, WorkerConfig config, Duration deadline, int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be >= 1: " + parallelism);
        }
        List<UblkControl> channels = new ArrayList<>();
        try {
            UblkControl first = UblkControl.open(deadline);
            channels.add(first);
            long features = first.features();
            List<String> missing = FeatureNames.missing(features, UblkDevice.DEVICE_FLAGS);
            if (!missing.isEmpty()) {
                throw new UblkUnavailableException("this kernel's ublk driver lacks " + String.join(", ", missing)
                        + " (supported: " + String.join(", ", FeatureNames.names(features)) + ")");
            }
            long nofile = Limits.raiseOpenFiles();
            LOG.info("ublk features {}; open files limit {}", FeatureNames.names(features), nofile);
            for (int i = 1; i < parallelism; i++) {
                channels.add(UblkControl.open(deadline));
            }
            return new DeviceSet(List.copyOf(channels), WorkerPool.start(workerCount, config), deadline, features);
        } catch (RuntimeException e) {
            channels.forEach(UblkControl::close);
            throw e;
        }
    }

    /** The {@code UBLK_F_*} bits the kernel reported. */
    public long features() {
        return features;
    }

    public WorkerPool workers() {
        return workers;
    }

    /** Creates and starts one device over the target the supplier makes. */
    public UblkDevice add(DeviceConfig config, Supplier<BlockTarget> target) {
        return add(config, target, io.ublk.server.ctrl.DeviceInfo.ANY_ID);
    }

    /** {@link #add(DeviceConfig, Supplier)} as device {@code wantedId} (or any id with {@code ANY_ID}). */
    public UblkDevice add(DeviceConfig config, Supplier<BlockTarget> target, int wantedId) {
        UblkControl control = take();
        BlockTarget t = target.get();
        try {
            UblkDevice dev = UblkDevice.create(control, workers, config, t, deadline, wantedId);
            synchronized (devices) {
                devices.add(dev);
            }
            return dev;
        } catch (RuntimeException e) {
            try {
                t.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            idle.add(control);
        }
    }

    /**
     * Creates {@code count} devices, as many at once as there are control channels, handing each
     * to {@code created} (from the creating thread) as soon as it is LIVE. Stops early, without
     * error, once {@code cancelled} says so; the first failure stops the rest and is thrown.
     */
    public void addAll(int count, DeviceConfig config, Supplier<BlockTarget> target, Consumer<UblkDevice> created,
            BooleanSupplier cancelled) {
        addAll(count, i -> config, i -> target.get(), created, cancelled);
    }

    /** {@link #addAll(int, DeviceConfig, Supplier, Consumer, BooleanSupplier)} with device {@code i}'s own config and target. */
    public void addAll(int count, IntFunction<DeviceConfig> config, IntFunction<BlockTarget> target,
            Consumer<UblkDevice> created, BooleanSupplier cancelled) {
        runParallel(count, i -> {
            if (!cancelled.getAsBoolean()) {
                created.accept(add(config.apply(i), () -> target.apply(i)));
            }
        });
    }

    /**
     * Takes over device {@code devId}, which a dead or departed server left in the kernel
     * (USER_RECOVERY: QUIESCED, its I/O queued), over the target the supplier makes; see
     * {@link UblkDevice#recover}. The LIVE device joins this set like one {@link #add} made: the
     * set's close stops and deletes it. On failure the target is closed and the device is not
     * deleted.
     *
     * @throws UblkDevice.RecoveryRefusedException when it does not match {@code config} or cannot be
     *     recovered; the device is untouched then
     */
    public UblkDevice recover(int devId, DeviceConfig config, Supplier<BlockTarget> target) {
        for (UblkDevice d : devices()) {
            if (d.id() == devId) {
                throw new UblkDevice.RecoveryRefusedException("refusing to recover ublk" + devId
                        + ": this process serves it already");
            }
        }
        UblkControl control = take();
        try {
            BlockTarget t = target.get();
            UblkDevice dev = UblkDevice.recover(control, workers, devId, config, t, deadline);
            synchronized (devices) {
                devices.add(dev);
            }
            return dev;
        } finally {
            idle.add(control);
        }
    }

    /**
     * Recovers every device of {@code devIds}, as many at once as there are control channels,
     * handing each to {@code recovered} (from the recovering thread) as soon as it is LIVE. Unlike
     * {@link #addAll}, a failure does not stop the others: every id is tried, and the failures are
     * returned by device id (empty when every device was recovered), for the caller to report.
     *
     * @param config the configuration device {@code id} must match, by device id
     * @param target the target device {@code id} is served over, by device id (made only once its
     *     recovery starts)
     */
    public java.util.Map<Integer, RuntimeException> recoverAll(List<Integer> devIds, IntFunction<DeviceConfig> config,
            IntFunction<BlockTarget> target, Consumer<UblkDevice> recovered) {
        java.util.Map<Integer, RuntimeException> failed = new java.util.concurrent.ConcurrentSkipListMap<>();
        runParallel(devIds.size(), i -> {
            int id = devIds.get(i);
            try {
                recovered.accept(recover(id, config.apply(id), () -> target.apply(id)));
            } catch (RuntimeException e) {
                LOG.error("ublk{}: recovery failed: {}", id, e.getMessage());
                failed.put(id, e);
            }
        });
        return failed;
    }

    private UblkControl take() {
        try {
            return idle.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for a control channel", e);
        }
    }

    /** The devices added and not yet removed, in creation order. */
    public List<UblkDevice> devices() {
        synchronized (devices) {
            return List.copyOf(devices);
        }
    }

    /** Stops and deletes one device. */
    public void remove(UblkDevice dev) {
        synchronized (devices) {
            devices.remove(dev);
        }
        UblkControl control = take();
        try {
            dev.close(control);
        } finally {
            idle.add(control);
        }
    }

    /**
     * The planned-restart exit: stops serving every device WITHOUT STOP_DEV or DEL_DEV, so that the
     * devices stay in the kernel, QUIESCED with their I/O queued, for the next server's
     * {@link #recover}. First every worker leaves ({@link WorkerPool#leave}): it stops taking
     * requests, lets those at targets answer (commits them) for at most the set's deadline, then
     * closes its ring, which is what makes the kernel quiesce the devices (the requests it still
     * holds, and with REISSUE those in flight, are re-sent to the next server); then each device
     * unmaps its descriptors, closes its char device fd and closes (flushes) its target
     * ({@link UblkDevice#leave}); last the control channels close. Waits, within the deadline, until
     * the kernel reports each device QUIESCED (it does so asynchronously, in its quiesce work), and
     * logs any that is not.
     *
     * <p>On 6.12 this is the only way to leave: the kernel lets go of a device only when the
     * io_uring holding its FETCH commands goes away, and every worker serves queues of many
     * devices. It works in a live process (this set's workers end, the process may go on, and
     * even recover the devices with a new set). Afterwards the set is closed; {@link #close} does
     * nothing.
     *
     * @return the ids of the devices left in the kernel
     */
    public List<Integer> closeLeavingDevices() {
        synchronized (this) {
            if (closed) {
                return List.of();
            }
            closed = true;
        }
        List<UblkDevice> all = devices();
        List<Worker> stuck = workers.leave(deadline);
        List<Integer> left = new ArrayList<>();
        for (UblkDevice dev : all) {
            try {
                dev.leave();
                left.add(dev.id());
            } catch (RuntimeException e) {
                LOG.error("ublk{}: {}", dev.id(), e.getMessage());
            }
        }
        synchronized (devices) {
            devices.clear();
        }
        awaitQuiesced(left);
        workers.close();
        channels.forEach(UblkControl::close);
        LOG.info("left {} device(s) in the kernel for the next server{}", left.size(),
                stuck.isEmpty() ? "" : "; " + stuck.size() + " worker(s) did not exit, their devices quiesce when they do");
        return left;
    }

    /** Waits (within the deadline) until the kernel reports each device QUIESCED; logs the ones that are not. */
    private void awaitQuiesced(List<Integer> ids) {
        UblkControl control = channels.get(0);
        long until = System.nanoTime() + deadline.toNanos();
        for (int id : ids) {
            while (true) {
                int state;
                try {
                    state = control.deviceInfo(id).state();
                } catch (RuntimeException e) {
                    LOG.warn("ublk{}: GET_DEV_INFO after leaving failed: {}", id, e.getMessage());
                    break;
                }
                if (state == UblkDevState.QUIESCED) {
                    break;
                }
                if (System.nanoTime() - until >= 0) {
                    LOG.warn("ublk{} is still {} {} ms after its workers left (the kernel quiesces it asynchronously)",
                            id, DeviceInfo.stateName(state), deadline.toMillis());
                    break;
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Deletes every device (several at once), stops the workers, closes the control channels. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        List<UblkDevice> all = devices();
        RuntimeException failure = null;
        try {
            runParallel(all.size(), i -> {
                UblkDevice dev = all.get(all.size() - 1 - i);
                try {
                    remove(dev);
                } catch (RuntimeException e) {
                    LOG.error("ublk{}: teardown failed: {}", dev.id(), e.getMessage());
                    throw e;
                }
            });
        } catch (RuntimeException e) {
            failure = e;
        }
        workers.close();
        channels.forEach(UblkControl::close);
        if (failure != null) {
            throw failure;
        }
    }

    /** Runs {@code task(0..count-1)} on up to one thread per channel; rethrows the first failure. */
    private void runParallel(int count, IntTask task) {
        int threads = Math.min(channels.size(), count);
        if (threads <= 1) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "ublk-control");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int n = i;
                futures.add(pool.submit(() -> task.run(n)));
            }
            RuntimeException failure = null;
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    RuntimeException cause = e.getCause() instanceof RuntimeException r
                            ? r : new IllegalStateException(e.getCause());
                    if (failure == null) {
                        failure = cause;
                        futures.forEach(x -> x.cancel(false));
                    } else if (failure != cause) {
                        failure.addSuppressed(cause);
                    }
                } catch (java.util.concurrent.CancellationException e) {
                    // cancelled after the first failure
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            pool.shutdown();
        }
    }

    @FunctionalInterface
    private interface IntTask {
        void run(int i);
    }
}
