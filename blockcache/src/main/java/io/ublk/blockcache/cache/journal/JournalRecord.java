package io.ublk.blockcache.cache.journal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One journal record. Header (48 bytes, little-endian), then the data of a WRITE:
 * <pre>
 *  0 magic u32 "JRN1"   4 type u32   8 epoch u64   16 seq u64   24 offset u64   32 length u64
 * 40 crc32c u32 (of header with this field 0, then data)   44 0 u32
 * </pre>
 * A record whose magic, type, length or CRC is wrong, or that ends past the file, ends the
 * journal file: it is the torn tail of a write that never completed.
 */
public record JournalRecord(int type, long epoch, long seq, long offset, long length, byte[] data) {
    public static final int HEADER = 48;
    static final int MAGIC = 0x314E524A;
    public static final int WRITE = 1;
    public static final int ZERO = 2;

    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static void writeHeader(MemorySegment m, int type, long epoch, long seq, long offset, long length) {
        m.set(INT, 0, MAGIC);
        m.set(INT, 4, type);
        m.set(LONG, 8, epoch);
        m.set(LONG, 16, seq);
        m.set(LONG, 24, offset);
        m.set(LONG, 32, length);
        m.set(INT, 40, 0);
        m.set(INT, 44, 0);
    }

    /** Decodes a header; answers null if it cannot be one. */
    static JournalRecord header(ByteBuffer h, long maxData) {
        h.order(ByteOrder.LITTLE_ENDIAN);
        if (h.getInt(0) != MAGIC) {
            return null;
        }
        int type = h.getInt(4);
        long length = h.getLong(32);
        if ((type != WRITE && type != ZERO) || length <= 0 || (type == WRITE && length > maxData)) {
            return null;
        }
        return new JournalRecord(type, h.getLong(8), h.getLong(16), h.getLong(24), length, null);
    }

    JournalRecord withData(byte[] data) {
        return new JournalRecord(type, epoch, seq, offset, length, data);
    }

    public int dataBytes() {
        return type == WRITE ? (int) length : 0;
    }
}
