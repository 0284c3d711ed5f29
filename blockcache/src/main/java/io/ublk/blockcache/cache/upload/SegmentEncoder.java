package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.format.Codec;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.SegmentHeader;
import io.ublk.blockcache.cache.journal.JournalViews;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Packs the blocks of one upload into segment objects: {@link #plan} decides which input goes
 * into which segment (data in input order, runs of zeroed blocks in the first segment), and
 * {@link #encode} makes one segment's bytes, header first, each payload checksummed.
 *
 * <p>Both are pure functions of their inputs (the key nonce included), so the same inputs make
 * the same objects byte for byte.
 */
final class SegmentEncoder {
    private final String volume;
    private final UUID uuid;
    private final int blockSize;
    private final int slotsPerSegment;

    SegmentEncoder(String volume, UUID uuid, int blockSize, int slotsPerSegment) {
        this.volume = volume;
        this.uuid = uuid;
        this.blockSize = blockSize;
        this.slotsPerSegment = slotsPerSegment;
    }

    /** One segment to write: which inputs it carries; its header once encoded. */
    static final class Plan {
        final String key;
        /** Inputs with data, shared by all plans of an upload; this plan's are [{@link #from}, {@link #to}). */
        private final int[] withData;
        private final int from;
        private final int to;
        private final List<long[]> zeros;
        /** For each header entry, the index into the inputs it came from (-1 for a zero run). */
        int[] source;
        /** Blocks {@link #encode} left in the journal (sent from a mapping of it). */
        int fromJournal;
        SegmentHeader header;

        private Plan(String key, int[] withData, int from, int to, List<long[]> zeros) {
            this.key = key;
            this.withData = withData;
            this.from = from;
            this.to = to;
            this.zeros = zeros;
        }

        /** The object's size for blocks of {@code bs} bytes. */
        long size(int bs) {
            int data = to - from;
            return SegmentHeader.headerBytes(zeros.size() + data) + (long) data * bs;
        }
    }

    /** Which blocks go into which segment of generation {@code gen}; {@code nonce} goes into every key. */
    List<Plan> plan(int[] blocks, BlockSource source, long gen, int nonce) {
        List<long[]> zeroRuns = new ArrayList<>();
        int[] withData = new int[blocks.length];
        int data = 0;
        for (int i = 0; i < blocks.length; i++) {
            int b = blocks[i];
            if (source.zero(i)) {
                long[] last = zeroRuns.isEmpty() ? null : zeroRuns.get(zeroRuns.size() - 1);
                if (last != null && last[0] + last[1] == b && last[1] < Integer.MAX_VALUE) {
                    last[1]++;
                } else {
                    zeroRuns.add(new long[] {b, 1});
                }
            } else {
                withData[data++] = i;
            }
        }
        List<Plan> plans = new ArrayList<>();
        int n = 0;
        int at = 0;
        do {
            int count = Math.min(slotsPerSegment, data - at);
            plans.add(new Plan(Keys.segment(volume, gen, nonce, n), withData, at, at + count,
                    n == 0 ? zeroRuns : List.of()));
            at += count;
            n++;
        } while (at < data);
        return plans;
    }

    /**
     * Makes plan {@code p}'s object: the header, then each block, checksummed. A block whose bytes
     * are one whole journal record piece is sent from a mapping of the journal ({@code views}); the
     * others are merged (or read back) into {@code body}, after the header, in slot order. Answers
     * the object's bytes in order: runs of {@code body}, and journal slices.
     */
    List<ByteBuffer> encode(Plan p, long gen, int[] blockNos, BlockSource in, MemorySegment body, JournalViews views) {
        int bs = blockSize;
        int count = p.zeros.size() + p.to - p.from;
        long[] blocks = new long[count];
        int[] kinds = new int[count];
        int[] args = new int[count];
        int[] crcs = new int[count];
        int[] source = new int[count];
        int e = 0;
        for (long[] run : p.zeros) {
            blocks[e] = run[0];
            kinds[e] = SegmentHeader.ZERO;
            args[e] = (int) run[1];
            source[e] = -1;
            e++;
        }
        int headerBytes = SegmentHeader.headerBytes(count);
        List<ByteBuffer> parts = new ArrayList<>();
        long runStart = 0; // the run of body bytes not yet in parts, header included
        long fill = headerBytes;
        int slot = 0;
        int fromJournal = 0;
        for (int k = p.from; k < p.to; k++) {
            in.prepare(p.withData[k]); // this segment's store reads, all under way at once
        }
        for (int k = p.from; k < p.to; k++) {
            int i = p.withData[k];
            DirtyBlock.Piece whole = in.whole(i);
            if (whole != null) {
                MemorySegment m = views.slice(whole.file(), whole.dataPos(), bs);
                // the journal's checksum travels on: the uploader need not touch the bytes at all
                crcs[e] = whole.crc() >= 0 ? (int) whole.crc() : Codec.crc32c(m, 0, bs);
                if (fill > runStart) {
                    parts.add(body.asSlice(runStart, fill - runStart).asByteBuffer());
                }
                parts.add(m.asByteBuffer());
                runStart = fill;
                fromJournal++;
            } else {
                in.copy(i, body, fill);
                crcs[e] = Codec.crc32c(body, fill, bs);
                fill += bs;
            }
            blocks[e] = blockNos[i];
            kinds[e] = SegmentHeader.DATA;
            args[e] = slot++;
            source[e] = i;
            e++;
        }
        if (fill > runStart) {
            parts.add(body.asSlice(runStart, fill - runStart).asByteBuffer());
        }
        SegmentHeader header = new SegmentHeader(uuid, gen, blocks, kinds, args, crcs);
        byte[] encoded = header.encode();
        MemorySegment.copy(encoded, 0, body, ValueLayout.JAVA_BYTE, 0, encoded.length);
        p.source = source;
        p.fromJournal = fromJournal;
        p.header = header;
        return parts;
    }
}
