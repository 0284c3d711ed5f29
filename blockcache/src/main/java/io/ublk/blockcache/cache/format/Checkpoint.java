package io.ublk.blockcache.cache.format;

import io.ublk.blockcache.cache.volume.BlockIndex;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The whole index at one generation (the locations given, with the segment keys they name), so a cold start reads one object instead of every segment
 * header since the volume was created.
 *
 * <pre>
 * magic "UBKCKP01" | uuid | generation u64 | blocks u64 | segment count u32 | (key, header bytes u32, data slots u32)*
 * | entry count u32 | (block u64, segment u32, slot u32, crc u32)* | crc32c u32
 * </pre>
 */
public final class Checkpoint {
    static final long MAGIC = Codec.magic("UBKCKP01");

    private Checkpoint() {}

    public static byte[] encode(UUID uuid, long generation, long[] locations, BlockIndex index) {
        Map<Integer, Integer> renumber = new HashMap<>();
        int entries = 0;
        int namesBytes = 0;
        for (int b = 0; b < locations.length; b++) {
            long loc = locations[b];
            if (loc != 0) {
                entries++;
                int seg = BlockIndex.segmentOf(loc);
                if (!renumber.containsKey(seg)) {
                    renumber.put(seg, renumber.size());
                    namesBytes += Codec.stringBytes(index.segment(seg).key()) + 8;
                }
            }
        }
        long bytes = 8 + 16 + 8 + 8 + 4 + namesBytes + 4 + 20L * entries + 4;
        if (bytes > Integer.MAX_VALUE - 64) {
            throw new IllegalStateException("checkpoint of " + entries + " blocks is too large for one object");
        }
        ByteBuffer out = Codec.writer((int) bytes);
        out.putLong(MAGIC).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(generation).putLong(locations.length).putInt(renumber.size());
        BlockIndex.SegmentRef[] byNumber = new BlockIndex.SegmentRef[renumber.size()];
        renumber.forEach((seg, n) -> byNumber[n] = index.segment(seg));
        for (BlockIndex.SegmentRef ref : byNumber) {
            Codec.putString(out, ref.key());
            out.putInt(ref.headerBytes()).putInt(ref.slots());
        }
        out.putInt(entries);
        for (int b = 0; b < locations.length; b++) {
            long loc = locations[b];
            if (loc != 0) {
                out.putLong(b).putInt(renumber.get(BlockIndex.segmentOf(loc))).putInt(BlockIndex.slotOf(loc))
                        .putInt(BlockIndex.crcOf(loc));
            }
        }
        return Codec.seal(out);
    }

    /** Loads the checkpoint into an empty index. */
    public static void decode(String what, byte[] data, UUID uuid, BlockIndex index) {
        ByteBuffer b = Codec.open(what, data, MAGIC);
        UUID u = new UUID(b.getLong(), b.getLong());
        if (!u.equals(uuid)) {
            throw new CorruptObjectException(what + " belongs to volume " + u + ", not " + uuid);
        }
        b.getLong();
        long blocks = b.getLong();
        if (blocks != index.blocks()) {
            throw new CorruptObjectException(what + " has " + blocks + " blocks, the volume " + index.blocks());
        }
        int names = b.getInt();
        int[] ids = new int[names];
        for (int i = 0; i < names; i++) {
            String key = Codec.getString(b);
            int headerBytes = b.getInt();
            ids[i] = index.addSegment(key, headerBytes, b.getInt());
        }
        int entries = b.getInt();
        for (int i = 0; i < entries; i++) {
            long block = b.getLong();
            int seg = b.getInt();
            int slot = b.getInt();
            int crc = b.getInt();
            if (block < 0 || block >= blocks || seg < 0 || seg >= names || slot < 0 || slot >= BlockIndex.MAX_SLOTS) {
                throw new CorruptObjectException(what + " entry " + i + " is out of range");
            }
            index.set((int) block, BlockIndex.location(ids[seg], slot, crc));
        }
    }
}
