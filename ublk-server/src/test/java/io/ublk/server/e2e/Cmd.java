package io.ublk.server.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs an external command to completion with a deadline; output goes to files, not pipes. */
final class Cmd {
    /** What a finished command left behind. */
    record Result(List<String> command, int exit, String out, String err, Duration took) {
        /** The command line, its exit code and the tails of its output, for assertion messages. */
        String describe() {
            return String.join(" ", command) + "\n  exit " + exit + " after " + took.toMillis() + " ms\n  stdout: "
                    + tail(out, 3000) + "\n  stderr: " + tail(err, 3000);
        }

        /** Fails unless the command exited 0. */
        Result ok() {
            if (exit != 0) {
                fail("command failed: " + describe());
            }
            return this;
        }
    }

    private Cmd() {}

    static Result run(Duration timeout, Path workDir, String... command) {
        return run(timeout, workDir, List.of(command));
    }

    /** Runs {@code command} in {@code workDir}; fails the test (after killing it) when it outlives {@code timeout}. */
    static Result run(Duration timeout, Path workDir, List<String> command) {
        return run(timeout, workDir, Map.of(), command);
    }

    /** {@link #run(Duration, Path, List)} with {@code env} added to this process's environment. */
    static Result run(Duration timeout, Path workDir, Map<String, String> env, List<String> command) {
        try {
            Path out = Files.createTempFile(workDir, "cmd", ".out");
            Path err = Files.createTempFile(workDir, "cmd", ".err");
            long t0 = System.nanoTime();
            ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                kill(p);
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while running " + String.join(" ", command)
                        + "\n  stderr: " + tail(read(err), 3000), e);
            }
            if (!done) {
                kill(p);
                fail("command did not finish within " + timeout.toSeconds() + " s: " + String.join(" ", command)
                        + "\n  stdout: " + tail(read(out), 3000) + "\n  stderr: " + tail(read(err), 3000));
            }
            Result r = new Result(List.copyOf(command), p.exitValue(), read(out), read(err),
                    Duration.ofNanos(System.nanoTime() - t0));
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        }
    }

    private static void kill(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    /** The last {@code max} characters of {@code s}, marked when cut. */
    static String tail(String s, int max) {
        String t = s.strip();
        return t.length() <= max ? t : "..." + t.substring(t.length() - max);
    }
}
