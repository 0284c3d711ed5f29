package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.format.VolumeHeader;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalReplay;
import io.ublk.blockcache.cache.journal.JournalScan;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.blockcache.cache.volume.WriterLease;
import io.ublk.s3.LocalFiles;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.StoreException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a cached volume: checks everything it can before it changes anything, so a refused open
 * leaves the store and the cache folder as they were.
 *
 * <p>Cache folder layout: {@code <cacheDir>/<volume>/volume.id} (the store volume's uuid, so a
 * cache is never replayed onto another volume, and this folder's writer id, which its manifests
 * and lease carry), {@code lock} (held while served; never deleted, so two openers always lock
 * the same file), {@code journal/}. Folders are 0700, files 0600.
 *
 * <p>Order: the folder lock (one process per folder), then the writer lease (one writer per
 * volume), then the store's latest generation and the journal. Only after all of them agree does
 * anything change: the claim of the next generation, and the replay.
 */
final class CacheOpener {
    private static final Logger LOG = LoggerFactory.getLogger(CacheOpener.class);
    private static final String ID_FILE = "volume.id";
    private static final String LOCK_FILE = "lock";
    private static final String JOURNAL_DIR = "journal";
    /** Claims tried before giving up: each lost one means another writer committed meanwhile. */
    private static final int CLAIM_ATTEMPTS = 8;
    /**
     * Cache folders this process serves. A file lock only fences other processes, and closing any
     * channel of a locked file drops the process's lock on it, so a second open in this process
     * must be refused before it opens the lock file at all.
     */
    private static final java.util.Set<Path> SERVED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Runs between the first look at the folder and its lock: a seam for the race test, nothing in production. */
    static volatile Runnable beforeLock = () -> {};

    private CacheOpener() {}

    static CacheTarget open(CacheConfig config, ObjectStore store, OpenOptions options) {
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
        if (Files.exists(dir.resolve(ID_FILE))) {
            // refuse a foreign folder before touching it (read again under the lock below)
            checkFolderVolume(dir, readId(dir), header, store);
        }
        if (!SERVED.add(dir)) {
            throw new VolumeException("volume '" + name + "' is in use by this process (cache folder " + dir + ")");
        }
        FileChannel lockChannel = null;
        FileLock lock = null;
        WriterLease lease = null;
        boolean created = false;
        try {
            beforeLock.run();
            LocalFiles.createPrivateDirectories(dir);
            lockChannel = openLock(dir.resolve(LOCK_FILE));
            lock = lockChannel.tryLock();
            if (lock == null) {
                // the loser of a race changes nothing: the folder and its lock file are the winner's too
                throw new VolumeException("volume '" + name + "' is in use by another process (cache folder " + dir + ")");
            }
            // Only the lock holder may decide whether the folder is new: another process may have
            // made it between our first look and the lock.
            UUID[] ids = readId(dir);
            checkFolderVolume(dir, ids, header, store);
            created = ids == null;
            Path journalDir = Journal.createFolder(dir.resolve(JOURNAL_DIR));
            if (header == null) {
                header = Volume.create(store, name, config.size(), config.blockSize());
                if (header.size() != config.size()) {
                    throw new VolumeException("volume '" + name + "' was created meanwhile with " + header.size() + " bytes");
                }
            }
            UUID writer = ids == null ? UUID.randomUUID() : ids[1];
            CacheStats stats = new CacheStats();
            lease = WriterLease.acquire(store, name, header.uuid(), writer, config.lease(), options.takeover(),
                    stats.lease);
            if (ids == null) {
                writeId(dir, header.uuid(), writer);
            }
            Volume volume = Volume.load(store, name, header, writer, stats);
            JournalReplay.Result replay = JournalReplay.replay(journalDir, volume.committedEpoch);
            if (!writer.equals(volume.latestWriter) && volume.latestWriter != null && !replay.records().isEmpty()) {
                String found = describe(replay);
                if (!options.dropsStaleJournal()) {
                    throw new VolumeException("cache folder " + dir + " holds " + found + " that volume '" + name
                            + "' does not have, and writer " + volume.latestWriter + " committed generation "
                            + volume.generation + " after them: refusing to apply them over its image; the journal is "
                            + "kept (--save-journal DIR copies it out, --discard-journal drops it, then the volume opens)");
                }
                dropJournal(journalDir, options.saveJournalTo(), found, name);
                replay = JournalReplay.replay(journalDir, volume.committedEpoch);
            }
            for (int attempt = 0; !volume.claim(); attempt++) {
                if (attempt == CLAIM_ATTEMPTS) {
                    throw new VolumeException("volume '" + name + "' keeps changing: another writer is opening it too");
                }
                volume = Volume.load(store, name, header, writer, stats);
            }
            return CacheTarget.start(config, volume, stats, journalDir, replay, lease, lockChannel, lock,
                    () -> SERVED.remove(dir));
        } catch (IOException | StoreException | VolumeException | IllegalStateException e) {
            if (lease != null) {
                lease.release();
            }
            if (created && lock != null) {
                forgetNewFolder(dir);
            }
            closeQuietly(lockChannel);
            SERVED.remove(dir);
            if (e instanceof VolumeException v) {
                throw v;
            }
            throw new VolumeException("cannot open volume '" + name + "': " + e.getMessage(), e);
        }
    }

