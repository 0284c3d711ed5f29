package io.ublk.server.cli;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.DelayedTarget;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.blockcache.NullTarget;
import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.HeapBudget;
import io.ublk.s3.ObjectStore;
import io.ublk.server.device.UblkDevice;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Option(names = "--target", defaultValue = "memory", description = "memory (sparse RAM), null (reads zeros, drops writes) or cache (a write-back cached volume in --store). Default: ${DEFAULT-VALUE}.")
    String target;

    @Option(names = "--size", converter = SizeConverter.class, description = "Device size, e.g. 1GiB (multiple of 4096). Required for memory and null; for cache it creates the volume (an existing one must match), omitted or 0 opens an existing one.")
    Long size;

    @Mixin CacheOptions cache;
    @Mixin StoreOptions store;

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

    /** Heap kept for everything but the volumes' budgets (store client, metrics, control). */
    static final long HEAP_RESERVE = 64L << 20;

    /**
     * Refuses budgets the heap cannot hold: an out-of-memory error later would fail volumes in
     * the middle of serving. Says what each volume takes and what to change.
     */
    private void checkHeap(long need, CacheConfig each) {
        long max = Runtime.getRuntime().maxMemory();
        if (need + HEAP_RESERVE <= max) {
            return;
        }
        long mib = 1 << 20;
        throw new IllegalArgumentException(String.format(
                "the cache budgets need %d MiB of heap for %d volume(s) (each: --clean-cache %d MiB, twice "
                        + "--dirty-memory %d MiB, --segment-size %d MiB, ~%d KiB fixed) plus %d MiB, but the heap is "
                        + "at most %d MiB: lower those options or raise the heap (UBLK_JAVA_OPTS=-Xmx%dm)",
                need / mib, count, each.cleanCacheBytes() / mib,
                HeapBudget.dirtyInMemory(each) / mib, each.segmentBytes() / mib,
                HeapBudget.FIXED_BYTES >> 10, HEAP_RESERVE / mib, max / mib, (need + HEAP_RESERVE) / mib + 1));
    }

    @Override
    public Integer call() throws Exception {
        boolean cached = CACHE.equals(target);
        WorkerConfig workerConfig;
        DeviceConfig deviceConfig = null;
        try {
            checkTargetOptions();
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
            if (cached) {
                // The size each device gets comes from its volume; this checks the rest of the shape.
                new DeviceConfig(4096, queues, depth, (int) slotSize);
                long heap = 0;
                CacheConfig one = null;
                for (String name : cache.volumes(count)) {
                    one = cache.config(name, size == null ? 0 : size);
                    heap += HeapBudget.of(one, size == null ? 0 : size);
                }
                checkHeap(heap, one);
            } else {
                deviceConfig = new DeviceConfig(size, queues, depth, (int) slotSize);
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
            throw new ParameterException(spec.commandLine(), "--metrics-port must be in [0, 65535]: " + metricsPort);
        }
        InetAddress metricsAddress;
        try {
            metricsAddress = InetAddress.getByName(metricsHost);
        } catch (UnknownHostException e) {
            throw new ParameterException(spec.commandLine(), "--metrics-host is not an address: '" + metricsHost + "'");
        }
        if (readyFile != null) {
            Files.deleteIfExists(readyFile);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(this::onSignal, "ublk-shutdown"));
        try {
            if (!cached) {
                DeviceConfig only = deviceConfig;
                return serve(metricsAddress, workerConfig, i -> only, i -> latency(base(only.sizeBytes())), dev -> {});
            }
            // One store for every device of this process; volumes open before any device exists.
            try (ObjectStore objects = store.open();
                    Volumes volumes = Volumes.open(cache, objects, size, count, spec)) {
                Map<BlockTarget, Integer> served = new ConcurrentHashMap<>();
                return serve(metricsAddress, workerConfig,
                        i -> new DeviceConfig(volumes.targets().get(i).size(), queues, depth, (int) slotSize),
                        i -> {
                            BlockTarget t = latency(volumes.take(i));
                            served.put(t, i);
                            return t;
                        },
                        dev -> {
                            Integer i = served.get(dev.target());
                            if (i != null) {
                                metrics.cacheAdded(dev, volumes.name(i), volumes.targets().get(i).stats());
                            }
                        });
            }
        } finally {
            tornDown.countDown();
        }
    }

    /**
     * Creates {@code count} devices (device {@code i} with {@code configs.apply(i)} over
     * {@code targets.apply(i)}), hands each to {@code added} once LIVE, and serves them until a signal.
     */
    private int serve(InetAddress metricsAddress, WorkerConfig workerConfig, IntFunction<DeviceConfig> configs,
            IntFunction<BlockTarget> targets, Consumer<UblkDevice> added) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (DeviceSet set = DeviceSet.open(workers, workerConfig, controlTimeout, parallel);
                MetricsEndpoint endpoint = startMetrics(set, metricsAddress)) {
            try {
                List<String> paths = new ArrayList<>();
                set.addAll(count, configs, targets, dev -> {
                    metrics.deviceAdded(dev);
                    added.accept(dev);
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

    static final String CACHE = "cache";

    /** Refuses options of another target, and a missing --size where one is needed. */
    private void checkTargetOptions() {
        TargetArgs.check(target, size, cache, store);
    }

    private BlockTarget base(long bytes) {
        return "null".equals(target) ? new NullTarget(bytes) : new MemoryTarget(bytes);
    }

    /** The target itself, or with --latency one that answers that much later. */
    private BlockTarget latency(BlockTarget t) {
        return latency == null ? t : new DelayedTarget(t, latency.toNanos());
    }

    private void writeReadyFile(List<String> paths) throws IOException {
        if (readyFile == null) {
            return;
        }
        // Devices come up in parallel; list them by id so the file is the same for the same ids.
        paths.sort(java.util.Comparator.comparingInt(p -> Integer.parseInt(p.substring("/dev/ublkb".length()))));
        // an exclusive temp file that never follows a symlink, then an atomic rename
        io.ublk.s3.LocalFiles.writeAtomically(readyFile.toAbsolutePath(),
                (String.join("\n", paths) + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
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
