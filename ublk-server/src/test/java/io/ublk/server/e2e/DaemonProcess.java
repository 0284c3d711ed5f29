package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.admin.AdminClient;
import io.ublk.server.daemon.DaemonException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real daemon, {@code bin/ublk-server daemon --state-dir DIR/state --socket DIR/admin.sock},
 * as a separate process. {@link #start} returns once the socket answers {@code daemon.status};
 * requests go over the socket from this JVM ({@link AdminClient}, the client the CLI uses), so a
 * test pays a JVM start per daemon, not per request. Its stdout and stderr go to files in its
 * folder; assertion messages carry the stderr tail.
 */
final class DaemonProcess implements AutoCloseable {
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(180);

    private final Process process;
    private final Path dir;
    private final Path socket;
    private final Path stderr;
    private final List<String> command;
    private final AdminClient admin;
    private Duration startup;
    private boolean stopped;
    /** Killed: its devices may be left in the kernel. */
    private boolean killed;

    private DaemonProcess(Process process, Path dir, Path socket, Path stderr, List<String> command) {
        this.process = process;
        this.dir = dir;
        this.socket = socket;
        this.stderr = stderr;
        this.command = command;
        this.admin = new AdminClient(socket);
    }

    /**
     * Starts a daemon on {@code home}'s state folder and socket (the same {@code home} is the same
     * daemon again after a restart), with {@code run} as the name of this run's log folder.
     */
    static DaemonProcess start(Path home, String run, Duration readyTimeout, String... args) {
        try {
            Path dir = home.resolve(run);
            Files.createDirectories(dir);
            Path socket = home.resolve("admin.sock");
            List<String> cmd = new ArrayList<>();
            cmd.add(ServerProcess.root().resolve("bin/ublk-server").toString());
            cmd.add("daemon");
            cmd.addAll(List.of("--state-dir", home.resolve("state").toString(), "--socket", socket.toString()));
            cmd.addAll(List.of(args));
            Path err = dir.resolve("daemon.err");
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(dir.resolve("daemon.out").toFile()).redirectError(err.toFile());
            Map<String, String> env = ServerProcess.environment(Map.of());
            env.putIfAbsent("UBLK_JAVA_OPTS", ClassArchive.forCommand());
            pb.environment().putAll(env);
            long t0 = System.nanoTime();
            DaemonProcess d = new DaemonProcess(pb.start(), dir, socket, err, List.copyOf(cmd));
            long deadline = t0 + readyTimeout.toNanos();
            while (true) {
                if (!d.process.isAlive()) {
                    fail("daemon exited with " + d.process.exitValue() + " before it was ready: " + d.describe());
                }
                if (Files.exists(socket)) {
                    try {
                        d.call(d.request("daemon.status"));
                        break;
                    } catch (DaemonException e) {
                        // a dead daemon's socket file, or not listening yet
                    }
                }
                if (System.nanoTime() > deadline) {
                    String why = d.describe();
                    d.kill9();
                    fail("daemon not ready within " + readyTimeout.toSeconds() + " s: " + why);
                }
                Thread.sleep(100);
            }
            d.startup = Duration.ofNanos(System.nanoTime() - t0);
            System.err.printf("[e2e] daemon pid %d ready in %.1f s (%s)%n", d.process.pid(),
                    d.startup.toMillis() / 1000.0, run);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    Duration startup() {
        return startup;
    }

    Path socket() {
        return socket;
    }

    long pid() {
        return process.pid();
    }

    ObjectNode request(String op) {
        return admin.request(op);
    }

    /** One request; progress lines are echoed to the test's stderr. */
    JsonNode call(ObjectNode req) {
        return admin.call(req, line -> System.err.println("[e2e] daemon: " + line));
    }

    /** {@code device.add} of {@code count} devices of one spec; their paths, by id. */
    List<Path> add(int count, String... args) {
        ObjectNode req = request("device.add");
        ArrayNode a = req.putArray("args");
        for (String s : args) {
            a.add(s);
        }
        req.put("cwd", dir.toString());
        req.put("count", count);
        List<Path> out = new ArrayList<>();
        for (JsonNode d : call(req).get("devices")) {
            out.add(Path.of(d.get("path").asText()));
        }
        return out;
    }

    void delete(Path dev, boolean force) {
        ObjectNode req = request("device.del");
        req.put("device", dev.toString());
        req.put("force", force);
        call(req);
    }

    /** {@code device.list}: the devices as the daemon shows them. */
    JsonNode list() {
        return call(request("device.list")).get("devices");
    }

    boolean isAlive() {
        return process.isAlive();
    }

    void assertAlive() {
        if (!process.isAlive()) {
            fail("daemon died with exit code " + process.exitValue() + ": " + describe());
        }
    }

    /** SIGKILL, as a crash: the devices stay in the kernel with their I/O queued. */
    void kill9() {
        stopped = true;
        killed = true;
        process.destroyForcibly();
        try {
            process.waitFor(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.err.printf("[e2e] daemon pid %d killed (SIGKILL)%n", process.pid());
    }

    /**
     * {@code daemon.stop}: with {@code keepDevices} a planned restart (the devices stay), else every
     * device is deleted. Waits for the exit and asserts exit code 0.
     */
    void stop(boolean keepDevices) {
        stop(keepDevices, false);
    }

    void stop(boolean keepDevices, boolean force) {
        if (stopped) {
            return;
        }
        ObjectNode req = request("daemon.stop");
        req.put("keepDevices", keepDevices);
        req.put("force", force);
        call(req);
        awaitExit();
    }

    /** SIGTERM: a planned restart (the devices stay). Waits for the exit. */
    void terminate() {
        if (stopped) {
            return;
        }
        process.destroy();
        awaitExit();
    }

    private void awaitExit() {
        stopped = true;
        long t0 = System.nanoTime();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                String d = describe();
                process.destroyForcibly();
                fail("daemon did not exit within " + STOP_TIMEOUT.toSeconds() + " s: " + d);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        System.err.printf("[e2e] daemon pid %d exited %d in %.1f s%n", process.pid(), process.exitValue(),
                (System.nanoTime() - t0) / 1e9);
        int exit = process.exitValue();
        if (exit != 0 && exit != 143) {
            fail("daemon exited with " + exit + ": " + describe());
        }
    }

    String describe() {
        String state = process.isAlive() ? "running" : "exited " + process.exitValue();
        return String.join(" ", command) + " (pid " + process.pid() + ", " + state + ")\n--- daemon stderr tail ---\n"
                + Cmd.tail(Cmd.read(stderr), 6000) + "\n--- end of daemon stderr ---";
    }

    /**
     * For finally blocks: a daemon still running is asked to delete its devices; one that will
     * not is killed, and the devices it leaves are deleted ({@code delete --stale}).
     */
    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                stop(false, true);
                return;
            } catch (RuntimeException | AssertionError e) {
                System.err.println("[e2e] daemon would not stop cleanly: " + e.getMessage());
                kill9();
            }
        }
        if (!killed) {
            return;
        }
        Cmd.Result r = ServerProcess.cli(dir, Duration.ofMinutes(3), Map.of(), "delete", "--stale");
        System.err.println("[e2e] cleanup: " + r.out().strip());
    }
}
