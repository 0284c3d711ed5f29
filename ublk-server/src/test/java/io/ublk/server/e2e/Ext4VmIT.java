package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real file system on a ublk device (VM tier): mkfs.ext4 on a 256 MiB memory-target device of a
 * server process, mount (by this JVM, not the server), write a tree of nested directories and
 * files of awkward sizes (empty, 1 byte, odd sizes around 512, 4 KiB, 64 KiB and 128 KiB, several
 * MiB, one rewritten in the middle in place), sync, unmount, drop the caches, mount again: the
 * same files with the same SHA-256 each; then unmount and {@code fsck.ext4 -fn} must find nothing.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class Ext4VmIT {
    private static final Duration CMD = Duration.ofMinutes(3);
    private static final long[] SIZES = {0, 1, 511, 512, 513, 4095, 4096, 4097, 65537, 131071, 131072, 131073,
            262147, (1 << 20) + 3, 3 * (1 << 20) + 777, 7 * (1 << 20) + 4099};

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblkAndExt4() throws IOException {
        RealUblk.require();
        Ext4.require();
    }

    @Test
    void filesSurviveRemountWithTheSameHashesAndFsckIsClean() throws Exception {
        Path mnt = Files.createTempDirectory("ublk-e2e-ext4-");
        boolean mounted = false;
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), Duration.ofMinutes(5),
                "--target", "memory", "--size", "256MiB")) {
            String dev = server.device(0).toString();
            try {
                run(server, "mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev);
                run(server, "mount", "-t", "ext4", dev, mnt.toString());
                mounted = true;

                Map<String, String> written = writeTree(mnt);
                assertThat(hashes(mnt)).as("the tree as written, read through the page cache").isEqualTo(written);
                run(server, "sync");
                run(server, "umount", mnt.toString());
                mounted = false;
                // Nothing may come from memory: the next mount reads what the device holds.
                Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
                run(server, "blockdev", "--flushbufs", dev);

                run(server, "mount", "-t", "ext4", dev, mnt.toString());
                mounted = true;
                assertThat(hashes(mnt)).as("the tree after unmount, drop_caches and mount again").isEqualTo(written);
                run(server, "umount", mnt.toString());
                mounted = false;

                Cmd.Result fsck = Cmd.run(CMD, dir, "fsck.ext4", "-fn", dev);
                assertThat(fsck.exit()).as("fsck.ext4 -fn must find a clean file system: %s", fsck.describe())
                        .isZero();
                server.assertAlive();
            } finally {
                if (mounted) {
                    Cmd.Result u = Cmd.run(CMD, dir, "umount", mnt.toString());
                    if (u.exit() != 0) {
                        Cmd.run(CMD, dir, "umount", "-l", mnt.toString());
                    }
                }
            }
            server.stop();
        } finally {
            Files.deleteIfExists(mnt);
        }
    }

    private void run(ServerProcess server, String... cmd) {
        Cmd.Result r = Cmd.run(CMD, dir, cmd);
        assertThat(r.exit()).as("%s\n%s", r.describe(), server.describe()).isZero();
    }

    /** Writes the tree and returns relative path -> SHA-256 of what each file must hold. */
    private static Map<String, String> writeTree(Path root) throws Exception {
        Random rnd = new Random(20241122);
        Map<String, String> want = new TreeMap<>();
        String[] dirs = {"", "a", "a/b", "a/b/c", "a/b/c/d/e/f", "x", "x/many"};
        for (String d : dirs) {
            Files.createDirectories(root.resolve(d));
        }
        String big = null;
        for (int i = 0; i < SIZES.length; i++) {
            String d = dirs[i % (dirs.length - 1)];
            String rel = (d.isEmpty() ? "" : d + "/") + "file-" + i + "-" + SIZES[i];
            want.put(rel, write(root.resolve(rel), randomBytes(rnd, (int) SIZES[i])));
            big = rel;
        }
        for (int i = 0; i < 150; i++) {
            String rel = "x/many/f" + i;
            want.put(rel, write(root.resolve(rel), randomBytes(rnd, 1 + rnd.nextInt(20000))));
        }
        // Rewrite the largest file in place, across block, slot and chunk boundaries.
        Path p = root.resolve(big);
        byte[] content = Files.readAllBytes(p);
        byte[] patch = randomBytes(rnd, 300_001);
        System.arraycopy(patch, 0, content, 65_000, patch.length);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(65_000);
            f.write(patch);
        }
        want.put(big, sha256(content));
        return want;
    }

    private static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static String write(Path p, byte[] content) throws IOException {
        Files.write(p, content);
        return sha256(content);
    }

    private static Map<String, String> hashes(Path root) throws IOException {
        Map<String, String> got = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                got.put(root.relativize(p).toString(), sha256(Files.readAllBytes(p)));
            }
        }
        return got;
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
