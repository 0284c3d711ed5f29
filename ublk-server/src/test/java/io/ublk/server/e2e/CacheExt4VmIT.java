package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
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
 * ext4 across a cold wake (VM tier), on the embedded local store: mkfs.ext4 on a 128 MiB cached
 * volume, mount, write files, unmount, stop the server, {@code drain}, wipe the cache folder, start
 * again on the empty folder (without --size: the volume is opened as the store holds it), mount:
 * the same files with the same SHA-256; then {@code fsck.ext4 -fn} finds nothing.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CacheExt4VmIT {
    private static final Duration CMD = Duration.ofMinutes(3);
    private static final Duration START = Duration.ofMinutes(5);

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblkAndExt4() throws IOException {
        RealUblk.require();
        Ext4.require();
    }

    @Test
    void filesSurviveAColdWakeAndFsckIsClean() throws Exception {
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path cache = dir.resolve("cache");
        List<String> store = CacheFixture.localStore(dir.resolve("store"));
        Map<String, String> written;
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), START,
                CacheFixture.args("ext4", cache, store, "--size", "128MiB"))) {
            String dev = server.device(0).toString();
            run(server, "mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev);
            run(server, "mount", "-t", "ext4", dev, mnt.toString());
            try {
                written = writeFiles(mnt);
                assertThat(hashes(mnt)).isEqualTo(written);
            } finally {
                run(server, "umount", mnt.toString());
            }
            server.stop();
        }

        String[] drain = {"drain", "--volume", "ext4", "--cache-dir", cache.toString(), "--store", "local",
            "--store-dir", dir.resolve("store").toString()};
        Cmd.Result d = ServerProcess.cli(dir, CMD, Map.of(), drain).ok();
        System.err.println("[e2e] " + d.out().strip());
        CacheFixture.wipe(cache);

        try (ServerProcess server = ServerProcess.start(dir.resolve("server-cold"), START,
                CacheFixture.args("ext4", cache, store))) {
            String dev = server.device(0).toString();
            run(server, "mount", "-t", "ext4", dev, mnt.toString());
            try {
                assertThat(hashes(mnt)).as("the files after a cold wake from the store alone").isEqualTo(written);
            } finally {
                run(server, "umount", mnt.toString());
            }
            Cmd.Result fsck = Cmd.run(CMD, dir, "fsck.ext4", "-fn", dev);
            assertThat(fsck.exit()).as("fsck.ext4 -fn must find a clean file system: %s", fsck.describe()).isZero();
            server.stop();
        }
    }

    private void run(ServerProcess server, String... cmd) {
        Cmd.Result r = Cmd.run(CMD, dir, cmd);
        assertThat(r.exit()).as("%s\n%s", r.describe(), server.describe()).isZero();
    }

    /** A few folders of files of awkward sizes (sector, page and block edges, several MiB); path -> SHA-256. */
    private static Map<String, String> writeFiles(Path root) throws Exception {
        Random rnd = new Random(4242);
        long[] sizes = {0, 1, 511, 4097, 131071, 131073, (1 << 20) + 3, 5 * (1 << 20) + 777};
        Map<String, String> want = new TreeMap<>();
        for (int i = 0; i < sizes.length; i++) {
            String rel = (i % 2 == 0 ? "a/b/" : "c/") + "file-" + i;
            Files.createDirectories(root.resolve(rel).getParent());
            byte[] b = new byte[(int) sizes[i]];
            rnd.nextBytes(b);
            Files.write(root.resolve(rel), b);
            want.put(rel, sha256(b));
        }
        for (int i = 0; i < 60; i++) {
            byte[] b = new byte[1 + rnd.nextInt(20000)];
            rnd.nextBytes(b);
            String rel = "many/f" + i;
            Files.createDirectories(root.resolve(rel).getParent());
            Files.write(root.resolve(rel), b);
            want.put(rel, sha256(b));
        }
        return want;
    }

    private static Map<String, String> hashes(Path root) throws IOException {
        Map<String, String> got = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                String rel = root.relativize(p).toString();
                if (!rel.startsWith("lost+found")) {
                    got.put(rel, sha256(Files.readAllBytes(p)));
                }
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
