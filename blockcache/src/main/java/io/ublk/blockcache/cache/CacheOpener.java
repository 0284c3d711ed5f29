package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.format.VolumeHeader;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.StoreException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Opens a cached volume: checks everything it can before it changes anything, so a refused open
 * leaves the store and the cache folder as they were.
 *
 * <p>Cache folder layout: {@code <cacheDir>/<volume>/volume.id} (the store volume's uuid, so a
 * cache is never replayed onto another volume, and this folder's writer id, which its manifests
 * carry), {@code lock} (held while served), {@code journal/}.
 */
final class CacheOpener {
    private static final String ID_FILE = "volume.id";
    /**
     * Cache folders this process serves. A file lock only fences other processes, and closing any
     * channel of a locked file drops the process's lock on it, so a second open in this process
     * must be refused before it opens the lock file at all.
     */
    private static final java.util.Set<Path> SERVED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private CacheOpener() {}

    static CacheTarget open(CacheConfig config, ObjectStore store) {
        Path root = config.cacheDir().toAbsolutePath();
        checkCacheFolder(root);
        String name = config.volume();
        VolumeHeader header;
        try {
            header = Volume.readHeader(store, name);
        } catch (StoreException e) {
            throw new VolumeException("cannot read volume '" + name + "' from " + store.describe() + ": " + e.getMessage(), e);
        }
        if (header == null && config.size() == 0) {
            throw new VolumeException("volume '" + name + "' does not exist in " + store.describe() + "; give a size to create it");
        }
        if (header != null && config.size() != 0 && header.size() != config.size()) {
            throw new VolumeException("volume '" + name + "' in " + store.describe() + " is " + header.size()
                    + " bytes, not " + config.size());
        }
        if (header == null && config.size() % config.blockSize() != 0) {
            throw new VolumeException("volume size " + config.size() + " is not a multiple of the block size " + config.blockSize());
        }
        Path dir = root.resolve(name);
        UUID[] ids = readId(dir);
        UUID cached = ids == null ? null : ids[0];
        if (cached != null && header == null) {
            throw new VolumeException("cache folder " + dir + " holds volume " + cached + ", which " + store.describe()
                    + " does not have: point at its store, or remove the folder");
        }
        if (cached != null && !cached.equals(header.uuid())) {
            throw new VolumeException("cache folder " + dir + " holds volume " + cached + ", but '" + name + "' in "
                    + store.describe() + " is " + header.uuid() + ": use another cache folder, or remove it");
        }
        if (!SERVED.add(dir)) {
            throw new VolumeException("volume '" + name + "' is in use by this process (cache folder " + dir + ")");
        }
        boolean created = !Files.isDirectory(dir);
        FileChannel lockChannel = null;
        FileLock lock = null;
        try {
            Files.createDirectories(dir.resolve("journal"));
            lockChannel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            lock = lockChannel.tryLock();
            if (lock == null) {
                throw new VolumeException("volume '" + name + "' is in use by another process (cache folder " + dir + ")");
            }
            if (header == null) {
                header = Volume.create(store, name, config.size(), config.blockSize());
                if (header.size() != config.size()) {
                    throw new VolumeException("volume '" + name + "' was created meanwhile with " + header.size() + " bytes");
                }
            }
            UUID writer = ids == null ? UUID.randomUUID() : ids[1];
            if (cached == null) {
                writeId(dir, header.uuid(), writer);
            }
            CacheStats stats = new CacheStats();
            Volume volume = null;
            for (int attempt = 0; volume == null; attempt++) {
                if (attempt == 8) {
                    throw new VolumeException("volume '" + name + "' keeps changing: another writer is opening it too");
                }
                volume = Volume.load(store, name, header, writer, stats);
                if (!volume.claim()) {
                    volume = null;
                }
            }
            return CacheTarget.start(config, volume, stats, dir.resolve("journal"), lockChannel, lock,
                    () -> SERVED.remove(dir));
        } catch (IOException | StoreException | VolumeException | IllegalStateException e) {
            closeQuietly(lockChannel);
            SERVED.remove(dir);
            if (created) {
                deleteQuietly(dir);
            }
            if (e instanceof VolumeException v) {
                throw v;
            }
            throw new VolumeException("cannot open volume '" + name + "': " + e.getMessage(), e);
        }
    }

    private static void checkCacheFolder(Path root) {
        if (Files.exists(root)) {
            if (!Files.isDirectory(root)) {
                throw new VolumeException("cache folder " + root + " is not a folder");
            }
            if (!Files.isReadable(root) || !Files.isWritable(root) || !Files.isExecutable(root)) {
                throw new VolumeException("cache folder " + root + " is not readable and writable");
            }
            return;
        }
        Path parent = root.getParent();
        while (parent != null && !Files.exists(parent)) {
            parent = parent.getParent();
        }
        if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
            throw new VolumeException("cache folder " + root + " does not exist and cannot be created");
        }
    }

    /** {volume uuid, writer id}, or null for a new folder. */
    private static UUID[] readId(Path dir) {
        Path f = dir.resolve(ID_FILE);
        if (!Files.exists(f)) {
            return null;
        }
        try {
            String[] lines = Files.readString(f, StandardCharsets.US_ASCII).trim().split("\n");
            if (lines.length != 2) {
                throw new IllegalArgumentException("expected 2 lines, found " + lines.length);
            }
            return new UUID[] {UUID.fromString(lines[0].trim()), UUID.fromString(lines[1].trim())};
        } catch (IOException | IllegalArgumentException e) {
            throw new VolumeException("cache folder " + dir + " has an unreadable " + ID_FILE + ": " + e.getMessage());
        }
    }

    private static void writeId(Path dir, UUID uuid, UUID writer) throws IOException {
        Path tmp = dir.resolve(ID_FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap((uuid + "\n" + writer + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(ID_FILE), StandardCopyOption.ATOMIC_MOVE);
        Journal.forceDir(dir);
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing was held on it yet
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: the folder was empty and new
        }
    }
}
