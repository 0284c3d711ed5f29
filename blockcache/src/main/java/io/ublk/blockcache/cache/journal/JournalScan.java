package io.ublk.blockcache.cache.journal;

import io.ublk.blockcache.cache.format.Codec;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds the records of some epochs in live journal files, headers only: where a spilled epoch's
 * bytes are. The files were written by this process, or checked by replay, and are intact up to
 * their appended size, so a record that does not decode is a bug or damage, not a torn tail.
 */
public final class JournalScan {
    private JournalScan() {}

    /** A record header: where its data is, and the CRC32C the record carries. */
    public record Located(JournalFile file, long dataPos, JournalRecord record, int crc) {
        /** The CRC32C of the record's data alone, derived from the record's own (not read from the data). */
        public int dataCrc() {
            byte[] h = new byte[JournalRecord.HEADER];
            JournalRecord r = record;
            JournalRecord.writeHeader(MemorySegment.ofArray(h), r.type(), r.epoch(), r.seq(), r.offset(), r.length());
            return Codec.crc32cOfTail(crc, Codec.crc32c(h, 0, h.length), r.dataBytes());
        }
    }

    /** Headers of every record of epochs (lower, upper] in {@code files}, in sequence order. */
    static List<Located> scan(List<JournalFile> files, long lower, long upper) throws IOException {
        List<Located> out = new ArrayList<>();
        ByteBuffer header = ByteBuffer.allocate(JournalRecord.HEADER);
        for (JournalFile f : files) {
            if (f.maxEpoch <= lower || f.minEpoch > upper) {
                continue;
            }
            long size = f.size;
            try (FileChannel ch = FileChannel.open(f.path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long at = f.start;
                while (at + JournalRecord.HEADER <= size) {
                    header.clear();
                    JournalReplay.readFully(ch, header, at);
                    String problem = JournalRecord.problem(header);
                    if (problem != null) {
                        throw new IOException(f.path + ": " + problem + " in the record at " + at
                                + ", below its appended size " + size);
                    }
                    JournalRecord h = JournalRecord.header(header);
                    if (h.epoch() > lower && h.epoch() <= upper) {
                        out.add(new Located(f, at + JournalRecord.HEADER, h, header.getInt(JournalRecord.CRC_AT)));
                    }
                    at += JournalRecord.HEADER + h.dataBytes();
                }
            }
        }
        out.sort(Comparator.comparingLong(l -> l.record().seq()));
        return out;
    }
}