    private static void checkFolderVolume(Path dir, UUID[] ids, VolumeHeader header, ObjectStore store) {
        UUID cached = ids == null ? null : ids[0];
        if (cached != null && header == null) {
            throw new VolumeException("cache folder " + dir + " holds volume " + cached + ", which " + store.describe()
                    + " does not have: point at its store, or remove the folder");
        }
        if (cached != null && !cached.equals(header.uuid())) {
            throw new VolumeException("cache folder " + dir + " holds volume " + cached + ", but '" + dir.getFileName()
                    + "' in " + store.describe() + " is " + header.uuid() + ": use another cache folder, or remove it");
        }
    }

    /** "N journal records (B bytes) of epochs a..b". */
    private static String describe(JournalReplay.Result r) {
        long bytes = 0;
        long lo = Long.MAX_VALUE;
        long hi = 0;
        for (JournalScan.Located l : r.records()) {
            JournalRecord rec = l.record();
            bytes += rec.dataBytes();
            lo = Math.min(lo, rec.epoch());
            hi = Math.max(hi, rec.epoch());
        }
        return r.records().size() + " journal records (" + bytes + " data bytes, epochs " + lo + ".." + hi + ")";
    }

    /** Saves (if asked) and then deletes every journal file: the operator chose to drop them. */
    private static void dropJournal(Path journalDir, Path saveTo, String found, String name) throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(journalDir, "*.jnl")) {
            ds.forEach(files::add);
        }
        if (saveTo != null) {
            if (Files.exists(saveTo, LinkOption.NOFOLLOW_LINKS)) {
                throw new VolumeException("--save-journal folder " + saveTo + " exists already: name a new one");
            }
            LocalFiles.createPrivateDirectories(saveTo);
            for (Path f : files) {
                Files.copy(f, saveTo.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
            }
            Journal.forceDir(saveTo);
            LOG.warn("volume '{}': {} saved to {} (journal files: the record format of docs/design/volume-format.md)",
                    name, found, saveTo);
        }
        for (Path f : files) {
            Files.delete(f);
        }
        Journal.forceDir(journalDir);
        LOG.warn("volume '{}': {} dropped as asked; the volume opens with the store's latest generation", name, found);
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
        LocalFiles.writeAtomically(dir.resolve(ID_FILE), (uuid + "\n" + writer + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * Undoes a new folder's identity after a failed first open, under its lock: its id file and
     * empty journal go, the folder and its lock file stay (deleting a lock file another opener may
     * already hold open would let two processes lock two different files).
     */
    private static void forgetNewFolder(Path dir) {
        try {
            Files.deleteIfExists(dir.resolve(ID_FILE));
            Path journal = dir.resolve(JOURNAL_DIR);
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(journal)) {
                if (!ds.iterator().hasNext()) {
                    Files.delete(journal);
                }
            }
            Journal.forceDir(dir);
        } catch (IOException ignored) {
            // best effort: a later open finds the folder without an id, as new
        }
    }

    /** Opens (creating 0600 if missing) the folder's lock file, never through a symlink. */
    private static FileChannel openLock(Path file) throws IOException {
        return FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
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
}
