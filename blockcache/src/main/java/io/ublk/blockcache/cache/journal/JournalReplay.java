package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a volume's journal folder at open: the records the store does not hold yet, in sequence
 * order, and the numbering to continue from. Runs once, before the journal takes new writes.
 */
public final class JournalReplay {
    private static final Logger LOG = LoggerFactory.getLogger(JournalReplay.class);

    private JournalReplay() {}

    /** What a replay found: records to re-apply (in sequence order) and numbering to continue from. */
    public record Result(List<JournalRecord> records, List<JournalFile> files, long maxSeq, long maxEpoch,
            long tornBytes) {}

    /**
     * Reads every journal file in {@code dir}: records of epochs after {@code committedEpoch} are
     * returned in sequence order, a torn tail is cut off (the file is truncated where its first bad
     * record starts), and files are kept for the trimmer.
     */
    public static Result replay(Path dir, long committedEpoch, int maxData) throws IOException {
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
                    int expect = header.getInt(JournalRecord.CRC_AT);
                    header.putInt(JournalRecord.CRC_AT, 0);
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
        return new Result(records, files, maxSeq, maxEpoch, torn);
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
