package io.ublk.blockcache.cache.format;

import io.ublk.blockcache.cache.volume.BlockIndex;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * The whole index at one generation (the locations given, with the segment keys they name), so a
 * cold start reads one object per part instead of every segment header since the volume was
 * created.
 *
 * <p>It is split into parts of at most {@link #PART_BYTES} (one object each, {@link
 * Keys#checkpointPart}): one object of 20 bytes per block would pass 2 GiB, the most a byte
 * array or a single GET holds, at 107M blocks (14 TiB at 128 KiB blocks, 512 GiB at 4 KiB), and
 * a part at a time is all the encoder and the loader keep in memory. Each part stands alone:
 * the entries of a run of blocks, ascending, and the keys of the segments they use, numbered
 * within the part.
 *
 * <pre>
 * version 2, part n:
 * magic "UBKCKP02" | uuid | generation u64 | blocks u64 | part u32 | flags u32 (LAST = 1)
 * | segment count u32 | (key, header bytes u32, data slots u32)* | entry count u32
 * | (block u64, segment u32, slot u32, crc u32)* | crc32c u32
 *
 * version 1 (one object, still read):
 * magic "UBKCKP01" | uuid | generation u64 | blocks u64 | segment count u32 | (key, header bytes u32, data slots u32)*
 * | entry count u32 | (block u64, segment u32, slot u32, crc u32)* | crc32c u32
 * </pre>
 */
public final class Checkpoint {
    static final long MAGIC = Codec.magic("UBKCKP02");
    static final long MAGIC_V1 = Codec.magic("UBKCKP01");
    /** The most bytes one part holds: large enough that a part PUT costs little beside its bytes. */
    public static final int PART_BYTES = 64 << 20;
    /**
     * Shrinks parts to this many bytes (tests only: a few KiB make a checkpoint of many parts from
     * a small volume). Read when an uploader starts.
     */
    public static final String PART_BYTES_PROPERTY = "ublk.blockcache.checkpointPartBytes";
    /** The least a part may be asked to hold: room for one key and one entry. */
    public static final int MIN_PART_BYTES = 1024;
    /** Flag of the last part. */
    private static final int LAST = 1;
    /** magic, uuid, generation, blocks, part, flags, segment count, entry count, crc. */
    private static final int PART_OVERHEAD = 8 + 16 + 8 + 8 + 4 + 4 + 4 + 4 + 4;
    private static final int ENTRY_BYTES = 8 + 4 + 4 + 4;
    /** Per segment named, besides its key: header bytes, data slots. */
    private static final int NAME_BYTES = 4 + 4;

    private Checkpoint() {}

    /**
     * Encodes the checkpoint of {@code locations} part by part: {@link #next} makes one part, so
     * only one is in memory. Same inputs, same parts (a retried round PUTs the same bytes).
     */
    public static final class Writer {
        private final UUID uuid;
        private final long generation;
        private final long[] locations;
        private final BlockIndex index;
        private final int partBytes;
        /** The first block the next part starts at; -1 once the last part was made. */
        private int from;
        private int part;

        public Writer(UUID uuid, long generation, long[] locations, BlockIndex index, int partBytes) {
            if (partBytes < MIN_PART_BYTES) {
                throw new IllegalArgumentException("checkpoint part bytes must be >= " + MIN_PART_BYTES + ": " + partBytes);
            }
            this.uuid = uuid;
            this.generation = generation;
            this.locations = locations;
            this.index = index;
            this.partBytes = partBytes;
        }

        public boolean hasNext() {
            return from >= 0;
        }

        /** The index of the part {@link #next} makes. */
        public int part() {
            return part;
        }

        public byte[] next() {
            if (from < 0) {
                throw new IllegalStateException("the last checkpoint part was made");
            }
            // first pass: how far this part reaches, and what it names
            Map<Integer, Integer> renumber = new HashMap<>();
            long bytes = PART_OVERHEAD;
            int entries = 0;
            int end = from;
            for (; end < locations.length; end++) {
                long loc = locations[end];
                if (loc == 0) {
                    continue;
                }
                int seg = BlockIndex.segmentOf(loc);
                boolean named = renumber.containsKey(seg);
                long more = ENTRY_BYTES + (named ? 0 : Codec.stringBytes(index.segment(seg).key()) + NAME_BYTES);
                if (entries > 0 && bytes + more > partBytes) {
                    break;
                }
                if (!named) {
                    renumber.put(seg, renumber.size());
                }
                bytes += more;
                entries++;
            }
            int next = end;
            while (next < locations.length && locations[next] == 0) {
                next++;
            }
            boolean last = next == locations.length;

            ByteBuffer out = Codec.writer((int) bytes);
            out.putLong(MAGIC).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                    .putLong(generation).putLong(locations.length).putInt(part).putInt(last ? LAST : 0)
                    .putInt(renumber.size());
            BlockIndex.SegmentRef[] byNumber = new BlockIndex.SegmentRef[renumber.size()];
            renumber.forEach((seg, n) -> byNumber[n] = index.segment(seg));
            for (BlockIndex.SegmentRef ref : byNumber) {
                Codec.putString(out, ref.key());
                out.putInt(ref.headerBytes()).putInt(ref.slots());
            }
            out.putInt(entries);
            for (int b = from; b < end; b++) {
                long loc = locations[b];
                if (loc != 0) {
                    out.putLong(b).putInt(renumber.get(BlockIndex.segmentOf(loc))).putInt(BlockIndex.slotOf(loc))
                            .putInt(BlockIndex.crcOf(loc));
                }
            }
            from = last ? -1 : next;
            part++;
            return Codec.seal(out);
        }
    }

    /**
     * Loads the checkpoint of {@code generation} into an empty index, one part at a time, as
     * {@code get} answers each key; answers how many parts it has (a version 1 checkpoint: 1).
     */
    public static int decode(String volume, long generation, Function<String, byte[]> get, UUID uuid, BlockIndex index) {
        String first = Keys.checkpointPart(volume, generation, 0);
        byte[] data = get.apply(first);
        if (data.length >= 8 && ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(0) == MAGIC_V1) {
            decodeV1(first, data, uuid, index);
            return 1;
        }
        Map<String, Integer> ids = new HashMap<>();
        long after = -1;
        for (int part = 0; ; part++) {
            String what = Keys.checkpointPart(volume, generation, part);
            if (part > 0) {
                data = get.apply(what);
            }
            ByteBuffer b = Codec.open(what, data, MAGIC);
            checkVolume(what, b, uuid);
            if (b.getLong() != generation) {
                throw new CorruptObjectException(what + " is not of generation " + generation);
            }
            long blocks = checkBlocks(what, b, index);
            if (b.getInt() != part) {
                throw new CorruptObjectException(what + " is not part " + part);
            }
            boolean last = (b.getInt() & LAST) != 0;
            int names = b.getInt();
            int[] local = new int[names];
            for (int i = 0; i < names; i++) {
                String key = Codec.getString(b);
                int headerBytes = b.getInt();
                int slots = b.getInt();
                // a segment whose blocks span parts is named in each: one id for all
                Integer id = ids.get(key);
                local[i] = id != null ? id : index.addSegment(key, headerBytes, slots);
                ids.putIfAbsent(key, local[i]);
            }
            // ascending across parts: no block is set twice, nor by a part read out of order
            after = readEntries(what, b, blocks, local, index, after, true);
            if (last) {
                return part + 1;
            }
        }
    }

    private static void decodeV1(String what, byte[] data, UUID uuid, BlockIndex index) {
        ByteBuffer b = Codec.open(what, data, MAGIC_V1);
        checkVolume(what, b, uuid);
        b.getLong();
        long blocks = checkBlocks(what, b, index);
        int names = b.getInt();
        int[] ids = new int[names];
        for (int i = 0; i < names; i++) {
            String key = Codec.getString(b);
            int headerBytes = b.getInt();
            ids[i] = index.addSegment(key, headerBytes, b.getInt());
        }
        readEntries(what, b, blocks, ids, index, -1, false);
    }

    /**
     * Sets the index from a run of entries (block, segment, slot, crc) naming segments by their
     * position in {@code ids}. With {@code ascending} every block must follow {@code after} and
     * the one before it (version 2); otherwise only the range is checked (version 1). Answers the
     * last block read, or {@code after} if none.
     */
    private static long readEntries(String what, ByteBuffer b, long blocks, int[] ids, BlockIndex index, long after,
            boolean ascending) {
        int entries = b.getInt();
        for (int i = 0; i < entries; i++) {
            long block = b.getLong();
            int seg = b.getInt();
            int slot = b.getInt();
            int crc = b.getInt();
            if (block < 0 || (ascending && block <= after) || block >= blocks || seg < 0 || seg >= ids.length || slot < 0
                    || slot >= BlockIndex.MAX_SLOTS) {
                throw new CorruptObjectException(what + " entry " + i + " is out of range");
            }
            after = block;
            index.set((int) block, BlockIndex.location(ids[seg], slot, crc));
        }
        return after;
    }

    private static void checkVolume(String what, ByteBuffer b, UUID uuid) {
        UUID u = new UUID(b.getLong(), b.getLong());
        if (!u.equals(uuid)) {
            throw new CorruptObjectException(what + " belongs to volume " + u + ", not " + uuid);
        }
    }

    private static long checkBlocks(String what, ByteBuffer b, BlockIndex index) {
        long blocks = b.getLong();
        if (blocks != index.blocks()) {
            throw new CorruptObjectException(what + " has " + blocks + " blocks, the volume " + index.blocks());
        }
        return blocks;
    }
}
