package io.ublk.blockcache.cache.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.blockcache.cache.volume.BlockIndex;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class CheckpointTest {
    static final int BLOCKS = 2000;
    final UUID uuid = UUID.randomUUID();

    /** An index of 40 segments over BLOCKS blocks, a third of them zero. */
    BlockIndex index() {
        BlockIndex index = new BlockIndex(BLOCKS);
        int[] ids = new int[40];
        for (int s = 0; s < ids.length; s++) {
            ids[s] = index.addSegment("vol/seg/" + "0".repeat(15) + s + "-1a2b3c-0", 4096 + s, 1024);
        }
        Random r = new Random(5);
        for (int b = 0; b < BLOCKS; b++) {
            if (r.nextInt(3) != 0) {
                index.set(b, BlockIndex.location(ids[r.nextInt(ids.length)], r.nextInt(1024), r.nextInt()));
            }
        }
        return index;
    }

    static long[] locations(BlockIndex index) {
        long[] all = new long[index.blocks()];
        for (int b = 0; b < all.length; b++) {
            all[b] = index.get(b);
        }
        return all;
    }

    Map<String, byte[]> write(BlockIndex index, int partBytes) {
        Map<String, byte[]> objects = new HashMap<>();
        Checkpoint.Writer w = new Checkpoint.Writer(uuid, 9, locations(index), index, partBytes);
        while (w.hasNext()) {
            objects.put(Keys.checkpointPart("vol", 9, w.part()), w.next());
        }
        return objects;
    }

    /** Same blocks at the same keys, slots and CRCs (ids are the loader's own numbering). */
    static void assertSameIndex(BlockIndex back, BlockIndex index) {
        for (int b = 0; b < index.blocks(); b++) {
            long want = index.get(b);
            long got = back.get(b);
            assertThat(got == 0).as("block %d zero", b).isEqualTo(want == 0);
            if (want != 0) {
                assertThat(back.segment(BlockIndex.segmentOf(got))).isEqualTo(index.segment(BlockIndex.segmentOf(want)));
                assertThat(BlockIndex.slotOf(got)).isEqualTo(BlockIndex.slotOf(want));
                assertThat(BlockIndex.crcOf(got)).isEqualTo(BlockIndex.crcOf(want));
            }
        }
    }

    @Test
    void aCheckpointLargerThanOnePartIsSplitAndReadBackWhole() {
        BlockIndex index = index();
        Map<String, byte[]> parts = write(index, 2048);
        assertThat(parts.size()).as("parts").isGreaterThan(10);
        // at most one entry and one key past the bound, and only when a part holds nothing else
        parts.values().forEach(p -> assertThat(p.length).isLessThanOrEqualTo(2048));
        BlockIndex back = new BlockIndex(BLOCKS);
        assertThat(Checkpoint.decode("vol", 9, parts::get, uuid, back)).isEqualTo(parts.size());
        assertSameIndex(back, index);
        // a segment named by many parts has one id
        assertThat(back.segmentLimit()).isEqualTo(index.segmentLimit());
    }

    @Test
    void theSameIndexMakesTheSameParts() {
        BlockIndex index = index();
        Map<String, byte[]> a = write(index, 2048);
        Map<String, byte[]> b = write(index, 2048);
        assertThat(a.keySet()).isEqualTo(b.keySet());
        a.forEach((k, v) -> assertThat(b.get(k)).as(k).isEqualTo(v));
    }

    @Test
    void anEmptyIndexIsOneEmptyPart() {
        BlockIndex empty = new BlockIndex(BLOCKS);
        Map<String, byte[]> parts = write(empty, Checkpoint.PART_BYTES);
        assertThat(parts).containsOnlyKeys(Keys.checkpoint("vol", 9));
        assertThat(Checkpoint.decode("vol", 9, parts::get, uuid, new BlockIndex(BLOCKS))).isEqualTo(1);
    }

    @Test
    void aPartOfAnotherGenerationOrOutOfOrderIsRefused() {
        Map<String, byte[]> parts = write(index(), 2048);
        Map<String, byte[]> swapped = new HashMap<>(parts);
        swapped.put(Keys.checkpointPart("vol", 9, 1), parts.get(Keys.checkpointPart("vol", 9, 2)));
        assertThatThrownBy(() -> Checkpoint.decode("vol", 9, swapped::get, uuid, new BlockIndex(BLOCKS)))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("is not part 1");
        assertThatThrownBy(() -> Checkpoint.decode("vol", 8, k -> parts.get(k.replace("0008", "0009")), uuid,
                new BlockIndex(BLOCKS))).isInstanceOf(CorruptObjectException.class).hasMessageContaining("generation");
    }

    @Test
    void decodesVersionOne() {
        // version 1: one object, no part number or flags
        BlockIndex index = index();
        List<BlockIndex.SegmentRef> refs = new ArrayList<>();
        for (int id = 1; id < index.segmentLimit(); id++) {
            refs.add(index.segment(id));
        }
        int entries = 0;
        int names = 0;
        for (BlockIndex.SegmentRef ref : refs) {
            names += Codec.stringBytes(ref.key()) + 8;
        }
        for (int b = 0; b < BLOCKS; b++) {
            entries += index.get(b) != 0 ? 1 : 0;
        }
        ByteBuffer out = Codec.writer(8 + 16 + 8 + 8 + 4 + names + 4 + 20 * entries + 4);
        out.putLong(Checkpoint.MAGIC_V1).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits())
                .putLong(9).putLong(BLOCKS).putInt(refs.size());
        for (BlockIndex.SegmentRef ref : refs) {
            Codec.putString(out, ref.key());
            out.putInt(ref.headerBytes()).putInt(ref.slots());
        }
        out.putInt(entries);
        for (int b = 0; b < BLOCKS; b++) {
            long loc = index.get(b);
            if (loc != 0) {
                // ids are 1.. in the order added, so the v1 number is id - 1
                out.putLong(b).putInt(BlockIndex.segmentOf(loc) - 1).putInt(BlockIndex.slotOf(loc))
                        .putInt(BlockIndex.crcOf(loc));
            }
        }
        byte[] v1 = Codec.seal(out);
        BlockIndex back = new BlockIndex(BLOCKS);
        assertThat(Checkpoint.decode("vol", 9, k -> v1, uuid, back)).isEqualTo(1);
        assertSameIndex(back, index);
    }
}
