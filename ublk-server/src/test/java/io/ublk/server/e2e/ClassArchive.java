package io.ublk.server.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One class archive of the server for the starts of this test JVM. Under TCG a JVM start is most
 * of a short test's time: C1 only and mapped archived classes take a server start on the host from
 * 1.65 s of CPU to 0.85 s. The first server started while there is none writes it at its clean
 * stop ({@code -XX:ArchiveClassesAtExit}, to a side file moved in place after the exit, so no start
 * maps a half-written archive); the starts after that map it. A start that brings its own
 * {@code UBLK_JAVA_OPTS} (or a run with {@code -Dublk.e2e.javaOpts}) is left alone.
 */
final class ClassArchive {
    private static final Path FILE = Path.of(System.getProperty("java.io.tmpdir"),
            "ublk-e2e-server-" + ProcessHandle.current().pid() + ".jsa");
    private static final Path PARTIAL = FILE.resolveSibling(FILE.getFileName() + ".part");
    private static final AtomicBoolean writing = new AtomicBoolean();
    // -Xlog off: with --enable-native-access the JVM logs an [error] that it cannot use the
    // archive's module graph (it still maps the archived classes).
    private static final String QUIET = " -Xlog:cds=off -Xlog:aot=off";

    private ClassArchive() {
    }

    /** The JVM options of one server start, and whether that server writes the archive. */
    record Use(String options, boolean writer) {}

    /** Options for a server start: map the archive, or write it if none is there and none is being written. */
    static Use forServer() {
        if (Files.exists(FILE)) {
            return new Use(reading(), false);
        }
        if (writing.compareAndSet(false, true)) {
            return new Use(ServerProcess.QUICK_START_OPTS + " -XX:ArchiveClassesAtExit=" + PARTIAL + QUIET, true);
        }
        return new Use(ServerProcess.QUICK_START_OPTS, false);
    }

    /** Options for a one-shot command (drain, delete): map the archive if there is one; never write it. */
    static String forCommand() {
        return Files.exists(FILE) ? reading() : ServerProcess.QUICK_START_OPTS;
    }

    private static String reading() {
        return ServerProcess.QUICK_START_OPTS + " -XX:SharedArchiveFile=" + FILE + QUIET;
    }

    /** The writer exited: keep what it wrote if it wrote anything, else let the next start try. */
    static void writerExited(boolean clean) {
        try {
            if (clean && Files.exists(PARTIAL) && Files.size(PARTIAL) > 0) {
                Files.move(PARTIAL, FILE, StandardCopyOption.ATOMIC_MOVE);
                System.err.println("[e2e] server class archive written: " + FILE + " (" + Files.size(FILE) + " bytes)");
                return;
            }
            Files.deleteIfExists(PARTIAL);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writing.set(false);
        }
        System.err.println("[e2e] note: the server wrote no class archive at its exit; the next start tries again");
    }
}
