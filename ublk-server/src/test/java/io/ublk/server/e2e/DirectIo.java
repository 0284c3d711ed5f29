package io.ublk.server.e2e;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** O_DIRECT reads and writes of a block device in whole MiB, with a pattern that names each sector. */
final class DirectIo {
    static final int SECTOR = 512;
    static final int CHUNK = 1 << 20;

    private DirectIo() {}

    /** A non-zero 8-byte word that depends on the sector and the word's place in it. */
    static long word(long sector, int w) {
        long z = sector * 64 + w + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) | 1;
    }

    private static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096).limit(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Writes the pattern over [offset, offset + length) with O_DIRECT (whole MiB), then fsyncs. */
    static void writePattern(Path dev, long offset, long length) throws IOException {
        ByteBuffer buf = aligned(CHUNK);
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
            for (long at = offset; at < offset + length; at += CHUNK) {
                buf.clear();
                for (int i = 0; i < CHUNK / 8; i++) {
                    buf.putLong(word((at + i * 8L) / SECTOR, (i % (SECTOR / 8))));
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf, at + buf.position());
                }
            }
            ch.force(true);
        }
    }

    /** What a sector holds. */
    enum Content { PATTERN, ZERO, OTHER }

    /** Reads [offset, offset + length) with O_DIRECT and classifies each 512-byte sector. */
    static Content[] classify(Path dev, long offset, long length) throws IOException {
        Content[] out = new Content[(int) (length / SECTOR)];
        ByteBuffer buf = aligned(CHUNK);
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            for (long at = offset; at < offset + length; at += CHUNK) {
                buf.clear();
                while (buf.hasRemaining()) {
                    if (ch.read(buf, at + buf.position()) < 0) {
                        throw new IOException("EOF at " + (at + buf.position()));
                    }
                }
                for (int s = 0; s < CHUNK / SECTOR; s++) {
                    long sector = (at / SECTOR) + s;
                    boolean zero = true;
                    boolean pattern = true;
                    for (int w = 0; w < SECTOR / 8; w++) {
                        long v = buf.getLong(s * SECTOR + w * 8);
                        zero &= v == 0;
                        pattern &= v == word(sector, w);
                    }
                    out[(int) ((at - offset) / SECTOR) + s] =
                            pattern ? Content.PATTERN : zero ? Content.ZERO : Content.OTHER;
                }
            }
        }
        return out;
    }
}
