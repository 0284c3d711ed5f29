package io.ublk.blockcache.cache.dirty;

import io.ublk.blockcache.cache.journal.JournalFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One block's writes of one epoch, not yet in the store. Sub-block writes mark the 512-byte
 * sectors they filled; the rest of the block comes from older versions (earlier frozen epochs,
 * then the store) when read, and is merged in by the uploader before the block is uploaded.
 *
 * <p>A version is one of: <b>zero</b> (the whole block was discarded or zeroed: reads as zeros,
 * uploads as a ZERO entry, costs no memory); <b>in memory</b> ({@link #data} holds the bytes);
 * or <b>spilled</b> (the uploader dropped the bytes to bound memory: they are read back from the
 * journal records, {@link #pieces}, that wrote them). Only frozen versions are spilled, so no
 * writer ever writes into a spilled version.
 */
public final class DirtyBlock {
    public static final int SECTOR_SHIFT = 9;

    /**
     * Where part of a spilled version is: {@code len} bytes at {@code dataPos} of {@code file}
     * (null: zeros) land at {@code at} of the block. {@code crc}: their CRC32C when known without
     * reading them (a piece that is a whole journal record), else -1.
     */
    public record Piece(JournalFile file, long dataPos, int at, int len, long crc) {}

    final long epoch;
    public final boolean zero;
    /** The bytes while in memory; null once spilled (or for a zero version). */
    public volatile byte[] data;
    /** Where the bytes are in the journal once spilled; set before {@link #data} is dropped. */
    volatile Piece[] pieces;
    private final AtomicLongArray valid;
    private volatile boolean full;
    /** The previous epoch's version of the same block while it waits to upload; cut once it committed. */
    public volatile DirtyBlock older;

    /** A version with data (zero-filled {@code data}, nothing valid yet), or a zero version if {@code data} is null. */
    DirtyBlock(long epoch, byte[] data, int sectors, DirtyBlock older) {
        this(epoch, data == null, data, sectors, older);
    }

    private DirtyBlock(long epoch, boolean zero, byte[] data, int sectors, DirtyBlock older) {
        this.epoch = epoch;
        this.data = data;
        this.zero = zero;
        this.older = older;
        this.valid = zero ? null : new AtomicLongArray((sectors + 63) >>> 6);
        this.full = zero;
    }

    /**
     * A version rebuilt at open from the journal records that wrote it ({@code pieces}, oldest
     * first): read back into {@code data}, or spilled (left in the journal) if {@code data} is null.
     */
    static DirtyBlock replayed(long epoch, Piece[] pieces, byte[] data, int sectors) throws IOException {
        DirtyBlock d = new DirtyBlock(epoch, false, data, sectors, null);
        for (Piece p : pieces) {
            d.markValid(p.at() >>> SECTOR_SHIFT, (p.at() + p.len()) >>> SECTOR_SHIFT, sectors);
        }
        if (data == null) {
            d.pieces = pieces;
            return d;
        }
        MemorySegment dst = MemorySegment.ofArray(data);
        for (Piece p : pieces) {
            if (p.file() == null) {
                Arrays.fill(data, p.at(), p.at() + p.len(), (byte) 0);
            } else {
                p.file().read(dst, p.at(), p.len(), p.dataPos());
            }
        }
        return d;
    }

    public boolean full() {
        return full;
    }

    public boolean spilled() {
        return pieces != null;
    }

    /** Marks sectors [from, to) as holding this epoch's bytes. */
    void markValid(int from, int to, int sectors) {
        if (full) {
            return;
        }
        if (from == 0 && to == sectors) {
            full = true;
            return;
        }
        for (int s = from; s < to; ) {
            int word = s >>> 6;
            int end = Math.min(to, (word + 1) << 6);
            valid.accumulateAndGet(word, rangeBits(s & 63, end - (word << 6)), DirtyBlock::or);
            s = end;
        }
        if (covers(0, sectors)) {
            full = true;
        }
    }

    /** Every sector is this version's (a write over a zero version, or after the uploader's merge). */
    void markFull() {
        full = true;
    }

    boolean isValid(int sector) {
        return full || (valid.get(sector >>> 6) & (1L << (sector & 63))) != 0;
    }

    /** True if sectors [from, to) are all this epoch's. */
    public boolean covers(int from, int to) {
        if (full) {
            return true;
        }
        for (int s = from; s < to; ) {
            int word = s >>> 6;
            int end = Math.min(to, (word + 1) << 6);
            long bits = rangeBits(s & 63, end - (word << 6));
            if ((valid.get(word) & bits) != bits) {
                return false;
            }
            s = end;
        }
        return true;
    }

    static long or(long a, long b) {
        return a | b;
    }

    /** Bits [from, to) of a word, 0 <= from < to <= 64. */
    private static long rangeBits(int from, int to) {
        long hi = to == 64 ? -1L : (1L << to) - 1;
        return hi & ~((1L << from) - 1);
    }

    /** Copies this version's sectors within block bytes [at, at+n) over dst, leaving the others as they are. */
    public void overlay(int at, int n, MemorySegment dst, long dstAt) {
        if (zero) {
            io.ublk.blockcache.Zeros.fill(dst, dstAt, n);
            return;
        }
        byte[] bytes = data;
        if (bytes == null) {
            overlayPieces(at, n, dst, dstAt);
            return;
        }
        if (full) {
            MemorySegment.copy(bytes, at, dst, ValueLayout.JAVA_BYTE, dstAt, n);
            return;
        }
        int end = at + n;
        int s = at >>> SECTOR_SHIFT;
        int last = (end + 511) >>> SECTOR_SHIFT;
        while (s < last) {
            if (!isValid(s)) {
                s++;
                continue;
            }
            int runEnd = s + 1;
            while (runEnd < last && isValid(runEnd)) {
                runEnd++;
            }
            int from = Math.max(at, s << SECTOR_SHIFT);
            int to = Math.min(end, runEnd << SECTOR_SHIFT);
            MemorySegment.copy(bytes, from, dst, ValueLayout.JAVA_BYTE, dstAt + (from - at), to - from);
            s = runEnd;
        }
    }

    /** A spilled version: replays its records over dst, oldest first (slow path: reads the journal). */
    private void overlayPieces(int at, int n, MemorySegment dst, long dstAt) {
        int end = at + n;
        for (Piece p : pieces) {
            int from = Math.max(at, p.at());
            int to = Math.min(end, p.at() + p.len());
            if (from >= to) {
                continue;
            }
            if (p.file() == null) {
                io.ublk.blockcache.Zeros.fill(dst, dstAt + (from - at), to - from);
            } else {
                try {
                    p.file().read(dst, dstAt + (from - at), to - from, p.dataPos() + (from - p.at()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /**
     * Writes the whole block as this version leaves it into {@code dst[at, at+blockSize)}: its own
     * sectors over {@code base} (null: zeros; not read when the version is full). For the
     * uploader: a spilled version is read back from the journal here, straight into dst.
     */
    public void mergeInto(byte[] base, MemorySegment dst, long at, int blockSize) {
        if (!full) {
            if (base == null) {
                io.ublk.blockcache.Zeros.fill(dst, at, blockSize);
            } else {
                MemorySegment.copy(base, 0, dst, ValueLayout.JAVA_BYTE, at, blockSize);
            }
        }
        overlay(0, blockSize, dst, at);
    }

    /**
     * The one journal record piece that holds this spilled version's whole block (its bytes are
     * that piece's, whatever came before), or null: in memory, zero, or made of several pieces.
     */
    public Piece wholePiece(int blockSize) {
        Piece[] p = pieces;
        if (zero || data != null || p == null || p.length == 0) {
            return null;
        }
        Piece last = p[p.length - 1];
        return last.file() != null && last.at() == 0 && last.len() == blockSize ? last : null;
    }

    /**
     * Drops the bytes; {@code pieces} must say where they are. Uploader only, frozen versions
     * only. Answers the array it held, for {@link BlockArrays#retire}.
     */
    public byte[] spill(Piece[] pieces) {
        byte[] old = data;
        this.pieces = Arrays.copyOf(pieces, pieces.length);
        this.data = null;
        return old;
    }
}
