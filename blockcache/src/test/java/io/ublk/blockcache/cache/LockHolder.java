package io.ublk.blockcache.cache;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Another process that wins a cache folder: makes it, locks it, writes an id and a journal file,
 * says so, and holds the lock until killed. A file lock fences processes, not threads, so a race
 * between two openers needs a second JVM.
 */
public final class LockHolder {
    static final String JOURNAL_FILE = "0000000000000001.jnl";

    public static void main(String[] args) throws IOException, InterruptedException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir.resolve("journal"));
        FileChannel ch = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock();
        if (lock == null) {
            System.out.println("busy");
            return;
        }
        Files.writeString(dir.resolve("volume.id"), UUID.randomUUID() + "\n" + UUID.randomUUID() + "\n");
        Files.write(dir.resolve("journal").resolve(JOURNAL_FILE), new byte[4096]);
        System.out.println("held");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    /** Starts a holder of {@code dir} and returns once it holds the lock. */
    static Process start(Path dir) {
        try {
            String java = ProcessHandle.current().info().command().orElse("java");
            Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(),
                    dir.toString()).redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            if (!"held".equals(line)) {
                p.destroy();
                throw new IllegalStateException("lock holder said: " + line);
            }
            return p;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
