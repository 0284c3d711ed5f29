package io.ublk.blockcache.cache.format;

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
public final class Codec {
    private Codec() {}

    static ByteBuffer writer(int capacity) {
        return ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Appends the CRC32C of bytes [0, position) and answers exactly the written bytes. */
    static byte[] seal(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        if (b.position() == b.array().length) {
            return b.array(); // sized exactly: no second copy of a large object
        }
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

    public static int crc32c(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        return (int) crc.getValue();
    }

    /** CRC32C of native memory (through a direct buffer view: the intrinsic, no copy). */
    public static int crc32c(MemorySegment data, long offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data.asSlice(offset, length).asByteBuffer());
        return (int) crc.getValue();
    }

    /** CRC32C's polynomial, reflected (bit 31 is x^0). */
    private static final int POLY = 0x82F63B78;
    /** x^(2^k) mod POLY for k = 0..66 (8n for any long n): the powers {@link #xPow8n} multiplies together. */
    private static final int[] X_POW_2K = new int[67];

    static {
        X_POW_2K[0] = 1 << 30; // x^1
        for (int k = 1; k < X_POW_2K.length; k++) {
            X_POW_2K[k] = mulMod(X_POW_2K[k - 1], X_POW_2K[k - 1]);
        }
    }

    /**
     * The CRC32C of the last {@code tailLength} bytes of some data, from the CRC32C of all of it
     * and of the bytes before them: crc(A+B) = crc(A) * x^(8|B|) xor crc(B), so the tail's CRC
     * costs a few dozen multiplications instead of a pass over its bytes. The uploader gets a
     * block's CRC this way from the journal record that carries it, without reading the block:
     * a checksum that goes end to end, from the write to whoever reads the segment.
     */
    public static int crc32cOfTail(int crcOfAll, int crcOfHead, long tailLength) {
        return crcOfAll ^ mulMod(xPow8n(tailLength), crcOfHead);
    }

    /** a * b modulo POLY, both reflected. */
    private static int mulMod(int a, int b) {
        int m = 1 << 31;
        int p = 0;
        while (true) {
            if ((a & m) != 0) {
                p ^= b;
                if ((a & (m - 1)) == 0) {
                    return p;
                }
            }
            m >>>= 1;
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
        }
    }

    /** x^(8n) modulo POLY. */
    private static int xPow8n(long n) {
        int p = 1 << 31; // x^0
        int k = 3; // 8n = n * 2^3
        while (n != 0) {
            if ((n & 1) != 0) {
                p = mulMod(X_POW_2K[k], p);
            }
            n >>>= 1;
            k++;
        }
        return p;
    }

    static long magic(String eight) {
        byte[] m = eight.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
