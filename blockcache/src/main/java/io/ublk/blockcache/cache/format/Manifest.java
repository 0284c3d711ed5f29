package io.ublk.blockcache.cache.format;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The commit record of one generation: written last, with If-None-Match, so the store's image
 * switches from one generation to the next in one step and a second writer is fenced out.
 *
 * @param writer     the cache folder that wrote it (a restarted writer recognises its own commits)
 * @param epoch      the newest journal epoch whose writes this generation holds (replay skips older ones)
 * @param checkpoint the generation of the checkpoint the chain starts from, 0 for none (empty index)
 * @param segments   segment keys written since that checkpoint, oldest first
 */
public record Manifest(UUID uuid, UUID writer, long generation, long epoch, long checkpoint, List<String> segments) {
    static final long MAGIC = Codec.magic("UBKMAN01");

    public byte[] encode() {
        int n = 8 + 16 + 16 + 8 + 8 + 8 + 4 + 4;
        for (String s : segments) {
            n += Codec.stringBytes(s);
        }
        ByteBuffer b = Codec.writer(n);
        b.putLong(MAGIC).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(writer.getMostSignificantBits()).putLong(writer.getLeastSignificantBits())
                .putLong(generation).putLong(epoch).putLong(checkpoint).putInt(segments.size());
        for (String s : segments) {
            Codec.putString(b, s);
        }
        return Codec.seal(b);
    }

    public static Manifest decode(String what, byte[] data) {
        ByteBuffer b = Codec.open(what, data, MAGIC);
        UUID uuid = new UUID(b.getLong(), b.getLong());
        UUID writer = new UUID(b.getLong(), b.getLong());
        long generation = b.getLong();
        long epoch = b.getLong();
        long checkpoint = b.getLong();
        int count = b.getInt();
        List<String> segments = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            segments.add(Codec.getString(b));
        }
        return new Manifest(uuid, writer, generation, epoch, checkpoint, List.copyOf(segments));
    }
}
