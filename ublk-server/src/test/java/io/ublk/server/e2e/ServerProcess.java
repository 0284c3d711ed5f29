package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real server, {@code bin/ublk-server run ...}, as a separate process (root from the system
 * property {@code ublk.root}). {@link #start} returns once the ready file lists every device;
 * {@link #stop} sends SIGTERM and asserts a clean exit with no device left behind; {@link #close}
 * stops it without assertions (for finally blocks), so a failing test never leaks a server.
 *
 * <p>The server's stdout and stderr go to files in the working directory; assertion messages
 * carry the stderr tail.
 */
final class ServerProcess implements AutoCloseable {
    private static final Pattern DEVICE = Pattern.compile("^/dev/ublkb(\\d+)$");
    /** Extra JVM options for the server (env {@code UBLK_JAVA_OPTS} of bin/ublk-server). */
    static final String JAVA_OPTS = System.getProperty("ublk.e2e.javaOpts", "");
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(180);
    /**
     * {@link #JAVA_OPTS} plus C1 only, for tests that start many short-lived servers: under TCG the
     * C2 compiler threads dominate a JVM start (CPU of a cache server start on the host: 1.65 s
     * plain, 1.2 s with C1 only). Pass it as {@code UBLK_JAVA_OPTS} in a start's environment.
     */
    static final String QUICK_START_OPTS = (JAVA_OPTS + " -XX:TieredStopAtLevel=1").strip();

    private final Process process;
    private final Path stdout;
    private final Path stderr;
    private final List<String> command;
    private Duration startup = Duration.ZERO;
    private List<Path> devices = List.of();
    private boolean stopped;
    /** This server writes the test JVM's {@link ClassArchive} at its exit. */
    private boolean writesArchive;

    private ServerProcess(Process process, Path stdout, Path stderr, List<String> command) {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
        this.command = command;
    }

    static Path root() {
        String root = System.getProperty("ublk.root");
        if (root == null) {
            fail("system property ublk.root is not set (Maven sets it to the checkout)");
        }
        return Path.of(root);
    }

    /**
     * Starts {@code ublk-server run ARGS --ready-file DIR/ready} in {@code dir} and waits until the
     * ready file appears; fails with the stderr tail when the server exits first or the timeout hits
     * (the server is stopped then).
     */
    static ServerProcess start(Path dir, Duration readyTimeout, String... args) {
        return start(dir, readyTimeout, Map.of(), args);
    }

    /** {@link #start(Path, Duration, String...)} with extra environment (e.g. S3 credentials). */
    static ServerProcess start(Path dir, Duration readyTimeout, Map<String, String> env, String... args) {
        return attemptOrFail(dir, readyTimeout, env, false, args).server();
    }

    /** How a start that may be refused ended: the server once ready, or its exit code and output. */
    record Attempt(ServerProcess server, int exit, String stdout, String stderr) {
        boolean started() {
            return server != null;
        }
    }

    /**
     * {@link #start(Path, Duration, Map, String...)} for a start that may be refused: an exit before
     * the server is ready is an answer (exit code, stdout, stderr), not a failure. Still fails if
     * the exit left a device behind.
     */
    static Attempt attempt(Path dir, Duration readyTimeout, Map<String, String> env, String... args) {
        return attemptOrFail(dir, readyTimeout, env, true, args);
    }

    private static Attempt attemptOrFail(Path dir, Duration readyTimeout, Map<String, String> env,
            boolean exitIsAnswer, String... args) {
        try {
            return startOnce(dir, readyTimeout, env, exitIsAnswer, args);
        } catch (EmulatorJitCrash e) {
            // Known qemu defect (multi-threaded TCG runs stale JIT code now and then): the JVM died
            // of SIGILL in compiled Java code before it was ready and before it created any device.
            // Not the server's doing; one more start, said out loud.
            System.err.println("[e2e] WARNING: server JVM hit SIGILL in JIT-compiled code under emulation; "
                    + "starting it once more. " + e.getMessage());
            return startOnce(dir.resolveSibling(dir.getFileName() + "-retry"), readyTimeout, env, exitIsAnswer, args);
        }
    }

    /** A start that died of {@link #emulatorJitCrash()} before creating any device. */
    private static final class EmulatorJitCrash extends RuntimeException {
        EmulatorJitCrash(String message) {
            super(message);
        }
    }

    private static Attempt startOnce(Path dir, Duration readyTimeout, Map<String, String> extraEnv,
            boolean exitIsAnswer, String... args) {
        try {
            Files.createDirectories(dir);
            Path ready = dir.resolve("ready");
            Path out = dir.resolve("server.out");
            Path err = dir.resolve("server.err");
            List<String> cmd = new ArrayList<>();
            cmd.add(root().resolve("bin/ublk-server").toString());
            cmd.add("run");
            cmd.addAll(List.of(args));
            cmd.add("--ready-file");
            cmd.add(ready.toString());
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            Map<String, String> env = environment(extraEnv);
            ClassArchive.Use archive = null;
            if (!env.containsKey("UBLK_JAVA_OPTS")) {
                archive = ClassArchive.forServer();
                env.put("UBLK_JAVA_OPTS", archive.options());
            }
            pb.environment().putAll(env);
            long t0 = System.nanoTime();
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                if (archive != null && archive.writer()) {
                    ClassArchive.writerExited(false);
                }
                throw e;
            }
            ServerProcess server = new ServerProcess(p, out, err, List.copyOf(cmd));
            server.writesArchive = archive != null && archive.writer();
            long deadline = t0 + readyTimeout.toNanos();
            try {
                while (!Files.exists(ready)) {
                    if (!p.isAlive()) {
                        server.archiveWriterExited(false);
                        server.devices = server.printedDevices();
                        server.assertNoDevicesLeft("after an early exit");
                        if (server.devices.isEmpty() && server.emulatorJitCrash()) {
                            throw new EmulatorJitCrash(server.describe());
                        }
                        if (exitIsAnswer) {
                            return new Attempt(null, p.exitValue(), Cmd.read(out), Cmd.read(err));
                        }
                        fail("server exited with " + p.exitValue() + " before it was ready: " + server.describe());
                    }
                    if (System.nanoTime() > deadline) {
                        server.close();
                        fail("server not ready within " + readyTimeout.toSeconds() + " s: " + server.describe());
                    }
                    Thread.sleep(100);
                }
                List<Path> devs = Files.readAllLines(ready).stream().filter(l -> !l.isBlank()).map(Path::of)
                        .toList();
                ServerProcess started = server;
                started.startup = Duration.ofNanos(System.nanoTime() - t0);
                started.devices = devs;
                for (Path d : devs) {
                    if (!DEVICE.matcher(d.toString()).matches() || !Files.exists(d)) {
                        started.close();
                        fail("ready file lists " + d + " which is not an existing /dev/ublkbN: " + devs);
                    }
                }
                System.err.printf("[e2e] server pid %d ready in %.1f s with %d device(s): %s%n", p.pid(),
                        started.startup.toMillis() / 1000.0, devs.size(), String.join(" ", args));
                return new Attempt(started, 0, "", "");
            } catch (InterruptedException e) {
                server.close();
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for the server", e);
            } catch (EmulatorJitCrash e) {
                throw e;
            } catch (IOException | RuntimeException | Error e) {
                if (p.isAlive()) {
                    server.close();
                }
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The environment bin/ublk-server gets: {@code UBLK_JAVA_OPTS}, the build folder this test run
     * uses ({@code UBLK_TARGET_DIR} from the {@code ublk.target} property), plus {@code extra}.
     */
    static Map<String, String> environment(Map<String, String> extra) {
        Map<String, String> env = new java.util.HashMap<>();
        if (!JAVA_OPTS.isBlank()) {
            env.put("UBLK_JAVA_OPTS", JAVA_OPTS);
        }
        String target = System.getProperty("ublk.target");
        if (target != null && !target.isBlank()) {
            env.put("UBLK_TARGET_DIR", target);
        }
        env.putAll(extra);
        return env;
    }

    /** Runs a one-shot {@code bin/ublk-server ARGS} (drain, delete, ...) to its end in {@code dir}. */
    static Cmd.Result cli(Path dir, Duration timeout, Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(root().resolve("bin/ublk-server").toString());
        cmd.addAll(List.of(args));
        Map<String, String> all = environment(env);
        all.putIfAbsent("UBLK_JAVA_OPTS", ClassArchive.forCommand());
        return Cmd.run(timeout, dir, all, cmd);
    }

    /**
     * SIGKILL, as a crash: no teardown runs, so the kernel keeps the devices (USER_RECOVERY) with
     * their I/O queued; {@code bin/ublk-server delete --stale} removes them.
     */
    void kill9() {
        stopped = true;
        kill();
        System.err.printf("[e2e] server pid %d killed (SIGKILL), exit %d%n", process.pid(), process.exitValue());
    }

    List<Path> devices() {
        return devices;
    }

    Path device(int i) {
        return devices.get(i);
    }

    long pid() {
        return process.pid();
    }

    Duration startup() {
        return startup;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Fails (with the stderr tail) unless the server is still running. */
    void assertAlive() {
        if (!process.isAlive()) {
            fail("server died with exit code " + process.exitValue() + ": " + describe());
        }
    }

    /** The server's command, state and stderr tail, for assertion messages. */
    /** The {@code --metrics-port} this server was started with, or -1. */
    int metricsPort() {
        int i = command.indexOf("--metrics-port");
        return i >= 0 && i + 1 < command.size() ? Integer.parseInt(command.get(i + 1)) : -1;
    }

    String describe() {
        String state = process.isAlive() ? "running" : "exited " + process.exitValue();
        String d = String.join(" ", command) + " (pid " + process.pid() + ", " + state + ")"
                + "\n--- server stderr tail ---\n" + Cmd.tail(Cmd.read(stderr), 4000)
                + "\n--- end of server stderr ---";
        // A JVM that crashed (exit 134) leaves hs_err_pid<pid>.log in its working directory.
        Path hsErr = stderr.resolveSibling("hs_err_pid" + process.pid() + ".log");
        if (Files.exists(hsErr)) {
            String text = Cmd.read(hsErr);
            int cut = text.indexOf("---------------  P R O C E S S");
            d += "\n--- " + hsErr + " (head) ---\n" + (cut > 0 ? text.substring(0, Math.min(cut, 6000))
                    : Cmd.tail(text, 6000));
            Path keep = root().resolve("ublk-server").resolve(System.getProperty("ublk.target", "target"))
                    .resolve("e2e-crashes").resolve(hsErr.getFileName());
            try {
                Files.createDirectories(keep.getParent());
                Files.copy(hsErr, keep, StandardCopyOption.REPLACE_EXISTING);
                d += "\n(kept as " + keep + ")";
            } catch (IOException e) {
                d += "\n(cannot keep " + hsErr + ": " + e + ")";
            }
        }
        return d;
    }

    /**
     * SIGTERM, then asserts: the server exits within {@link #STOP_TIMEOUT} with 143 (a JVM ended
     * by SIGTERM) or 0, and none of its /dev/ublkbN, /dev/ublkcN, /sys/block/ublkbN remain.
     */
    void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        process.destroy(); // SIGTERM
        long t0 = System.nanoTime();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                String d = describe();
                kill();
                fail("server did not exit within " + STOP_TIMEOUT.toSeconds() + " s of SIGTERM: " + d);
            }
        } catch (InterruptedException e) {
            kill();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while stopping the server", e);
        }
        System.err.printf("[e2e] server pid %d stopped in %.1f s, exit %d%n", process.pid(),
                (System.nanoTime() - t0) / 1e9, process.exitValue());
        int exit = process.exitValue();
        archiveWriterExited(exit == 143 || exit == 0);
        if (exit != 143 && exit != 0) {
            fail("server exited with " + exit + " after SIGTERM (want 143 or 0): " + describe());
        }
        assertNoDevicesLeft("after SIGTERM");
    }

    /** Stops without assertions (SIGTERM, then SIGKILL if it hangs); for finally blocks. */
    @Override
    public void close() {
        if (stopped && !process.isAlive()) {
            return;
        }
        stopped = true;
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                kill();
            }
        } catch (InterruptedException e) {
            kill();
            Thread.currentThread().interrupt();
        }
        archiveWriterExited(process.exitValue() == 143 || process.exitValue() == 0);
    }

    private void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        archiveWriterExited(false);
    }

    private void archiveWriterExited(boolean clean) {
        if (writesArchive && !process.isAlive()) {
            writesArchive = false;
            ClassArchive.writerExited(clean);
        }
    }

    /**
     * The JVM aborted (134) with SIGILL in JIT-compiled Java code ("J" frame): what qemu's
     * multi-threaded TCG does now and then (see scripts/lib/vm-setup.sh), not a server fault,
     * which would be a SIGSEGV/SIGBUS in native code or an exception.
     */
    private boolean emulatorJitCrash() {
        if (process.isAlive() || process.exitValue() != 134) {
            return false;
        }
        String hsErr = Cmd.read(stderr.resolveSibling("hs_err_pid" + process.pid() + ".log"));
        return hsErr.contains("SIGILL") && Pattern.compile("(?m)^# Problematic frame:\\n# J ").matcher(hsErr).find();
    }

    /** Devices the server printed on stdout (it prints each one as it is added). */
    private List<Path> printedDevices() {
        return Cmd.read(stdout).lines().filter(l -> DEVICE.matcher(l.strip()).matches()).map(l -> Path.of(l.strip()))
                .toList();
    }

    /** Every node of the devices this server created is gone (waits up to 5 s for devtmpfs). */
    private void assertNoDevicesLeft(String when) {
        List<Path> all = new ArrayList<>(devices);
        for (Path p : printedDevices()) {
            if (!all.contains(p)) {
                all.add(p);
            }
        }
        List<Path> nodes = new ArrayList<>();
        for (Path b : all) {
            Matcher m = DEVICE.matcher(b.toString());
            if (m.matches()) {
                nodes.add(b);
                nodes.add(Path.of("/dev/ublkc" + m.group(1)));
                nodes.add(Path.of("/sys/block/ublkb" + m.group(1)));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        List<Path> left;
        do {
            left = nodes.stream().filter(Files::exists).toList();
            if (left.isEmpty()) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        } while (System.nanoTime() < deadline);
        fail("server left " + left.size() + " device node(s) " + when + ": "
                + left.subList(0, Math.min(10, left.size())) + ": " + describe());
    }
}
