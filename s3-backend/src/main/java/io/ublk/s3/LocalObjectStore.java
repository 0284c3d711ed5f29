package io.ublk.s3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An {@link ObjectStore} in a local folder: key {@code a/b/c} is the file {@code <root>/a/b/c}.
 * The embedded default, and the reference the S3 store is tested against.
 *
 * <p>Durability: every write goes to a temp file ({@code .tmp-<uuid>}, in the key's folder so a
 * rename never crosses file systems) that is fsynced, then renamed over the key ({@link #put}) or
 * hard-linked to it ({@link #putIfAbsent}: link(2) fails atomically if the key exists), then the
 * folder is fsynced. A reader sees the old bytes or the new ones, never a mix. A crash can leave
 * temp files behind; they are never listed and never collide with a key.
 *
 * <p>Private: every file it creates is 0600 and every folder 0700, whatever the umask; a put
 * refuses a key whose folders include a symlink rather than write outside the root (see
 * {@link LocalFiles}).
 *
 * <p>{@link #putIfMatch} compares and renames under a lock held by this process (shared by all
 * stores on the same root) and by other processes (a {@link FileLock} on {@code <root>/.lock}).
 * It is atomic against other {@code putIfMatch} calls, not against a plain {@link #put} or
 * {@link #delete} of the same key racing it; the volume format only puts fresh keys plainly.
 *
 * <p>Not S3: a key cannot also be a folder ({@code a} and {@code a/b} cannot both exist), and
 * segments that are empty, {@code .}, {@code ..} or start with {@code .tmp-}, and the key
 * {@code .lock}, are refused with {@link IllegalArgumentException}. Emptied folders stay.
 */
public final class LocalObjectStore implements ObjectStore {
    private static final String LOCK_FILE = ".lock";
    /** Enough to overlap a few fsyncs; callers batch their own writes, this is not a hot path. */
    private static final int THREADS = 4;
    /** A FileLock excludes other processes only, so each root also has one lock per JVM. */
    private static final ConcurrentHashMap<Path, ReentrantLock> MATCH_LOCKS = new ConcurrentHashMap<>();

    private final Path root;
    private final ThreadPoolExecutor executor;
    private final ReentrantLock matchLock;
    private final FileChannel lockFile;
    private final LocalEtags etags = new LocalEtags();

    /** Opens (creating if needed) the folder {@code root}; it must be a writable directory. */
    public LocalObjectStore(Path root) {
        this.root = openRoot(root);
        try {
            this.lockFile = FileChannel.open(this.root.resolve(LOCK_FILE),
                    Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                    LocalFiles.PRIVATE_FILE);
        } catch (IOException e) {
            throw new IllegalArgumentException("object store folder is not writable: " + root + " (" + e + ")");
        }
        this.matchLock = MATCH_LOCKS.computeIfAbsent(this.root, r -> new ReentrantLock());
        this.executor = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                new DaemonThreads("local-store"));
        this.executor.allowCoreThreadTimeOut(true);
    }

    private static Path openRoot(Path root) {
        try {
            LocalFiles.createPrivateDirectories(root);
            Path real = root.toRealPath();
            if (!Files.isDirectory(real) || !Files.isWritable(real)) {
                throw new IllegalArgumentException("object store folder is not a writable directory: " + root);
            }
            return real;
        } catch (IOException e) {
            throw new IllegalArgumentException("object store folder cannot be created: " + root + " (" + e + ")");
        }
    }

    @Override
    public CompletableFuture<StoredObject> get(String key) {
        Path file = path(key);
        return run("get", file, () -> {
            try {
                byte[] data = Files.readAllBytes(file);
                return new StoredObject(data, Etags.md5Hex(data));
            } catch (NoSuchFileException e) {
                throw new ObjectNotFoundException(key);
            }
        });
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        Ranges.check(offset, length);
        Path file = path(key);
        return run("read", file, () -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (offset >= size) {
                    throw new StoreException(Ranges.beyondEnd(key, offset, size));
                }
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(length, size - offset));
                while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) >= 0) {
                    // a short read only happens at the end, which size already accounted for
                }
                return buf.array();
            } catch (NoSuchFileException e) {
                throw new ObjectNotFoundException(key);
            }
        });
    }

    @Override
    public CompletableFuture<String> put(String key, byte[] data) {
        return put(key, List.of(java.nio.ByteBuffer.wrap(data)));
    }

    /** Written from the parts as they are (a gathering write), never copied into one array. */
    @Override
    public CompletableFuture<String> put(String key, List<java.nio.ByteBuffer> parts) {
        Path file = path(key);
        return run("put", file, () -> {
            String etag = Etags.md5Hex(parts);
            Path tmp = writeTemp(file, parts, etag);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            LocalFiles.syncDir(file.getParent());
            return etag;
        });
    }

    @Override
    public CompletableFuture<String> putIfAbsent(String key, byte[] data) {
        Path file = path(key);
        return run("put", file, () -> {
            String etag = Etags.md5Hex(data);
            Path tmp = writeTemp(file, data, etag);
            try {
                Files.createLink(file, tmp);
            } catch (FileAlreadyExistsException e) {
                throw new PreconditionFailedException(key);
            } finally {
                Files.deleteIfExists(tmp);
                LocalFiles.syncDir(file.getParent());
            }
            return etag;
        });
    }

    @Override
    public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) {
        Path file = path(key);
        String expected = Etags.unquote(etag);
        return run("put", file, () -> {
            String newEtag = Etags.md5Hex(data);
            Path tmp = writeTemp(file, data, newEtag);
            try {
                matchLock.lock();
                try (FileLock lock = lockFile.lock()) {
                    if (!expected.equals(currentEtag(file))) {
                        throw new PreconditionFailedException(key);
                    }
                    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
                    LocalFiles.syncDir(file.getParent());
                } finally {
                    matchLock.unlock();
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
            return newEtag;
        });
    }

    /** Hashes the content rather than trusting the attribute: this answer decides an overwrite. */
    private static String currentEtag(Path file) throws IOException {
        try {
            return Etags.md5Hex(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private Path writeTemp(Path file, byte[] data, String etag) throws IOException {
        return writeTemp(file, List.of(java.nio.ByteBuffer.wrap(data)), etag);
    }

    private Path writeTemp(Path file, List<java.nio.ByteBuffer> parts, String etag) throws IOException {
        LocalFiles.ensureDirBelow(root, file.getParent());
        return LocalFiles.writeTemp(file.getParent(), parts, tmp -> etags.tag(tmp, etag));
    }

    @Override
    public CompletableFuture<Void> delete(String key) {
        Path file = path(key);
        return run("delete", file, () -> {
            if (Files.deleteIfExists(file)) {
                LocalFiles.syncDir(file.getParent());
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> deleteAll(List<String> keys) {
        List<Path> files = keys.stream().map(this::path).toList();
        return run("delete", root, () -> {
            Set<Path> dirs = new LinkedHashSet<>();
            for (Path file : files) {
                if (Files.deleteIfExists(file)) {
                    dirs.add(file.getParent());
                }
            }
            for (Path dir : dirs) {
                LocalFiles.syncDir(dir);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) {
        if (maxKeys < 1 || maxKeys > 1000) {
            throw new IllegalArgumentException("maxKeys must be in 1..1000 (S3's page limit): " + maxKeys);
        }
        int slash = prefix.lastIndexOf('/');
        Path start = slash < 0 ? root : path(prefix.substring(0, slash));
        return run("list", start, () -> {
            List<String> keys = keysUnder(start, prefix, continuation);
            List<ObjectInfo> page = new ArrayList<>();
            int i = 0;
            for (; i < keys.size() && page.size() < maxKeys; i++) {
                Path file = root.resolve(keys.get(i));
                String etag = etags.of(file);
                long size = etag == null ? -1 : sizeOrMissing(file);
                if (size >= 0) { // else deleted while listing: not there any more
                    page.add(new ObjectInfo(keys.get(i), size, etag));
                }
            }
            String next = i < keys.size() && !page.isEmpty() ? page.getLast().key() : null;
            return new ListPage(List.copyOf(page), next);
        });
    }

    private static long sizeOrMissing(Path file) throws IOException {
        try {
            return Files.size(file);
        } catch (NoSuchFileException e) {
            return -1;
        }
    }

    /** Keys of the files under {@code start} that match, after {@code continuation}, sorted. */
    private List<String> keysUnder(Path start, String prefix, String continuation) throws IOException {
        List<String> keys = new ArrayList<>();
        if (!Files.isDirectory(start)) {
            return keys;
        }
        Files.walkFileTree(start, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                String name = file.getFileName().toString();
                if (!attrs.isRegularFile() || name.startsWith(LocalFiles.TEMP_PREFIX)) {
                    return FileVisitResult.CONTINUE;
                }
                String key = key(file);
                if (key.startsWith(prefix) && !key.equals(LOCK_FILE)
                        && (continuation == null || KeyOrder.INSTANCE.compare(key, continuation) > 0)) {
                    keys.add(key);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE; // deleted while we walked
                }
                throw e;
            }
        });
        keys.sort(KeyOrder.INSTANCE);
        return keys;
    }

    private String key(Path file) {
        Path rel = root.relativize(file);
        StringBuilder sb = new StringBuilder();
        for (Path segment : rel) {
            if (!sb.isEmpty()) {
                sb.append('/');
            }
            sb.append(segment);
        }
        return sb.toString();
    }

    /** The file of a key; refuses keys that would escape the root or name our own files. */
    private Path path(String key) {
        if (key == null || key.isEmpty() || key.equals(LOCK_FILE) || key.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("not a valid key for a local store: " + key);
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")
                    || segment.startsWith(LocalFiles.TEMP_PREFIX)) {
                throw new IllegalArgumentException("not a valid key for a local store (segment '" + segment + "'): " + key);
            }
        }
        return root.resolve(key);
    }

    @Override
    public String describe() {
        return root.toString();
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            lockFile.close();
        } catch (IOException e) {
            // nothing was written through it; closing cannot lose data
        }
    }

    private interface IoCall<T> {
        T call() throws IOException;
    }

    private <T> CompletableFuture<T> run(String what, Path file, IoCall<T> call) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return call.call();
                } catch (IOException e) {
                    throw new StoreException(what + " " + file + " failed: " + e, e);
                } catch (UncheckedIOException e) {
                    throw new StoreException(what + " " + file + " failed: " + e.getCause(), e.getCause());
                }
            }, executor);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new StoreException("store is closed: " + root, e));
        }
    }
}
