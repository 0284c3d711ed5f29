package io.ublk.server.e2e;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * 4 KiB blocks that say what they are, so a read-back names the write it came from:
 *
 * <pre>
 *   0  magic "UBLKSTMP"       8  the block's own byte offset on the device
 *  16  the write's sequence number (&gt; 0)   24  tag (a writer or trial number)
 *  28  filler derived from (offset, seq) ...   4092  CRC32C of bytes [0, 4092)
 * </pre>
 *
 * A block whose checksum or magic is wrong is torn or foreign ({@link Kind#GARBAGE}); one with a
 * valid stamp for another offset was written to the wrong place ({@link Kind#MISPLACED}).
 */
final class StampedBlock {
    static final int SIZE = 4096;
    static final long MAGIC = 0x504D54534B4C4255L; // "UBLKSTMP" little-endian
    private static final int CRC_AT = SIZE - 4;

    /** What a block read back holds. */
    enum Kind { ZERO, STAMPED, MISPLACED, GARBAGE }

    /** A classified block: for STAMPED and MISPLACED, the stamp's offset, seq and tag. */
    record Stamp(Kind kind, long offset, long seq, int tag) {
        String describe() {
            return switch (kind) {
                case ZERO -> "zeros";
                case STAMPED -> "seq " + seq + " (tag " + tag + ")";
                case MISPLACED -> "a block stamped for offset 0x" + Long.toHexString(offset) + " (seq " + seq + ", tag "
                        + tag + ")";
                case GARBAGE -> "neither zeros nor a valid stamp (torn or foreign bytes)";
            };
        }
    }

    private StampedBlock() {}

    /** A direct buffer of {@code size} bytes aligned for O_DIRECT, little-endian. */
    static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096).limit(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Writes the stamp of ({@code offset}, {@code seq}, {@code tag}) into {@code buf} at {@code at}. */
    static void fill(ByteBuffer buf, int at, long offset, long seq, int tag) {
        buf.putLong(at, MAGIC);
        buf.putLong(at + 8, offset);
        buf.putLong(at + 16, seq);
        buf.putInt(at + 24, tag);
        long z = offset * 0x9E3779B97F4A7C15L ^ seq;
        for (int i = 28; i < CRC_AT; i += 8) { // 508 words exactly
            z += 0x9E3779B97F4A7C15L;
            buf.putLong(at + i, mix(z));
        }
        buf.putInt(at + CRC_AT, crc(buf, at));
    }

    /** Classifies the block at {@code at} of {@code buf}, which was read from device offset {@code offset}. */
    static Stamp read(ByteBuffer buf, int at, long offset) {
        boolean zero = true;
        for (int i = 0; i < SIZE && zero; i += 8) {
            zero = buf.getLong(at + i) == 0;
        }
        if (zero) {
            return new Stamp(Kind.ZERO, offset, 0, 0);
        }
        if (buf.getLong(at) != MAGIC || buf.getInt(at + CRC_AT) != crc(buf, at)) {
            return new Stamp(Kind.GARBAGE, offset, 0, 0);
        }
        long stamped = buf.getLong(at + 8);
        return new Stamp(stamped == offset ? Kind.STAMPED : Kind.MISPLACED, stamped, buf.getLong(at + 16),
                buf.getInt(at + 24));
    }

    /** A 64-bit hash of the block's bytes (to tell whether unexplained content changed later). */
    static long hash(ByteBuffer buf, int at) {
        long h = 0;
        for (int i = 0; i < SIZE; i += 8) {
            h = mix(h ^ buf.getLong(at + i));
        }
        return h;
    }

    private static int crc(ByteBuffer buf, int at) {
        CRC32C c = new CRC32C();
        c.update(buf.slice(at, CRC_AT));
        return (int) c.getValue();
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
