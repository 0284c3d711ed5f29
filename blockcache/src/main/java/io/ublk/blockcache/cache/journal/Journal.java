package io.ublk.blockcache.cache.journal;

import io.ublk.blockcache.Completion;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.format.Codec;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write journal of one volume: lanes of append-only files ({@link JournalLane}) and one
 * syncer thread that makes them durable for FLUSH and FUA.
 *
 * <p><b>Group commit.</b> A FLUSH queues its tag and answers later; the syncer takes every queued
 * request, forces every file that grew, and answers them all. A write that answered before the
 * FLUSH was queued is in a file by then, so the force covers it.
 */
public final class Journal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);
    public static final long DEFAULT_FILE_BYTES = 64L << 20;

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
    private final ThreadLocal<JournalLane> lane;
    private final Thread syncer;
    private volatile boolean dirChanged;
    private volatile boolean closing;
    private volatile IOException failure;

    public Journal(Path dir, long fileBytes, int maxData, CacheStats stats, List<JournalFile> found) {
        this.dir = dir;
        this.fileBytes = fileBytes;
        this.maxData = maxData;
        this.stats = stats;
        this.files.addAll(found);
        this.nextFileId = new AtomicLong(found.stream().mapToLong(f -> f.id).max().orElse(0) + 1);
        this.lane = ThreadLocal.withInitial(() -> {
            JournalLane l = new JournalLane(this, maxData);
            lanes.add(l);
            return l;
        });
        this.syncer = Thread.ofPlatform().daemon().name("journal-sync-" + dir.getParent().getFileName()).unstarted(this::syncLoop);
        syncer.start();
    }

    long fileBytes() {
        return fileBytes;
    }

    /** The calling thread's lane. */
    public JournalLane lane() {
        return lane.get();
    }

    /** A journal that failed to write or sync has lost durability: everything answers -EIO from then on. */
    public boolean failed() {
        return failure != null;
    }

    public void fail(IOException e) {
        if (failure == null) {
            failure = e;
            LOG.error("journal {} failed; the volume answers EIO from now on", dir, e);
        }
    }

    JournalFile newFile() throws IOException {
        long id = nextFileId.getAndIncrement();
        Path p = dir.resolve(JournalFile.name(id));
        FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        JournalFile f = new JournalFile(id, p, ch);
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
        List<SyncRequest> batch = new ArrayList<>();
        while (true) {
            SyncRequest r;
            while ((r = requests.poll()) != null) {
                batch.add(r);
            }
            if (batch.isEmpty()) {
                if (closing) {
                    return;
                }
                LockSupport.parkNanos(50_000_000L);
                continue;
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
            for (SyncRequest s : batch) {
                s.done().complete(s.tag(), ok ? s.result() : -5);
            }
            batch.clear();
        }
    }

    private synchronized void forceAll() throws IOException {
        boolean forced = false;
        for (JournalLane l : lanes) {
            JournalFile f = l.file();
            if (f != null) {
                forced |= f.force();
            }
        }
        JournalFile f;
        while ((f = toForce.poll()) != null) {
            forced |= f.force();
            f.closeQuietly();
        }
        if (dirChanged) {
            dirChanged = false;
            forceDir(dir);
        }
        if (forced) {
            stats.journalSyncs.increment();
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

    /** Journal files and bytes on disk now. */
    long bytesOnDisk() {
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

    /** A record header found by {@link #scan}: where its data is, and the CRC32C the record carries. */
    public record Located(JournalFile file, long dataPos, JournalRecord record, int crc) {
        /** The CRC32C of the record's data alone, derived from the record's own (not read from the data). */
        public int dataCrc() {
            byte[] h = new byte[JournalRecord.HEADER];
            JournalRecord r = record;
            JournalRecord.writeHeader(MemorySegment.ofArray(h), r.type(), r.epoch(), r.seq(), r.offset(), r.length());
            return Codec.crc32cOfTail(crc, Codec.crc32c(h, 0, h.length), r.dataBytes());
        }
    }

    /**
     * Headers of every record of journal epochs (lower, upper], in sequence order, without their
     * data: where a spilled epoch's bytes are. Uploader only.
     */
    public List<Located> scan(long lower, long upper) throws IOException {
        List<Located> out = new ArrayList<>();
        ByteBuffer header = ByteBuffer.allocate(JournalRecord.HEADER);
        for (JournalFile f : files) {
            if (f.maxEpoch <= lower || f.minEpoch > upper) {
                continue;
            }
            long size = f.size;
            try (FileChannel ch = FileChannel.open(f.path, StandardOpenOption.READ)) {
                long at = 0;
                while (at + JournalRecord.HEADER <= size) {
                    header.clear();
                    readFully(ch, header, at);
                    JournalRecord h = JournalRecord.header(header, Long.MAX_VALUE);
                    if (h == null) {
                        throw new IOException(f.path + ": no record at " + at + " below its appended size " + size);
                    }
                    if (h.epoch() > lower && h.epoch() <= upper) {
                        out.add(new Located(f, at + JournalRecord.HEADER, h, header.getInt(40)));
                    }
                    at += JournalRecord.HEADER + h.dataBytes();
                }
            }
        }
        out.sort(Comparator.comparingLong(l -> l.record().seq()));
        return out;
    }

    /** What a replay found: records to re-apply (in sequence order) and numbering to continue from. */
    public record Replay(List<JournalRecord> records, List<JournalFile> files, long maxSeq, long maxEpoch, long tornBytes) {}

    /**
     * Reads every journal file in {@code dir}: records of epochs after {@code committedEpoch} are
     * returned in sequence order, a torn tail is cut off (the file is truncated where its first bad
     * record starts), and files are kept for the trimmer.
     */
    public static Replay replay(Path dir, long committedEpoch, int maxData) throws IOException {
        List<Path> paths = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.jnl")) {
            ds.forEach(paths::add);
        }
        paths.sort(Comparator.comparing(p -> p.getFileName().toString()));
        List<JournalRecord> records = new ArrayList<>();
        List<JournalFile> files = new ArrayList<>();
        long maxSeq = 0;
        long maxEpoch = committedEpoch;
        long torn = 0;
        ByteBuffer header = ByteBuffer.allocate(JournalRecord.HEADER);
        CRC32C crc = new CRC32C();
        for (Path p : paths) {
            long id;
            try {
                id = Long.parseUnsignedLong(p.getFileName().toString().substring(0, 16), 16);
            } catch (RuntimeException e) {
                continue;
            }
            JournalFile jf = new JournalFile(id, p, null);
            jf.retired = true;
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long size = ch.size();
                long at = 0;
                while (at + JournalRecord.HEADER <= size) {
                    header.clear();
                    readFully(ch, header, at);
                    JournalRecord h = JournalRecord.header(header, maxData);
                    if (h == null || at + JournalRecord.HEADER + h.dataBytes() > size) {
                        break;
                    }
                    byte[] data = new byte[h.dataBytes()];
                    if (data.length > 0) {
                        readFully(ch, ByteBuffer.wrap(data), at + JournalRecord.HEADER);
                    }
                    int expect = header.getInt(40);
                    header.putInt(40, 0);
                    crc.reset();
                    crc.update(header.array(), 0, JournalRecord.HEADER);
                    crc.update(data, 0, data.length);
                    if ((int) crc.getValue() != expect) {
                        break;
                    }
                    maxSeq = Math.max(maxSeq, h.seq());
                    maxEpoch = Math.max(maxEpoch, h.epoch());
                    jf.maxEpoch = Math.max(jf.maxEpoch, h.epoch());
                    jf.minEpoch = Math.min(jf.minEpoch, h.epoch());
                    if (h.epoch() > committedEpoch) {
                        records.add(h.withData(data));
                    }
                    at += JournalRecord.HEADER + data.length;
                }
                if (at < size) {
                    LOG.info("journal {}: cutting a torn tail of {} bytes at {}", p.getFileName(), size - at, at);
                    torn += size - at;
                    ch.truncate(at);
                    ch.force(true);
                }
                jf.size = at;
                jf.synced = at;
            }
            files.add(jf);
        }
        records.sort(Comparator.comparingLong(JournalRecord::seq));
        return new Replay(records, files, maxSeq, maxEpoch, torn);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at);
            if (n < 0) {
                throw new IOException("unexpected end of journal file");
            }
            at += n;
        }
    }
}
