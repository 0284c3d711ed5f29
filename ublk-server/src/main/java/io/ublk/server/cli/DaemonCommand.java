package io.ublk.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ublk.server.admin.AdminApi;
import io.ublk.server.admin.AdminServer;
import io.ublk.server.admin.PeerPolicy;
import io.ublk.server.admin.Protocol;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.daemon.Daemon;
import io.ublk.server.daemon.DaemonConfig;
import io.ublk.server.daemon.StateDir;
import io.ublk.server.device.DeviceSet;
import io.ublk.server.metrics.MetricsEndpoint;
import io.ublk.server.metrics.ServerMetrics;
import io.ublk.server.worker.WorkerConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ublk-server daemon}: serves every device of the host, added and removed at runtime over
 * the admin socket, kept in the state folder, taken back after a crash or a planned restart.
 * Ready once the socket accepts. SIGTERM/SIGINT stop it keeping the devices (the next daemon
 * re-attaches them); {@code daemon stop} without {@code --keep-devices} deletes them.
 */
@Command(name = "daemon", mixinStandardHelpOptions = true,
        description = "Serve the host's devices; manage them with device add/del/list/show over --socket.",
        subcommands = {DaemonCommand.Stop.class, DaemonCommand.Status.class})
final class DaemonCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(DaemonCommand.class);

    @Spec CommandSpec spec;

    @Option(names = "--state-dir", description = "Folder of the device records. Default: /var/lib/ublk-server.")
    Path stateDir = Protocol.DEFAULT_STATE_DIR;

    @Option(names = "--socket", description = "The admin socket (its folder is made 0700). Default: /run/ublk-server/admin.sock.")
    Path socket = Protocol.DEFAULT_SOCKET;

    @Option(names = "--admin-group", description = "Also let this group's members use the socket (0660, folder 0750).")
    String adminGroup;

    @Option(names = "--workers", defaultValue = "0", description = "Worker threads (0: one per CPU this process may use). Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(names = "--pool-slots", defaultValue = "" + WorkerConfig.DEFAULT_POOL_SLOTS, description = "Bounce slots per worker. Default: ${DEFAULT-VALUE}.")
    int poolSlots;

    @Option(names = "--slot-size", defaultValue = "128KiB", converter = SizeConverter.class, description = "Bounce slot size = largest I/O. Default: ${DEFAULT-VALUE}.")
    long slotSize;

    @Option(names = "--control-timeout", defaultValue = "30s", converter = DurationConverter.class, description = "Deadline of each control command. Default: ${DEFAULT-VALUE}.")
    Duration controlTimeout;

    @Option(names = "--parallel", defaultValue = "8", description = "Devices created, recovered or deleted at once. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(names = "--admin-threads", defaultValue = "8", description = "Admin requests served at once. Default: ${DEFAULT-VALUE}.")
    int adminThreads;

    @Option(names = "--config", description = "A TOML file of default target options and devices to serve; read again on SIGHUP or daemon reload.")
    Path configFile;

    @Option(names = "--metrics-port", description = "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: any free port).")
    Integer metricsPort;

    @Option(names = "--metrics-host", defaultValue = "127.0.0.1", description = "Address the metrics endpoint binds. Default: ${DEFAULT-VALUE}.")
    String metricsHost;

    private final CountDownLatch tornDown = new CountDownLatch(1);
    private volatile Daemon daemon;

    @Override
    public Integer call() throws Exception {
        WorkerConfig workerConfig;
        InetAddress metricsAddress;
        try {
            if (workers < 0) {
                throw new IllegalArgumentException("--workers must be >= 0: " + workers);
            }
            if (parallel < 1 || parallel > 256) {
                throw new IllegalArgumentException("--parallel must be in [1, 256]: " + parallel);
            }
            if (adminThreads < 1 || adminThreads > 64) {
                throw new IllegalArgumentException("--admin-threads must be in [1, 64]: " + adminThreads);
            }
            if (slotSize > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("--slot-size is too large: " + slotSize);
            }
            if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
                throw new IllegalArgumentException("--metrics-port must be in [0, 65535]: " + metricsPort);
            }
            if (adminGroup != null && !adminGroup.matches("[A-Za-z_][A-Za-z0-9_.-]{0,31}")) {
                throw new IllegalArgumentException("--admin-group is not a group name: '" + adminGroup + "'");
            }
            Folders.checkUsable("--state-dir", stateDir);
            Folders.checkUsable("--socket's folder", socket.toAbsolutePath().getParent());
            if (configFile != null) {
                DaemonConfig.read(configFile); // a file that does not read refuses the start
            }
            workerConfig = new WorkerConfig((int) slotSize, poolSlots, WorkerConfig.DEFAULT_RING_ENTRIES,
                    WorkerConfig.DEFAULT_MAX_TAGS);
            try {
                metricsAddress = InetAddress.getByName(metricsHost);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("--metrics-host is not an address: '" + metricsHost + "'");
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(this::onSignal, "ublk-shutdown"));
        try (StateDir state = StateDir.open(stateDir, Protocol.json());
                TargetArgs.Opener opener = new TargetArgs.Opener();
                UblkControl query = UblkControl.open(controlTimeout)) {
            DeviceSet set = DeviceSet.open(workers, workerConfig, controlTimeout, parallel);
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            ServerMetrics metrics = new ServerMetrics(registry, set);
            try (MetricsEndpoint endpoint = metricsPort == null ? null
                    : MetricsEndpoint.start(registry, metricsAddress, metricsPort)) {
                if (endpoint != null) {
                    LOG.info("metrics at http://{}:{}/metrics", metricsAddress.getHostAddress(), endpoint.port());
                }
                Daemon d = new Daemon(state, set, opener, metrics, query, (int) slotSize, parallel);
                daemon = d;
                try {
                    d.start();
                    if (configFile != null) {
                        d.apply(DaemonConfig.read(configFile), line -> {});
                    }
                    sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> {
                        try {
                            reload();
                        } catch (RuntimeException e) {
                            LOG.error("reload on SIGHUP: {}", e.getMessage());
                        }
                    });
                    try (AdminServer admin = AdminServer.start(socket, adminGroup == null ? PeerPolicy.ROOT_ONLY
                            : new PeerPolicy(adminGroup), new AdminApi(d, this::reload), adminThreads)) {
                        LOG.info("daemon ready: {} device(s); admin socket {}", d.list().size(), admin.socket());
                        d.awaitStop();
                    }
                    if (d.keepsDevicesOnStop()) {
                        exitLeavingDevices(d);
                    }
                } finally {
                    d.close();
                }
            }
        } finally {
            tornDown.countDown();
        }
        return 0;
    }

    /**
     * The planned restart: the process ends at once, as a crash would, and the kernel keeps every
     * device (USER_RECOVERY), its I/O queued and with REISSUE the requests in flight sent again to
     * the next daemon. Nothing acknowledged is lost: a cache volume's acknowledged writes are in its
     * journal files (the page cache outlives the process; FLUSHed ones are on disk), replayed by the
     * next open. This is the exit path kill -9 proves on every recovery test; an in-process leave
     * ({@link DeviceSet#closeLeavingDevices}) is not used here, since the process ends anyway.
     */
    private void exitLeavingDevices(Daemon d) {
        LOG.info("planned restart: exiting with {} device(s) left in the kernel for the next daemon", d.list().size());
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(0);
    }

    /** Reads the config file again and applies it; a file that does not check out changes nothing. */
    private java.util.Map<String, Object> reload() {
        if (configFile == null) {
            LOG.info("reload: the daemon has no --config file");
            return java.util.Map.of("config", "none");
        }
        DaemonConfig next;
        try {
            next = DaemonConfig.read(configFile);
        } catch (IllegalArgumentException e) {
            throw new io.ublk.server.daemon.DaemonException(io.ublk.server.daemon.DaemonException.Code.BAD_ARGUMENT,
                    e.getMessage());
        }
        return daemon.apply(next, line -> {});
    }

    /** Shutdown hook (SIGINT/SIGTERM): stop keeping the devices, and wait for the teardown. */
    private void onSignal() {
        Daemon d = daemon;
        if (d != null) {
            if (!d.stopRequested()) {
                d.requestStop(true);
            }
        }
        try {
            if (!tornDown.await(300, TimeUnit.SECONDS)) {
                LOG.error("teardown did not finish within 300 s; exiting anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Stop the daemon: with --keep-devices its devices stay (a planned restart), else they are deleted.")
    static final class Stop implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Option(names = "--keep-devices", description = "Leave the devices in the kernel, their I/O queued, for the next daemon.")
        boolean keepDevices;

        @Option(names = "--force", description = "Delete the devices even while mounted or open.")
        boolean force;

        @Override
        public Integer call() {
            ObjectNode req = client.client().request("daemon.stop");
            req.put("keepDevices", keepDevices);
            req.put("force", force);
            return client.answer(spec, req, (out, r) -> out.println(keepDevices
                    ? "daemon stopping; its devices stay for the next one" : "daemon stopping; deleting its devices"));
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show the daemon's status.")
    static final class Status implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Override
        public Integer call() {
            return client.answer(spec, client.client().request("daemon.status"), DeviceCommand::printFields);
        }
    }
}
