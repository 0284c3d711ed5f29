package io.ublk.server.cli;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.DelayedTarget;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.blockcache.NullTarget;
import io.ublk.server.device.DeviceConfig;
import io.ublk.server.device.DeviceSet;
import io.ublk.server.worker.WorkerConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ublk.server.metrics.MetricsEndpoint;
import io.ublk.server.metrics.ServerMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ublk-server run}: creates N devices over a target, serves them until SIGINT/SIGTERM, then
 * stops and deletes every device it created.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Create devices over a target and serve them until SIGINT/SIGTERM.")
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

    @Spec CommandSpec spec;

    @Option(names = "--target", defaultValue = "memory", description = "memory (sparse RAM) or null (reads zeros, drops writes). Default: ${DEFAULT-VALUE}.")
    String target;

    @Option(names = "--size", required = true, converter = SizeConverter.class, description = "Device size, e.g. 1GiB (multiple of 4096).")
    long size;

    @Option(names = "--count", defaultValue = "1", description = "Devices to create. Default: ${DEFAULT-VALUE}.")
    int count;

    @Option(names = "--queues", defaultValue = "1", description = "Hardware queues per device. Default: ${DEFAULT-VALUE}.")
    int queues;

    @Option(names = "--depth", defaultValue = "64", description = "Tags per queue. Default: ${DEFAULT-VALUE}.")
    int depth;

    @Option(names = "--workers", defaultValue = "0", description = "Worker threads (0: one per CPU this process may use). Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(names = "--pool-slots", defaultValue = "" + WorkerConfig.DEFAULT_POOL_SLOTS, description = "Bounce slots per worker. Default: ${DEFAULT-VALUE}.")
    int poolSlots;

    @Option(names = "--slot-size", defaultValue = "128KiB", converter = SizeConverter.class, description = "Bounce slot size = largest I/O. Default: ${DEFAULT-VALUE}.")
    long slotSize;

    @Option(names = "--ready-file", description = "Written with one /dev/ublkbN per line once every device is LIVE.")
    Path readyFile;

    @Option(names = "--control-timeout", defaultValue = "30s", converter = DurationConverter.class, description = "Deadline of each control command. Default: ${DEFAULT-VALUE}.")
    Duration controlTimeout;

    @Option(names = "--parallel", defaultValue = "4", description = "Devices created or deleted at once. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(names = "--latency", converter = DurationConverter.class, description = "Answer every request this much later from another thread (simulates a remote store; for tests and benchmarks), e.g. 2ms.")
    Duration latency;

    @Option(names = "--metrics-port", description = "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port).")
    Integer metricsPort;

    @Option(names = "--metrics-host", defaultValue = "127.0.0.1", description = "Address the metrics endpoint binds. Default: ${DEFAULT-VALUE}.")
    String metricsHost;

    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private final CountDownLatch tornDown = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        Supplier<BlockTarget> targets = targetFactory();
        DeviceConfig deviceConfig;
        WorkerConfig workerConfig;
        try {
            if (count < 1) {
                throw new IllegalArgumentException("--count must be >= 1: " + count);
            }
            if (parallel < 1) {
                throw new IllegalArgumentException("--parallel must be >= 1: " + parallel);
            }
            if (workers < 0) {
                throw new IllegalArgumentException("--workers must be >= 0: " + workers);
            }
            if (slotSize > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("--slot-size is too large: " + slotSize);
            }
            workerConfig = new WorkerConfig((int) slotSize, poolSlots, WorkerConfig.DEFAULT_RING_ENTRIES,
                    WorkerConfig.DEFAULT_MAX_TAGS);
            deviceConfig = new DeviceConfig(size, queues, depth, (int) slotSize);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (readyFile != null) {
            Files.deleteIfExists(readyFile);
        }
        Thread hook = new Thread(this::onSignal, "ublk-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        PrintWriter out = spec.commandLine().getOut();
        if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
            throw new ParameterException(spec.commandLine(), "--metrics-port must be in [0, 65535]: " + metricsPort);
        }
        InetAddress metricsAddress;
        try {
            metricsAddress = InetAddress.getByName(metricsHost);
        } catch (UnknownHostException e) {
            throw new ParameterException(spec.commandLine(), "--metrics-host is not an address: '" + metricsHost + "'");
        }
        try (DeviceSet set = DeviceSet.open(workers, workerConfig, controlTimeout, parallel);
                MetricsEndpoint endpoint = startMetrics(set, metricsAddress)) {
            try {
                List<String> paths = new ArrayList<>();
                set.addAll(count, deviceConfig, targets, dev -> {
                    metrics.deviceAdded(dev);
                    synchronized (paths) {
                        paths.add(dev.blockDevice().toString());
                        out.println(dev.blockDevice());
                        out.flush();
                    }
                }, () -> stopSignal.getCount() == 0);
                if (stopSignal.getCount() > 0) {
                    writeReadyFile(paths);
                    LOG.info("serving {} device(s); SIGINT or SIGTERM stops and deletes them", paths.size());
                    stopSignal.await();
                }
                LOG.info("stopping {} device(s)", set.devices().size());
            } finally {
                if (readyFile != null) {
                    Files.deleteIfExists(readyFile);
                }
            }
        } finally {
            tornDown.countDown();
        }
        return 0;
    }

    private ServerMetrics metrics;

    /** Binds the metrics; serves them when --metrics-port was given (returns null otherwise). */
    private MetricsEndpoint startMetrics(DeviceSet set, InetAddress host) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics = new ServerMetrics(registry, set);
        if (metricsPort == null) {
            return null;
        }
        MetricsEndpoint endpoint = MetricsEndpoint.start(registry, host, metricsPort);
        LOG.info("metrics at http://{}:{}/metrics", host.getHostAddress(), endpoint.port());
        return endpoint;
    }

    private Supplier<BlockTarget> targetFactory() {
        Supplier<BlockTarget> base = switch (target) {
            case "memory" -> () -> new MemoryTarget(size);
            case "null" -> () -> new NullTarget(size);
            default -> throw new ParameterException(spec.commandLine(),
                    "--target must be memory or null: '" + target + "'");
        };
        if (latency == null) {
            return base;
        }
        long nanos = latency.toNanos();
        return () -> new DelayedTarget(base.get(), nanos);
    }

    private void writeReadyFile(List<String> paths) throws IOException {
        if (readyFile == null) {
            return;
        }
        // Devices come up in parallel; list them by id so the file is the same for the same ids.
        paths.sort(java.util.Comparator.comparingInt(p -> Integer.parseInt(p.substring("/dev/ublkb".length()))));
        Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
        Files.write(tmp, paths);
        Files.move(tmp, readyFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Shutdown hook (SIGINT/SIGTERM): let the main thread tear down, and wait for it. */
    private void onSignal() {
        stopSignal.countDown();
        try {
            if (!tornDown.await(300, TimeUnit.SECONDS)) {
                LOG.error("teardown did not finish within 300 s; exiting anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
