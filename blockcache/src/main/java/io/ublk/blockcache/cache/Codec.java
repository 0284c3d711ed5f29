package io.ublk.blockcache.cache;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Little-endian framing shared by the store objects: a magic, a body, and a CRC32C of everything
 * before it as the last four bytes. A decoder that finds a wrong magic, length or CRC throws
 * {@link CorruptObjectException} rather than returning half-read data.
 */
final class Codec {
    private Codec() {}

    static ByteBuffer writer(int capacity) {
        return ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Appends the CRC32C of bytes [0, position) and answers exactly the written bytes. */
    static byte[] seal(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        byte[] out = new byte[b.position()];
        System.arraycopy(b.array(), 0, out, 0, out.length);
        return out;
    }

    /** Checks magic and trailing CRC; answers a reader positioned after the magic. */
    static ByteBuffer open(String what, byte[] data, long magic) {
        if (data.length < 12) {
            throw new CorruptObjectException(what + " is too short: " + data.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 4);
        if ((int) crc.getValue() != b.getInt(data.length - 4)) {
            throw new CorruptObjectException(what + " fails its checksum");
        }
        if (b.getLong() != magic) {
            throw new CorruptObjectException(what + " has a wrong magic number");
        }
        b.limit(data.length - 4);
        return b;
    }

    static void putString(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putShort((short) bytes.length);
        b.put(bytes);
    }

    static String getString(ByteBuffer b) {
        int n = Short.toUnsignedInt(b.getShort());
        byte[] bytes = new byte[n];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static int stringBytes(String s) {
        return 2 + s.getBytes(StandardCharsets.UTF_8).length;
    }

    static int crc32c(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        return (int) crc.getValue();
    }

    /** CRC32C of native memory (through a direct buffer view: the intrinsic, no copy). */
    static int crc32c(MemorySegment data, long offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data.asSlice(offset, length).asByteBuffer());
        return (int) crc.getValue();
    }

    static long magic(String eight) {
        byte[] m = eight.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
