package io.ublk.blockcache.cache.journal;

import io.ublk.blockcache.cache.VolumeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a volume's journal folder at open: the records the store does not hold yet, in sequence
 * order, and the numbering to continue from. Runs once, before the journal takes new writes.
 *
 * <p><b>Torn tail or damage.</b> Every file is read from its first record until a record does
 * not decode (bad magic, type, length or CRC, or cut short by the file end). Where that record
 * starts decides:
 * <ul>
 *   <li>at or past the file's durable sync mark ({@link JournalFileHeader}): a torn tail. The mark
 *       is written only after a force returned, so these bytes were appended after the last force
 *       the file recorded, and a crash may have left them in any state. The file is cut there,
 *       with everything after it, even records that still decode (writeback stores pages in no
 *       set order, so a later record can survive an earlier one; none of them was covered by a
 *       FLUSH that answered, unless the crash came within {@link Journal#MARK_SETTLE_NANOS} of
 *       that FLUSH, before a force carried its mark).</li>
 *   <li>below the mark, or a file that ends before its mark, or a header without a valid mark:
 *       forced bytes that changed, which no crash does. The open is refused with the file, the
 *       offset and what was wrong, and no file is changed (all files are read before any is
 *       cut).</li>
 * </ul>
 * This holds in every file, not only a lane's last one: a file its lane moved on from is forced
 * by the syncer later, so a crash before that leaves a torn tail in it too, while its lane's
 * next file holds records. Files of format 1 (older versions) have no mark: a bad record ends
 * them as it always did, with a warning that this cannot tell a torn tail from damage.
 *
 * <p>What replay keeps is then forced and marked durable up to its end: it was read from a page
 * cache the crashed process may have left unforced, and the volume now serves it as written.
 *
 * <p><b>Bounded heap.</b> Records are checked through one reused buffer and answered as headers
 * with where their data is ({@link JournalScan.Located}), never as copies of it: a journal of
 * {@code max-dirty} bytes must open within the dirty-memory budget, so the caller decides which
 * bytes to read into memory and which to leave in the journal.
 */
public final class JournalReplay {
    private static final Logger LOG = LoggerFactory.getLogger(JournalReplay.class);

    private JournalReplay() {}

    /** What a replay found: records to re-apply (in sequence order, data left in the files) and numbering to continue from. */
    public record Result(List<JournalScan.Located> records, List<JournalFile> files, long maxSeq, long maxEpoch,
            long tornBytes) {}

    /**
     * One file read, before anything is changed: where its intact records end, and why there.
     * {@code mark} is null in a format 1 file ({@code legacy}) and in one with no records.
     */
    private record Scanned(JournalFile file, long size, long end, JournalFileHeader.Mark mark, boolean legacy,
            String tornBecause) {}

    /**
     * Reads every journal file in {@code dir}: records of epochs after {@code committedEpoch} are
     * returned in sequence order, torn tails are cut and what is kept is made durable; files are
     * kept for the trimmer.
     *
     * @throws VolumeException a file is damaged where no crash can have torn it (nothing changed)
     */
    public static Result replay(Path dir, long committedEpoch) throws IOException {
        List<Path> paths = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + JournalFile.SUFFIX)) {
            ds.forEach(paths::add);
        }
        paths.sort(Comparator.comparing(p -> p.getFileName().toString()));
        Reader reader = new Reader(committedEpoch);
        List<Scanned> scanned = new ArrayList<>();
        for (Path p : paths) {
            long id = fileId(p);
            if (id < 0) {
                LOG.warn("journal {}: not a journal file name, left alone", p.getFileName());
                continue;
            }
            scanned.add(reader.scan(p, id));
        }
        long torn = 0;
        List<JournalFile> files = new ArrayList<>();
        for (Scanned s : scanned) {
            torn += s.size() - s.end();
            keep(s);
            files.add(s.file());
        }
        reader.records.sort(Comparator.comparingLong(l -> l.record().seq()));
        return new Result(reader.records, files, reader.maxSeq, reader.maxEpoch, torn);
    }

    private static long fileId(Path p) {
        String n = p.getFileName().toString();
        if (n.length() != JournalFile.NAME_DIGITS + JournalFile.SUFFIX.length()) {
            return -1;
        }
        try {
            return Long.parseUnsignedLong(n, 0, JournalFile.NAME_DIGITS, JournalFile.NAME_RADIX);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Reads files and gathers their records; changes nothing. */
    private static final class Reader {
        /** Record data is checked this much at a time: the only record bytes replay holds. */
        static final int CHUNK = 64 * 1024;

        final long committedEpoch;
        final List<JournalScan.Located> records = new ArrayList<>();
        final ByteBuffer header = ByteBuffer.allocate(JournalRecord.HEADER).order(ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer chunk = ByteBuffer.allocate(CHUNK);
        final CRC32C crc = new CRC32C();
        long maxSeq;
        long maxEpoch;
        /** What was wrong with the last record read, null if nothing. */
        String problem;

        Reader(long committedEpoch) {
            this.committedEpoch = committedEpoch;
            this.maxEpoch = committedEpoch;
        }

        Scanned scan(Path p, long id) throws IOException {
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new VolumeException("journal file " + p + " is not a regular file (a symbolic link?); refusing to open");
            }
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long size = ch.size();
                ByteBuffer page = ByteBuffer.allocate((int) Math.min(size, JournalFileHeader.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, page, 0);
                boolean legacy = page.limit() >= Integer.BYTES && page.getInt(JournalRecord.MAGIC_AT) == JournalRecord.MAGIC;
                JournalFileHeader.Mark mark = null;
                if (!legacy && JournalFileHeader.isHeader(page)) {
                    long inHeader = page.getLong(JournalFileHeader.FILE_ID_AT);
                    if (inHeader != id) {
                        throw damaged(p, JournalFileHeader.FILE_ID_AT, "file id " + Long.toHexString(inHeader)
                                + " in its header, not the " + Long.toHexString(id) + " of its name");
                    }
                    mark = JournalFileHeader.newestMark(page);
                    if (mark == null) {
                        throw damaged(p, JournalFileHeader.SLOT_0_AT, "no valid sync mark");
                    }
                } else if (!legacy && size <= JournalFileHeader.BYTES) {
                    // a header is forced before any record goes in: this file's creation was cut short
                    LOG.info("journal {}: holds no records (its creation was cut short by the crash)", p.getFileName());
                    JournalFile empty = new JournalFile(id, p, null, size);
                    empty.retired = true;
                    return new Scanned(empty, size, size, null, false, null);
                } else if (!legacy) {
                    throw damaged(p, JournalFileHeader.MAGIC_AT,
                            "bad file magic 0x" + HexFormat.of().toHexDigits(page.getLong(JournalFileHeader.MAGIC_AT)));
                }
                long start = legacy ? 0 : JournalFileHeader.BYTES;
                JournalFile jf = new JournalFile(id, p, null, start);
                jf.retired = true;
                long durable = legacy ? start : mark.synced();
                long at = start;
                while (at < size) {
                    long next = record(ch, jf, at, size);
                    if (next < 0) {
                        break;
                    }
                    if (at < durable && next > durable) {
                        throw belowMark(p, at, "a record that runs past the sync mark", durable);
                    }
                    at = next;
                }
                if (at < durable) {
                    throw belowMark(p, at, problem != null ? problem : "the file ends", durable);
                }
                return new Scanned(jf, size, at, mark, legacy, problem);
            }
        }

        /**
         * Reads the record at {@code at} into the results; answers where the next one starts, or
         * -1 with {@link #problem} saying what is wrong with it.
         */
        private long record(FileChannel ch, JournalFile jf, long at, long size) throws IOException {
            problem = null;
            if (size - at < JournalRecord.HEADER) {
                problem = "a record header cut short by the file end";
                return -1;
            }
            header.clear();
            readFully(ch, header, at);
            problem = JournalRecord.problem(header);
            if (problem != null) {
                return -1;
            }
            JournalRecord h = JournalRecord.header(header);
            if (h.dataBytes() > size - at - JournalRecord.HEADER) {
                problem = "length " + h.length() + " beyond the file end";
                return -1;
            }
            int expect = header.getInt(JournalRecord.CRC_AT);
            header.putInt(JournalRecord.CRC_AT, 0);
            crc.reset();
            crc.update(header.array(), 0, JournalRecord.HEADER);
            long dataPos = at + JournalRecord.HEADER;
            for (long done = 0; done < h.dataBytes(); ) {
                chunk.clear().limit((int) Math.min(CHUNK, h.dataBytes() - done));
                readFully(ch, chunk, dataPos + done);
                crc.update(chunk.flip());
                done += chunk.limit();
            }
            if ((int) crc.getValue() != expect) {
                problem = "bad CRC";
                return -1;
            }
            maxSeq = Math.max(maxSeq, h.seq());
            maxEpoch = Math.max(maxEpoch, h.epoch());
            jf.maxEpoch = Math.max(jf.maxEpoch, h.epoch());
            jf.minEpoch = Math.min(jf.minEpoch, h.epoch());
            // a zero-length record (older versions wrote them) changes nothing
            if (h.epoch() > committedEpoch && h.length() > 0) {
                records.add(new JournalScan.Located(jf, dataPos, h, expect));
            }
            return dataPos + h.dataBytes();
        }
    }

    private static VolumeException damaged(Path p, long at, String what) {
        return damaged(p, at, what, "");
    }

    private static VolumeException belowMark(Path p, long at, String what, long durable) {
        return damaged(p, at, what, ", below the " + durable + " bytes its last sync made durable");
    }

    private static VolumeException damaged(Path p, long at, String what, String where) {
        return new VolumeException("journal file " + p + ": " + what + " at offset " + at + where
                + ": the journal is damaged; refusing to open (no file was changed)");
    }

    /** Cuts a file's torn tail, makes what is left durable and marks it so. */
    private static void keep(Scanned s) throws IOException {
        JournalFile jf = s.file();
        Path p = jf.path;
        long end = s.end();
        JournalFileHeader.Mark mark = s.mark();
        boolean cut = end < s.size();
        boolean unmarked = mark != null && mark.synced() < end;
        if (cut || unmarked || (s.legacy() && end > 0)) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                if (cut) {
                    ch.truncate(end);
                }
                ch.force(true);
                if (mark != null && mark.synced() < end) {
                    // only after the force: a mark must never claim bytes that might not be on disk
                    JournalFileHeader.writeMark(ch, JournalFileHeader.slotBuffer(), mark.generation() + 1, end);
                    ch.force(false);
                }
            }
        }
        if (cut) {
            if (mark != null) {
                LOG.info("journal {}: cut a torn tail of {} bytes at offset {} ({}), past the {} bytes its last sync made durable",
                        p.getFileName(), s.size() - end, end, s.tornBecause(), mark.synced());
            } else {
                LOG.warn("journal {}: cut {} bytes at offset {} ({}); a format 1 file has no sync mark, so this may also "
                        + "have been damage", p.getFileName(), s.size() - end, end, s.tornBecause());
            }
        }
        if (!Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS).equals(JournalFile.MODE)) {
            Files.setPosixFilePermissions(p, JournalFile.MODE); // older versions left them 0644
        }
        jf.size = end;
        jf.synced = end;
    }

    static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at);
            if (n < 0) {
                throw new IOException("unexpected end of journal file");
            }
            at += n;
        }
    }
}
