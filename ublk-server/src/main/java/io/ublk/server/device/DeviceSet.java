package io.ublk.server.device;

import io.ublk.blockcache.BlockTarget;
import io.ublk.server.ctrl.FeatureNames;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.ctrl.UblkUnavailableException;
import io.ublk.server.sys.Limits;
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
        UblkControl control = take();
        BlockTarget t = target.get();
        try {
            UblkDevice dev = UblkDevice.create(control, workers, config, t, deadline);
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

    /** Deletes every device (several at once), stops the workers, closes the control channels. */
    @Override
    public void close() {
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

    /** PLACEHOLDER until h/recovery lands: recovers a QUIESCED kernel device. */
    public UblkDevice recover(int devId, DeviceConfig config, Supplier<BlockTarget> target) {
        throw new UnsupportedOperationException("recovery is not built yet");
    }

    /** PLACEHOLDER until h/recovery lands: stops serving, leaving the devices in the kernel. */
    public void closeLeavingDevices() {
        close();
    }

    @FunctionalInterface
    private interface IntTask {
        void run(int i);
    }
}
