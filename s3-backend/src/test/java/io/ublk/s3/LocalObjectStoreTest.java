package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalObjectStoreTest extends ObjectStoreContractTest {
    @TempDir
    Path root;

    @Override
    protected ObjectStore newStore() {
        return new LocalObjectStore(root.resolve("store"));
    }

    private Path storeRoot() {
        return root.resolve("store");
    }

    private List<String> tempFiles() throws IOException {
        try (Stream<Path> files = Files.walk(storeRoot())) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".tmp-")).toList();
        }
    }

    @Test
    void keyIsAFileUnderTheRoot() throws IOException {
        await(store.put("a/b/c", bytes(7, 1)));
        assertThat(Files.readAllBytes(storeRoot().resolve("a/b/c"))).isEqualTo(bytes(7, 1));
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * Block data must not be world-readable under root's umask 022 (the test JVM's umask too, so
     * the old 0644/0755 would show here). An object is its temp file renamed or linked, so its mode
     * is the temp file's.
     */
    @Test
    void everyFileIsPrivateAndEveryFolderOwnerOnly() throws IOException {
        await(store.put("a/b/put", bytes(10, 1)));
        await(store.put("a/c/parts", List.of(ByteBuffer.wrap(bytes(3, 2)), ByteBuffer.wrap(bytes(4, 3)))));
        await(store.putIfAbsent("d/absent", bytes(10, 4)));
        String etag = await(store.put("e/match", bytes(10, 5)));
        await(store.putIfMatch("e/match", bytes(10, 6), etag));
        for (String key : List.of("a/b/put", "a/c/parts", "d/absent", "e/match", ".lock")) {
            assertThat(mode(storeRoot().resolve(key))).as(key).isEqualTo("rw-------");
        }
        for (String dir : List.of("", "a", "a/b", "a/c", "d", "e")) {
            assertThat(mode(storeRoot().resolve(dir))).as("folder '%s'", dir).isEqualTo("rwx------");
        }
    }

    /** A symlink among a key's folders would let a put write outside the root; it is refused, not followed. */
    @Test
    void aSymlinkedFolderInAKeyIsNotFollowed() throws IOException {
        Path outside = Files.createDirectories(root.resolve("outside/b"));
        Files.createSymbolicLink(storeRoot().resolve("v"), outside.getParent());
        Files.createDirectories(storeRoot().resolve("w"));
        Files.createSymbolicLink(storeRoot().resolve("w/b"), outside);
        String etag = await(store.put("real", bytes(1, 1)));
        for (String key : List.of("v/x", "v/b/x", "w/b/x")) {
            assertThatThrownBy(() -> await(store.put(key, bytes(10, 1)))).as(key)
                    .isInstanceOf(StoreException.class).hasMessageContaining("symlink");
            assertThatThrownBy(() -> await(store.putIfAbsent(key, bytes(10, 1)))).as(key)
                    .isInstanceOf(StoreException.class).hasMessageContaining("symlink");
        }
        assertThatThrownBy(() -> await(store.putIfMatch("v/real", bytes(10, 1), etag)))
                .isInstanceOf(StoreException.class);
        try (Stream<Path> files = Files.walk(root.resolve("outside"))) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    /** A put replaces a symlink at the key itself (rename does not follow it) and leaves its target alone. */
    @Test
    void aSymlinkAtTheKeyIsReplacedNotWrittenThrough() throws IOException {
        Path target = Files.write(root.resolve("target"), bytes(5, 9));
        Files.createSymbolicLink(storeRoot().resolve("k"), target);
        await(store.put("k", bytes(10, 1)));
        assertThat(Files.isSymbolicLink(storeRoot().resolve("k"))).isFalse();
        assertThat(Files.readAllBytes(target)).isEqualTo(bytes(5, 9));
    }

    /** Temp names are random, so a crash's leftovers (even a symlink with a temp name) never block a put. */
    @Test
    void staleTempFilesDoNotBlockAPut() throws IOException {
        Path target = Files.write(root.resolve("target"), bytes(5, 9));
        Files.createDirectories(storeRoot().resolve("t"));
        Files.write(storeRoot().resolve("t/.tmp-stale"), bytes(3, 3));
        Files.createSymbolicLink(storeRoot().resolve("t/.tmp-link"), target);
        await(store.put("t/k", bytes(10, 1)));
        await(store.putIfAbsent("t/l", bytes(10, 2)));
        assertThat(await(store.get("t/k")).data()).isEqualTo(bytes(10, 1));
        assertThat(Files.readAllBytes(target)).isEqualTo(bytes(5, 9));
    }

    @Test
    void noTempFilesAreLeftBehind() throws IOException {
        await(store.put("t/1", bytes(100, 1)));
        await(store.put("t/1", bytes(100, 2)));
        await(store.putIfAbsent("t/2", bytes(100, 3)));
        assertThatThrownBy(() -> await(store.putIfAbsent("t/2", bytes(100, 4))));
        String etag = await(store.get("t/1")).etag();
        await(store.putIfMatch("t/1", bytes(100, 5), etag));
        assertThatThrownBy(() -> await(store.putIfMatch("t/1", bytes(100, 6), etag)));
        assertThat(tempFiles()).isEmpty();
    }

    @Test
    void aCrashsLeftoverTempFileAndTheLockFileAreNotListed() throws IOException {
        await(store.put("v/manifest", bytes(10, 1)));
        Files.write(storeRoot().resolve("v/.tmp-1234"), bytes(10, 2));
        Files.write(storeRoot().resolve(".tmp-5678"), bytes(10, 2));
        assertThat(Files.exists(storeRoot().resolve(".lock"))).isTrue();
        assertThat(keys(await(store.listAll("")))).containsExactly("v/manifest");
        assertThat(keys(await(store.listAll(".")))).isEmpty();
    }

    @Test
    void keysThatCannotBeFilesAreRefused() {
        for (String bad : List.of("", "/abs", "a//b", "a/", "../up", "a/./b", "a/.tmp-x", ".lock")) {
            assertThatThrownBy(() -> store.put(bad, new byte[1]))
                    .as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aKeyCannotAlsoBeAFolder() {
        await(store.put("a", bytes(1, 1)));
        assertThatThrownBy(() -> await(store.put("a/b", bytes(1, 1))))
                .isInstanceOf(StoreException.class).hasMessageContaining("a");
    }

    @Test
    void rootThatIsAFileIsRefusedInOneLine() throws IOException {
        Path file = Files.write(root.resolve("file"), new byte[1]);
        assertThatThrownBy(() -> new LocalObjectStore(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString())
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThatThrownBy(() -> new LocalObjectStore(file.resolve("below")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingRootIsCreated() {
        Path deep = root.resolve("x/y/z");
        try (LocalObjectStore s = new LocalObjectStore(deep)) {
            assertThat(Files.isDirectory(deep)).isTrue();
            assertThat(s.describe()).endsWith("z");
        }
    }

    @Test
    void listEtagIsTheContentMd5EvenForAFileWrittenByHand() throws IOException {
        Files.createDirectories(storeRoot().resolve("h"));
        Files.write(storeRoot().resolve("h/by-hand"), "abc".getBytes());
        assertThat(await(store.listAll("h/"))).containsExactly(
                new ObjectInfo("h/by-hand", 3, "900150983cd24fb0d6963f7d28e17f72"));
    }

    @Test
    void racingPutIfMatchFromTwoStoresOnOneFolderHasExactlyOneWinner() throws Exception {
        try (LocalObjectStore other = new LocalObjectStore(storeRoot())) {
            for (int round = 0; round < 10; round++) {
                String etag = await(store.put("m", bytes(100, 1000 + round)));
                CountDownLatch go = new CountDownLatch(1);
                ExecutorService pool = Executors.newFixedThreadPool(8);
                List<Future<String>> results = new ArrayList<>();
                for (int w = 0; w < 8; w++) {
                    ObjectStore s = w % 2 == 0 ? store : other;
                    byte[] mine = bytes(100, w);
                    results.add(pool.submit(() -> {
                        go.await();
                        return await(s.putIfMatch("m", mine, etag));
                    }));
                }
                go.countDown();
                int wins = 0;
                for (Future<String> r : results) {
                    try {
                        r.get(30, TimeUnit.SECONDS);
                        wins++;
                    } catch (ExecutionException e) {
                        assertThat(e.getCause()).isInstanceOf(PreconditionFailedException.class);
                    }
                }
                pool.shutdown();
                assertThat(wins).isEqualTo(1);
            }
        }
    }

    @Test
    void closedStoreFailsWithStoreException() {
        store.close();
        assertThatThrownBy(() -> await(store.get("x"))).isInstanceOf(StoreException.class);
    }
}
