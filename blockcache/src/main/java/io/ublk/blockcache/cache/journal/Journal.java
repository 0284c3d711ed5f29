package io.ublk.blockcache.cache.journal;

import io.ublk.blockcache.Completion;
import io.ublk.blockcache.Requests;
import io.ublk.blockcache.cache.CacheStats;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write journal of one volume: lanes of append-only files ({@link JournalLane}) and one
 * syncer thread that makes them durable for FLUSH and FUA.
 *
 * <p><b>Group commit.</b> A FLUSH queues its tag and answers later; the syncer takes every queued
 * request, forces every file that grew, and answers them all. A write that answered before the
 * FLUSH was queued is in a file by then, so the force covers it.
 *
 * <p><b>Sync marks.</b> After forcing a file the syncer writes a mark into its header saying how
 * far it is durable ({@link JournalFileHeader}); replay may cut a torn tail only past it. The
 * mark is not forced before the FLUSH answers (that second fdatasync made a 4 KiB write+FLUSH
 * round 2.5x slower on the dev VM's ext4, 240 to 600 us, while the unforced mark cost within
 * noise, 0-10%): the next force of the file carries it, or, when none comes, the syncer forces
 * it alone once the journal was idle for {@link #MARK_SETTLE_NANOS}.
 */
public final class Journal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);
    public static final long DEFAULT_FILE_BYTES = 64L << 20;
    /** The journal folder: its files hold the device's data, so only its owner may enter it. */
    static final Set<PosixFilePermission> FOLDER_MODE = PosixFilePermissions.fromString("rwx------");
    /** How long the syncer sleeps with nothing queued; FLUSH requests wake it at once. */
    static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /**
     * How long a sync mark may wait for a force that carries it: corruption of data that its
     * last round forced within this long before a crash reads as a torn tail. One second keeps
     * the extra fdatasyncs to at most one per file per second of sparse flushes.
     */
    static final long MARK_SETTLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private record SyncRequest(long tag, Completion done, int result) {}

    private final Path dir;
    private final long fileBytes;
    private final int maxData;
    private final CacheStats stats;
    private final AtomicLong nextFileId;
    private final List<JournalFile> files = new CopyOnWriteArrayList<>();
    private final Queue<JournalFile> toForce = new ConcurrentLinkedQueue<>();
    private final Queue<SyncRequest> requests = new ConcurrentLinkedQueue<>();
    private final List<JournalLane> lanes = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<Integer, JournalLane> byIndex = new ConcurrentHashMap<>();
    private final Thread syncer;
    /** When the newest unforced sync marks are due to be forced alone (0: none waits); under this. */
    private long settleDue;
    private volatile boolean dirChanged;
    private volatile boolean closing;
    private volatile IOException failure;

    /** Whether a durability answer (FLUSH, FUA) may be given now; checked after the force, at the answer. */
    @FunctionalInterface
    public interface AckGate {
        boolean allows();
    }

    private final AckGate gate;
    private final JournalChannels channels;

    public Journal(Path dir, long fileBytes, int maxData, CacheStats stats, List<JournalFile> found, AckGate gate,
            JournalChannels channels) {
        this.gate = gate;
        this.channels = channels;
        this.dir = dir;
        this.fileBytes = fileBytes;
        this.maxData = maxData;
        this.stats = stats;
        this.files.addAll(found);
        this.nextFileId = new AtomicLong(found.stream().mapToLong(f -> f.id).max().orElse(0) + 1);
        this.syncer = Thread.ofPlatform().daemon().name("journal-sync-" + dir.getParent().getFileName()).unstarted(this::syncLoop);
        syncer.start();
    }

    long fileBytes() {
        return fileBytes;
    }

    /**
     * Worker {@code index}'s lane, made on first use. Only that worker appends to it, so the
     * caller passes its index rather than the journal guessing it from the thread.
     */
    public JournalLane lane(int index) {
        return byIndex.computeIfAbsent(index, i -> newLane());
    }

    /** A lane of its own, for one appender (or appenders serialised by the caller). */
    public JournalLane newLane() {
        JournalLane l = new JournalLane(this, maxData);
        lanes.add(l);
        return l;
    }

    /**
     * A journal whose sync failed has lost durability: everything answers -EIO from then on (the
     * kernel may have dropped the pages whose writeback failed). A failed append does not fail it:
     * that record is not in the journal, and its write waits or fails on its own.
     */
    public boolean failed() {
        return failure != null;
    }

    public void fail(IOException e) {
        if (failure == null) {
            failure = e;
            LOG.error("journal {} failed; the volume answers EIO from now on", dir, e);
        }
    }

    /**
     * Makes {@code dir} the journal folder and answers it: created with mode 0700 if missing
     * (missing parents as the umask leaves them), set to 0700 if an older version left it open,
     * refused if it is a symbolic link or not a folder.
     */
    public static Path createFolder(Path dir) throws IOException {
        if (Files.notExists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Path parent = dir.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(FOLDER_MODE));
            } catch (FileAlreadyExistsException raced) {
                // made meanwhile: checked below like any existing folder
            }
        }
        PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isDirectory()) {
            throw new IOException("journal folder " + dir + " is " + (a.isSymbolicLink() ? "a symbolic link" : "not a folder"));
        }
        if (!a.permissions().equals(FOLDER_MODE)) {
            // the umask may have taken bits away at creation, or an older version made it 0755
            Files.setPosixFilePermissions(dir, FOLDER_MODE);
        }
        return dir;
    }

    JournalFile newFile() throws IOException {
        JournalFile f = JournalFile.create(channels, dir, nextFileId.getAndIncrement());
        files.add(f);
        // A FLUSH must also make the new name durable, or a crash could lose the whole file.
        dirChanged = true;
        return f;
    }

    void retire(JournalFile f) {
        f.retired = true;
        toForce.add(f);
    }

    /** Answers {@code done} with {@code result} once everything appended before this call is durable (-EIO if it cannot be). */
    public void requestSync(long tag, Completion done, int result) {
        requests.add(new SyncRequest(tag, done, result));
        LockSupport.unpark(syncer);
    }

    /** Makes everything appended so far durable, on the calling thread (close, tests). */
    void syncNow() throws IOException {
        forceAll();
    }

    private void syncLoop() {
        ArrayDeque<SyncRequest> batch = new ArrayDeque<>();
        while (true) {
            try {
                if (!syncTurn(batch)) {
                    return;
                }
            } catch (Throwable e) {
                // Whatever went wrong, no FLUSH may wait forever: the journal fails (EIO from now
                // on) and the requests taken are answered, each once.
                fail(e instanceof IOException io ? io : new IOException("journal syncer failed: " + e, e));
                SyncRequest s;
                while ((s = batch.pollFirst()) != null) {
                    try {
                        s.done().complete(s.tag(), -Requests.EIO);
                    } catch (RuntimeException again) {
                        LOG.error("journal {}: a FLUSH answer failed", dir, again);
                    }
                }
            }
        }
    }

    /** One turn of the syncer: answers what is queued, or idles; false once closing with nothing queued. */
    private boolean syncTurn(ArrayDeque<SyncRequest> batch) {
        SyncRequest r;
        while ((r = requests.poll()) != null) {
            batch.add(r);
        }
        if (batch.isEmpty()) {
            if (closing) {
                return false;
            }
            try {
                settleIfDue();
                if (!toForce.isEmpty()) {
                    // rolled-over files close without waiting for a FLUSH, so uploads can trim them
                    closeRetired();
                }
            } catch (IOException e) {
                fail(e);
            }
            LockSupport.parkNanos(IDLE_PARK_NANOS);
            return true;
        }
        boolean ok = true;
        try {
            if (failure != null) {
                throw failure;
            }
            forceAll();
        } catch (IOException e) {
            fail(e);
            ok = false;
        }
        if (ok && !gate.allows()) {
            // the writer lease lapsed or was lost: the data is on disk, but this writer may no
            // longer promise it reaches the volume
            stats.flushRefused.add(batch.size());
            ok = false;
        }
        SyncRequest s;
        while ((s = batch.pollFirst()) != null) {
            s.done().complete(s.tag(), ok ? s.result() : -Requests.EIO);
        }
        return true;
    }

    private synchronized void forceAll() throws IOException {
        boolean forced = false;
        for (JournalLane l : lanes) {
            JournalFile f = l.file();
            if (f != null) {
                forced |= f.force();
            }
        }
        forced |= closeRetired();
        if (dirChanged) {
            dirChanged = false;
            forceDir(dir);
        }
        if (forced) {
            stats.journalSyncs.increment();
            settleDue = System.nanoTime() + MARK_SETTLE_NANOS;
        }
    }

    /** Forces and closes the files their lanes rolled over from; answers whether one needed a force. */
    private synchronized boolean closeRetired() throws IOException {
        boolean forced = false;
        JournalFile f;
        while ((f = toForce.poll()) != null) {
            // its lane is done with it: force its last mark now, as it is closed for good
            forced |= f.force();
            f.settle();
            f.closeQuietly();
        }
        return forced;
    }

    /** Forces the sync marks of the last round alone if no round carried them within the settle time. */
    private synchronized void settleIfDue() throws IOException {
        if (settleDue != 0 && failure == null && System.nanoTime() - settleDue >= 0) {
            settleAll();
        }
    }

    private void settleAll() throws IOException {
        settleDue = 0;
        for (JournalFile f : files) {
            f.settle();
        }
    }

    public static void forceDir(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** Deletes files whose every record is in a committed generation. Uploader thread. */
    public void trim(long committedEpoch) {
        for (JournalFile f : files) {
            if (f.retired && f.channel == null && f.maxEpoch <= committedEpoch) {
                try {
                    f.closeReader();
                    Files.deleteIfExists(f.path);
                    files.remove(f);
                } catch (IOException e) {
                    LOG.warn("cannot delete journal file {}: {}", f.path, e.toString());
                }
            }
        }
    }

    /** Bytes of journal files on disk now. */
    public long bytesOnDisk() {
        long n = 0;
        for (JournalFile f : files) {
            n += f.size;
        }
        return n;
    }

    @Override
    public void close() {
        stopSyncer();
        try {
            if (failure == null) {
                forceAll();
                synchronized (this) {
                    settleAll();
                }
            }
        } catch (IOException e) {
            fail(e);
        }
        closeFiles();
    }

    /** Stops the syncer without forcing anything: what a crash leaves (tests). */
    public void abandon() {
        stopSyncer();
        closeFiles();
    }

    private void stopSyncer() {
        closing = true;
        LockSupport.unpark(syncer);
        try {
            syncer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeFiles() {
        for (JournalFile f : files) {
            f.closeQuietly();
            f.closeReader();
        }
    }

    public List<JournalFile> files() {
        return List.copyOf(files);
    }

    /** Where the records of epochs (lower, upper] are, in sequence order (the uploader's spill). */
    public List<JournalScan.Located> scan(long lower, long upper) throws IOException {
        return JournalScan.scan(files, lower, upper);
    }
}
