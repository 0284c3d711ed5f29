package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.journal.JournalFile;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalScan;
import io.ublk.blockcache.cache.volume.BlockIndex;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Folds the records a journal replay found into one epoch of the dirty table, holding no more
 * block bytes in heap than the dirty-memory budget.
 *
 * <p>First, from the record headers alone, each block gets the list of journal pieces that wrote
 * it, in sequence order (the newest write of a sector is the last piece over it; a piece over the
 * whole block makes the ones before it dead, so they are dropped). Then, in block order, blocks
 * are read back into memory while the budget lasts; the rest stay spilled, their bytes in the
 * journal, as {@code upload/Spiller} leaves an epoch, and are read back or sent to the store from
 * there. No record's data is ever copied whole: a block's bytes go straight into its array.
 */
final class Replayer {
    /** What was folded in: for the open's log line. */
    record Outcome(int records, long dataBytes, int blocks, int spilled) {}

    private Replayer() {}

    /** Applies {@code records} (sequence order) in epoch {@code e} of {@code dirty}, which holds nothing yet. */
    static Outcome apply(List<JournalScan.Located> records, DirtyTable dirty, DirtyTable.Epoch e, BlockIndex index,
            int blockSize, long memoryBudget) throws IOException {
        Map<Integer, List<DirtyBlock.Piece>> blocks = new HashMap<>();
        long dataBytes = 0;
        for (JournalScan.Located l : records) {
            JournalRecord r = l.record();
            dataBytes += r.dataBytes();
            JournalFile file = r.type() == JournalRecord.WRITE ? l.file() : null;
            long pos = r.offset();
            long end = r.offset() + r.length();
            while (pos < end) {
                int block = (int) (pos / blockSize);
                int at = (int) (pos % blockSize);
                int len = (int) Math.min(blockSize - at, end - pos);
                List<DirtyBlock.Piece> pieces = blocks.get(block);
                if (file == null && pieces == null && index.get(block) == 0) {
                    // already zeros and nothing older in flight: nothing to record for the store (as a write does)
                } else {
                    if (pieces == null) {
                        pieces = new ArrayList<>(1);
                        blocks.put(block, pieces);
                    } else if (at == 0 && len == blockSize) {
                        pieces.clear();
                    }
                    long dataPos = file == null ? 0 : l.dataPos() + (pos - r.offset());
                    // a piece that is the record's whole data has its CRC in the record already
                    long crc = file != null && len == r.length() ? l.dataCrc() & 0xFFFF_FFFFL : -1;
                    pieces.add(new DirtyBlock.Piece(file, dataPos, at, len, crc));
                }
                pos += len;
            }
        }
        long room = memoryBudget / blockSize;
        int spilled = 0;
        for (int block : blocks.keySet().stream().sorted().toList()) {
            boolean inMemory = room > 0;
            dirty.replayed(e, block, blocks.remove(block).toArray(DirtyBlock.Piece[]::new), inMemory);
            DirtyBlock d = dirty.head(block);
            if (d.zero) {
                continue;
            }
            if (inMemory) {
                room--;
            } else {
                spilled++;
            }
        }
        return new Outcome(records.size(), dataBytes, (int) e.blocks.get(), spilled);
    }
}
