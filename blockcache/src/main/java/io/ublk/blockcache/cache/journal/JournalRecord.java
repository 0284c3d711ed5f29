package io.ublk.blockcache.cache.journal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One journal record's header (48 bytes, little-endian), which the data of a WRITE follows:
 * <pre>
 *  0 magic u32 "JRN1"   4 type u32   8 epoch u64   16 seq u64   24 offset u64   32 length u64
 * 40 crc32c u32 (of header with this field 0, then data)   44 0 u32
 * </pre>
 * The length is at least 1 in records written now; older versions also wrote zero-length
 * records, which replay reads as no-ops. What replay does with a record that does not decode is
 * {@link JournalReplay}'s rule. The data stays in the file: where it is, is {@link JournalScan.Located}.
 */
public record JournalRecord(int type, long epoch, long seq, long offset, long length) {
    public static final int HEADER = 48;
    static final int MAGIC_AT = 0;
    static final int TYPE_AT = 4;
    static final int EPOCH_AT = 8;
    static final int SEQ_AT = 16;
    static final int OFFSET_AT = 24;
    static final int LENGTH_AT = 32;
    /** The record's CRC32C, computed with this field 0. */
    static final int CRC_AT = 40;
    static final int PAD_AT = 44;
    static final int MAGIC = 0x314E524A;
    public static final int WRITE = 1;
    public static final int ZERO = 2;

    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static void writeHeader(MemorySegment m, int type, long epoch, long seq, long offset, long length) {
        m.set(INT, MAGIC_AT, MAGIC);
        m.set(INT, TYPE_AT, type);
        m.set(LONG, EPOCH_AT, epoch);
        m.set(LONG, SEQ_AT, seq);
        m.set(LONG, OFFSET_AT, offset);
        m.set(LONG, LENGTH_AT, length);
        m.set(INT, CRC_AT, 0);
        m.set(INT, PAD_AT, 0);
    }

    /** What makes {@code h} no record header ("bad magic", ...), or null if it decodes. */
    static String problem(ByteBuffer h) {
        h.order(ByteOrder.LITTLE_ENDIAN);
        if (h.getInt(MAGIC_AT) != MAGIC) {
            return "bad magic";
        }
        int type = h.getInt(TYPE_AT);
        if (type != WRITE && type != ZERO) {
            return "bad type " + type;
        }
        long length = h.getLong(LENGTH_AT);
        if (length < 0 || (type == WRITE && length > Integer.MAX_VALUE)) {
            return "bad length " + length;
        }
        return null;
    }

    /** Decodes a header {@link #problem} passed. */
    static JournalRecord header(ByteBuffer h) {
        h.order(ByteOrder.LITTLE_ENDIAN);
        return new JournalRecord(h.getInt(TYPE_AT), h.getLong(EPOCH_AT), h.getLong(SEQ_AT), h.getLong(OFFSET_AT),
                h.getLong(LENGTH_AT));
    }

    public int dataBytes() {
        return type == WRITE ? (int) length : 0;
    }
}
