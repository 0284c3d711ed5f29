package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The journal files one thread appends to. Each worker thread has its own lane, so appends need
 * no lock and every file is written front to back by one thread: the bytes past a file's last
 * force are its tail, and a crash can damage only those (in any pattern, as writeback may have
 * stored some of their pages and not others). Records of different lanes are ordered by their
 * global sequence number at replay.
 */
public final class JournalLane {
    private final Journal journal;
    private final CRC32C crc = new CRC32C();
    private ByteBuffer buffer;
    private MemorySegment staging;
    /** Written by this lane's thread, read by the syncer: the file it must force for a FLUSH. */
    private volatile JournalFile file;

    JournalLane(Journal journal, int maxData) {
        this.journal = journal;
        allocate(maxData);
    }

    private void allocate(int maxData) {
        buffer = ByteBuffer.allocateDirect(JournalRecord.HEADER + maxData).order(ByteOrder.LITTLE_ENDIAN);
        staging = MemorySegment.ofBuffer(buffer);
    }

    JournalFile file() {
        return file;
    }

    /**
     * Appends one record (its data copied from {@code src[srcAt, srcAt+length)} for a WRITE) and
     * answers once the bytes are in the file (not yet durable: the syncer makes them so). A
     * record covers at least one byte: zero-length requests are answered before the journal.
     */
    public void append(int type, long epoch, long seq, long offset, long length, MemorySegment src, long srcAt)
            throws IOException {
        if (length <= 0) {
            throw new IllegalArgumentException("a journal record covers at least one byte: " + length);
        }
        int data = type == JournalRecord.WRITE ? (int) length : 0;
        int total = JournalRecord.HEADER + data;
        if (total > buffer.capacity()) {
            allocate(data);
        }
        JournalRecord.writeHeader(staging, type, epoch, seq, offset, length);
        if (data > 0) {
            MemorySegment.copy(src, srcAt, staging, JournalRecord.HEADER, data);
        }
        buffer.limit(total).position(0);
        crc.reset();
        crc.update(buffer);
        staging.set(JournalRecord.INT, JournalRecord.CRC_AT, (int) crc.getValue());
        JournalFile f = file;
        try {
            if (f == null || f.size + total > journal.fileBytes()) {
                f = roll(f);
            }
            buffer.limit(total).position(0);
            long at = f.size;
            while (buffer.hasRemaining()) {
                at += f.channel.write(buffer, at);
            }
            if (epoch > f.maxEpoch) {
                f.maxEpoch = epoch;
            }
            if (epoch < f.minEpoch) {
                f.minEpoch = epoch;
            }
            f.size = at;
        } catch (IOException e) {
            // A full or failing disk: this record is not in the journal (a part of it may be, past
            // the file's size: a torn tail). The file is retired as it stands, so it is deleted
            // once its records are uploaded and gives its space back; the next append starts anew.
            retireCurrent();
            throw e;
        }
    }

    private void retireCurrent() {
        JournalFile f = file;
        if (f != null) {
            file = null;
            journal.retire(f);
        }
    }

    private JournalFile roll(JournalFile old) throws IOException {
        JournalFile next = journal.newFile();
        if (old != null) {
            // The syncer must still force it: hand it over before anything lands in the next file.
            journal.retire(old);
        }
        file = next;
        return next;
    }
}
