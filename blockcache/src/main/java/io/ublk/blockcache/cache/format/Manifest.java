package io.ublk.blockcache.cache.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The commit record of one generation: written last, with If-None-Match, so the store's image
 * switches from one generation to the next in one step and a second writer is fenced out.
 *
 * <pre>
 * magic "UBKMAN02" | uuid | writer | commit u64 | generation u64 | epoch u64 | checkpoint u64
 * | segment count u32 | key* | crc32c u32
 * </pre>
 * Version 1 ("UBKMAN01") had no commit field; it decodes with {@link #NO_COMMIT}.
 *
 * @param writer     the cache folder that wrote it (a restarted writer recognises its own commits)
 * @param epoch      the newest journal epoch whose writes this generation holds (replay skips older ones)
 * @param checkpoint the generation of the checkpoint the chain starts from, 0 for none (empty index)
 * @param segments   segment keys written since that checkpoint, oldest first
 * @param commit     which commit of its writer this is, the same for every retry of it, so a retry
 *                   whose first PUT landed unanswered knows it for its own; {@link #NO_COMMIT} if none
 */
public record Manifest(UUID uuid, UUID writer, long generation, long epoch, long checkpoint, List<String> segments,
        long commit) {
    /** The commit id of a manifest that is no retried commit (an open's claim, a version 1 manifest). */
    public static final long NO_COMMIT = 0;
    static final long MAGIC = Codec.magic("UBKMAN02");
    static final long MAGIC_V1 = Codec.magic("UBKMAN01");

    /** A manifest without a commit id. */
    public Manifest(UUID uuid, UUID writer, long generation, long epoch, long checkpoint, List<String> segments) {
        this(uuid, writer, generation, epoch, checkpoint, segments, NO_COMMIT);
    }

    /** Whether this is commit {@code commit} of {@code writer}: the same commit, not just the same writer. */
    public boolean isCommit(UUID writer, long commit) {
        return commit != NO_COMMIT && this.commit == commit && this.writer.equals(writer);
    }

    public byte[] encode() {
        int n = 8 + 16 + 16 + 8 + 8 + 8 + 8 + 4 + 4;
        for (String s : segments) {
            n += Codec.stringBytes(s);
        }
        ByteBuffer b = Codec.writer(n);
        b.putLong(MAGIC).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(writer.getMostSignificantBits()).putLong(writer.getLeastSignificantBits()).putLong(commit)
                .putLong(generation).putLong(epoch).putLong(checkpoint).putInt(segments.size());
        for (String s : segments) {
            Codec.putString(b, s);
        }
        return Codec.seal(b);
    }

    public static Manifest decode(String what, byte[] data) {
        boolean v1 = data.length >= 8 && ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(0) == MAGIC_V1;
        ByteBuffer b = Codec.open(what, data, v1 ? MAGIC_V1 : MAGIC);
        UUID uuid = new UUID(b.getLong(), b.getLong());
        UUID writer = new UUID(b.getLong(), b.getLong());
        long commit = v1 ? NO_COMMIT : b.getLong();
        long generation = b.getLong();
        long epoch = b.getLong();
        long checkpoint = b.getLong();
        int count = b.getInt();
        List<String> segments = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            segments.add(Codec.getString(b));
        }
        return new Manifest(uuid, writer, generation, epoch, checkpoint, List.copyOf(segments), commit);
    }
}
