package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The journal files one thread appends to. Each worker thread has its own lane, so appends need
 * no lock and every file is written front to back by one thread: a crash can only tear a file's
 * tail, never leave a hole in its middle. Records of different lanes are ordered by their global
 * sequence number at replay.
 */
public final class JournalLane {
    private final Journal journal;
    private final CRC32C crc = new CRC32C();
    private ByteBuffer buffer;
    private MemorySegment staging;
    private JournalFile file;

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
     * answers once the bytes are in the file (not yet durable: the syncer makes them so).
     */
    public void append(int type, long epoch, long seq, long offset, long length, MemorySegment src, long srcAt)
            throws IOException {
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
        if (file == null || file.size + total > journal.fileBytes()) {
            roll();
        }
        JournalFile f = file;
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
    }

    private void roll() throws IOException {
        JournalFile next = journal.newFile();
        JournalFile old = file;
        if (old != null) {
            // The syncer must still force it: hand it over before anything lands in the next file.
            journal.retire(old);
        }
        file = next;
    }
}
