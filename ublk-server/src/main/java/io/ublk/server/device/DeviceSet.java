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
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The devices one server process exports, with the control connection and the workers they share.
 * Probes the kernel's features once (GET_FEATURES) and refuses to start without the ones devices
 * are created with.
 */
public final class DeviceSet implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceSet.class);

    private final UblkControl control;
    private final WorkerPool workers;
    private final Duration deadline;
    private final long features;
    private final List<UblkDevice> devices = new ArrayList<>();

    private DeviceSet(UblkControl control, WorkerPool workers, Duration deadline, long features) {
        this.control = control;
        this.workers = workers;
        this.deadline = deadline;
        this.features = features;
    }

    /**
     * Opens the control device, checks features, raises the fd limit and starts the workers.
     *
     * @param workerCount workers to start (0: one per CPU this process may use)
     * @throws UblkUnavailableException naming the missing flags when the kernel lacks a feature
     */
    public static DeviceSet open(int workerCount, WorkerConfig config, Duration deadline) {
        UblkControl control = UblkControl.open(deadline);
        try {
            long features = control.features();
            List<String> missing = FeatureNames.missing(features, UblkDevice.DEVICE_FLAGS);
            if (!missing.isEmpty()) {
                throw new UblkUnavailableException("this kernel's ublk driver lacks " + String.join(", ", missing)
                        + " (supported: " + String.join(", ", FeatureNames.names(features)) + ")");
            }
            long nofile = Limits.raiseOpenFiles();
            LOG.info("ublk features {}; open files limit {}", FeatureNames.names(features), nofile);
            return new DeviceSet(control, WorkerPool.start(workerCount, config), deadline, features);
        } catch (RuntimeException e) {
            control.close();
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
        dev.close();
    }

    /** Deletes every device (newest first), stops the workers, closes the control device. */
    @Override
    public void close() {
        RuntimeException failure = null;
        List<UblkDevice> all = devices();
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                remove(all.get(i));
            } catch (RuntimeException e) {
                LOG.error("ublk{}: teardown failed: {}", all.get(i).id(), e.getMessage());
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        workers.close();
        control.close();
        if (failure != null) {
            throw failure;
        }
    }
}
