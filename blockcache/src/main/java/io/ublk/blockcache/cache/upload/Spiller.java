package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.DirtyBlock;
import io.ublk.blockcache.cache.dirty.DirtyTable;
import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.journal.JournalFile;
import io.ublk.blockcache.cache.journal.JournalRecord;
import io.ublk.blockcache.cache.journal.JournalScan;
import io.ublk.blockcache.cache.volume.Volume;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps dirty memory bounded while rounds wait: drops the bytes of the newest waiting epoch that
 * still holds some (they are in the journal already) and remembers, per block, which journal
 * records hold them, so reads and the upload read them back. Newest first, because the oldest
 * epoch is the next to go up and would be read straight back. Uploader thread only.
 */
final class Spiller {
    private static final Logger LOG = LoggerFactory.getLogger(Spiller.class);

    private final Volume volume;
    private final DirtyTable dirty;
    private final Journal journal;
    private final BlockArrays arrays;
    private final CacheStats stats;
    private final CacheConfig config;
    /** Epochs of the backlog whose bytes are in the journal only. */
    private final Set<Long> spilled = new HashSet<>();

    Spiller(Volume volume, DirtyTable dirty, Journal journal, BlockArrays arrays, CacheStats stats, CacheConfig config) {
        this.volume = volume;
        this.dirty = dirty;
        this.journal = journal;
        this.arrays = arrays;
        this.stats = stats;
        this.config = config;
    }

    /**
     * Spills the newest epoch of {@code backlog} that still holds bytes, freezing the current one
     * into it first if no waiting epoch does and there is room ({@code maxBacklog}). Answers
     * whether it spilled one.
     *
     * @throws IOException the journal could not be scanned: the epoch keeps its bytes in memory
     */
    boolean spillNewest(ArrayDeque<DirtyTable.Frozen> backlog, int maxBacklog) throws IOException {
        DirtyTable.Frozen victim = null;
        for (var it = backlog.descendingIterator(); it.hasNext(); ) {
            DirtyTable.Frozen f = it.next();
            if (!spilled.contains(f.number()) && f != backlog.peekFirst()) {
                victim = f;
                break;
            }
        }
        if (victim == null && backlog.size() < maxBacklog && dirty.current().bytes.get() > 0) {
            victim = dirty.freeze();
            backlog.add(victim);
        }
        if (victim == null) {
            // only the epoch uploading now holds memory: it goes as soon as the store takes it
            DirtyTable.Frozen head = backlog.peekFirst();
            if (head == null || spilled.contains(head.number())) {
                return false;
            }
            victim = head;
        }
        try {
            spill(victim);
        } catch (IOException e) {
            throw new IOException("epoch " + victim.number() + ": " + e.getMessage(), e);
        }
        spilled.add(victim.number());
        return true;
    }

    /** Forgets a committed epoch. */
    void committed(long epoch) {
        spilled.remove(epoch);
    }

    private void spill(DirtyTable.Frozen f) throws IOException {
        int bs = volume.blockSize();
        Map<Integer, List<DirtyBlock.Piece>> pieces = new HashMap<>();
        for (JournalScan.Located l : journal.scan(f.epoch().lower, f.number())) {
            JournalRecord r = l.record();
            long pos = r.offset();
            long end = r.offset() + r.length();
            while (pos < end) {
                int block = (int) (pos / bs);
                int at = (int) (pos % bs);
                int len = (int) Math.min(bs - at, end - pos);
                JournalFile file = r.type() == JournalRecord.WRITE ? l.file() : null;
                long dataPos = file == null ? 0 : l.dataPos() + (pos - r.offset());
                // a piece that is the record's whole data has its CRC in the record already
                long crc = file != null && len == r.length() ? l.dataCrc() & 0xFFFF_FFFFL : -1;
                pieces.computeIfAbsent(block, b -> new ArrayList<>()).add(new DirtyBlock.Piece(file, dataPos, at, len, crc));
                pos += len;
            }
        }
        int count = 0;
        for (int i = 0; i < f.count(); i++) {
            DirtyBlock d = f.versions()[i];
            if (d.zero || d.spilled()) {
                continue;
            }
            List<DirtyBlock.Piece> p = pieces.get(f.blocks()[i]);
            if (p == null) {
                throw new IOException("no journal record of epoch " + f.number() + " for block " + f.blocks()[i]);
            }
            arrays.retire(d.spill(p.toArray(DirtyBlock.Piece[]::new)));
            dirty.spilled(d);
            count++;
        }
        stats.spilledBlocks.add(count);
        LOG.debug("volume '{}': dirty memory over {} bytes: epoch {} keeps its {} blocks in the journal only",
                volume.name, config.dirtyMemoryBytes(), f.number(), count);
    }
}
