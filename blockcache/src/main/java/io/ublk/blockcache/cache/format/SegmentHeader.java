package io.ublk.blockcache.cache.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;

/**
 * The head of a segment object: which blocks it carries and where. Payload {@code slot} sits at
 * {@code headerBytes + slot * blockSize}; the header is padded to a multiple of 4 KiB so payloads
 * stay page-aligned, and one ranged GET of the first {@link #PROBE_BYTES} tells how long it is.
 *
 * <pre>
 *  0 magic "UBKSEG01"  8 volume uuid  24 generation u64  32 entry count u32  36 header bytes u32
 * 40 entries[count] of 24 bytes: block u64 | kind u32 | arg u32 (DATA: slot; ZERO: block count) | crc32c u32 | 0 u32
 *  . crc32c u32 of bytes [0, 40 + 24 * count)
 * </pre>
 */
public final class SegmentHeader {
    static final long MAGIC = Codec.magic("UBKSEG01");
    static final int FIXED = 40;
    static final int ENTRY = 24;
    public static final int PROBE_BYTES = 4096;
    public static final int DATA = 1;
    public static final int ZERO = 2;

    public final UUID uuid;
    final long generation;
    public final int headerBytes;
    public final long[] blocks;
    public final int[] kinds;
    public final int[] args;
    public final int[] crcs;

    public SegmentHeader(UUID uuid, long generation, long[] blocks, int[] kinds, int[] args, int[] crcs) {
        this.uuid = uuid;
        this.generation = generation;
        this.blocks = blocks;
        this.kinds = kinds;
        this.args = args;
        this.crcs = crcs;
        this.headerBytes = headerBytes(blocks.length);
    }

    public int count() {
        return blocks.length;
    }

    public int dataSlots() {
        int n = 0;
        for (int k : kinds) {
            if (k == DATA) {
                n++;
            }
        }
        return n;
    }

    public static int headerBytes(int count) {
        int raw = FIXED + ENTRY * count + 4;
        return (raw + 4095) & ~4095;
    }

    /** The header bytes, zero-padded to {@link #headerBytes}. */
    public byte[] encode() {
        byte[] out = new byte[headerBytes];
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(generation).putInt(count()).putInt(headerBytes);
        for (int i = 0; i < count(); i++) {
            b.putLong(blocks[i]).putInt(kinds[i]).putInt(args[i]).putInt(crcs[i]).putInt(0);
        }
        b.putInt(Codec.crc32c(out, 0, b.position()));
        return out;
    }

    /** Bytes needed to decode the header whose first bytes are {@code probe}. */
    public static int neededBytes(byte[] probe) {
        if (probe.length < FIXED) {
            throw new CorruptObjectException("segment is too short: " + probe.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(probe).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getLong(0) != MAGIC) {
            throw new CorruptObjectException("segment has a wrong magic number");
        }
        long count = Integer.toUnsignedLong(b.getInt(32));
        long need = FIXED + ENTRY * count + 4;
        if (need > Integer.MAX_VALUE) {
            throw new CorruptObjectException("segment header claims " + count + " entries");
        }
        return (int) need;
    }

    public static SegmentHeader decode(String what, byte[] data) {
        int need = neededBytes(data);
        if (data.length < need) {
            throw new CorruptObjectException(what + " header is cut short");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (Codec.crc32c(data, 0, need - 4) != b.getInt(need - 4)) {
            throw new CorruptObjectException(what + " header fails its checksum");
        }
        b.position(8);
        UUID uuid = new UUID(b.getLong(), b.getLong());
        long generation = b.getLong();
        int count = b.getInt();
        int headerBytes = b.getInt();
        if (headerBytes != headerBytes(count)) {
            throw new CorruptObjectException(what + " header length " + headerBytes + " does not fit " + count + " entries");
        }
        long[] blocks = new long[count];
        int[] kinds = new int[count];
        int[] args = new int[count];
        int[] crcs = new int[count];
        for (int i = 0; i < count; i++) {
            blocks[i] = b.getLong();
            kinds[i] = b.getInt();
            args[i] = b.getInt();
            crcs[i] = b.getInt();
            b.getInt();
        }
        return new SegmentHeader(uuid, generation, blocks, kinds, args, crcs);
    }
}
