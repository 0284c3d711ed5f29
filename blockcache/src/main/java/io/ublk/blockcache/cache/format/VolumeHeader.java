package io.ublk.blockcache.cache.format;

import java.nio.ByteBuffer;
import java.util.UUID;

/** The immutable {@code volume} object: written once with If-None-Match when the volume is created. */
public record VolumeHeader(int version, UUID uuid, long size, int blockSize, long createdMillis) {
    static final long MAGIC = Codec.magic("UBKVOL01");
    public static final int VERSION = 1;

    public long blocks() {
        return size / blockSize;
    }

    public byte[] encode() {
        ByteBuffer b = Codec.writer(64);
        b.putLong(MAGIC).putInt(version).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(size).putInt(blockSize).putLong(createdMillis);
        return Codec.seal(b);
    }

    public static VolumeHeader decode(byte[] data) {
        ByteBuffer b = Codec.open("volume header", data, MAGIC);
        int version = b.getInt();
        if (version != VERSION) {
            throw new CorruptObjectException("volume format version " + version + " is not supported (this build reads " + VERSION + ")");
        }
        return new VolumeHeader(version, new UUID(b.getLong(), b.getLong()), b.getLong(), b.getInt(), b.getLong());
    }
}
