package io.ublk.blockcache.cache.dirty;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Blocks written since the last committed generation, by epoch.
 *
 * <p><b>Epochs.</b> Writers work in the current epoch; the uploader freezes it by starting the
 * next one and waiting until every writer that entered the old one has left ({@link #freeze}).
 * From then on the frozen epoch's blocks are an exact image of the device at one instant: every
 * write before it, none after. Frozen epochs upload oldest first; while the store is slow several
 * can wait, each block keeping one version per epoch, linked newest first.
 *
 * <p>Entering and leaving an epoch is one atomic add each; the table is one slot per block,
 * swapped with a CAS; nothing here takes a lock.
 */
public final class DirtyTable {
    /** One epoch's bookkeeping. Journal epochs (lower, number] belong to it (a reopened volume folds its replay into one). */
    public static final class Epoch {
        public final long number;
        public final long lower;
        final AtomicLongArray touched;
        final AtomicLong active = new AtomicLong();
        public final AtomicLong blocks = new AtomicLong();
        public final AtomicLong bytes = new AtomicLong();
        /** Journal bytes of this epoch's records: freed for new writes once the epoch is committed. */
        public final AtomicLong journalBytes = new AtomicLong();
        public final AtomicLong firstTouch = new AtomicLong();

        Epoch(long number, long lower, int blocks) {
            this.number = number;
            this.lower = lower;
            this.touched = new AtomicLongArray((blocks + 63) >>> 6);
        }
    }

    /** A frozen epoch's versions, ascending by block number. */
    public record Frozen(Epoch epoch, int[] blocks, DirtyBlock[] versions) {
        public int count() {
            return blocks.length;
        }

        public long number() {
            return epoch.number;
        }
    }

    private final int blocks;
    private final int blockSize;
    private final int sectors;
    private final AtomicReferenceArray<DirtyBlock> table;
    private final AtomicLong dirtyBytes;
    private final AtomicLong dirtyMemory;
    private final BlockArrays arrays;
    private volatile Epoch current;

    public DirtyTable(int blocks, int blockSize, long firstEpoch, long lowerJournalEpoch, AtomicLong dirtyBytes,
            AtomicLong dirtyMemory, BlockArrays arrays) {
        this.blocks = blocks;
        this.blockSize = blockSize;
        this.sectors = blockSize >>> DirtyBlock.SECTOR_SHIFT;
        this.table = new AtomicReferenceArray<>(blocks);
        this.current = new Epoch(firstEpoch, lowerJournalEpoch, blocks);
        this.dirtyBytes = dirtyBytes;
        this.dirtyMemory = dirtyMemory;
        this.arrays = arrays;
    }

    public long epoch() {
        return current.number;
    }

    public Epoch current() {
        return current;
    }

    /** Enters the current epoch; the caller must {@link #leave} it. */
    public Epoch enter() {
        while (true) {
            Epoch e = current;
            e.active.getAndIncrement();
            if (current == e) {
                return e;
            }
            e.active.getAndDecrement();
        }
    }

    public void leave(Epoch e) {
        e.active.getAndDecrement();
    }

    /** Starts the next epoch, waits until no writer is left in this one, and answers its versions. Uploader only. */
    public Frozen freeze() {
        Epoch e = current;
        current = new Epoch(e.number + 1, e.number, blocks);
        while (e.active.get() != 0) {
            Thread.onSpinWait();
        }
        return collect(e);
    }

    public DirtyBlock head(int block) {
        return table.get(block);
    }

    /** Writes {@code src[srcAt, srcAt+n)} (or zeros, if src is null) at byte {@code at} of {@code block}, in epoch {@code e}. */
    public void write(Epoch e, int block, int at, int n, MemorySegment src, long srcAt) {
        boolean whole = at == 0 && n == blockSize;
        if (src == null && whole) {
            install(e, block);
            return;
        }
        int from = at >>> DirtyBlock.SECTOR_SHIFT;
        int to = (at + n) >>> DirtyBlock.SECTOR_SHIFT;
        while (true) {
            DirtyBlock head = table.get(block);
            if (head != null && head.epoch == e.number && !head.zero) {
                copyIn(head.data, at, n, src, srcAt);
                head.markValid(from, to, sectors);
                return;
            }
            // a reused array holds old bytes: only the sectors marked valid are ever read
            DirtyBlock next = new DirtyBlock(e.number, arrays.take(), sectors, olderOf(head, e));
            if (head != null && head.epoch == e.number) {
                // replaces a zeroed block of this epoch: the rest of it is zeros, and valid
                Arrays.fill(next.data, (byte) 0);
                copyIn(next.data, at, n, src, srcAt);
                next.markFull();
            } else {
                copyIn(next.data, at, n, src, srcAt);
                next.markValid(from, to, sectors);
            }
            if (table.compareAndSet(block, head, next)) {
                account(e, block, head, blockSize);
                return;
            }
            arrays.retire(next.data); // never linked: nobody reads it
        }
    }

    /** Replaces the block's version of epoch e by a zero version. */
    private void install(Epoch e, int block) {
        while (true) {
            DirtyBlock head = table.get(block);
            DirtyBlock next = new DirtyBlock(e.number, null, sectors, olderOf(head, e));
            if (table.compareAndSet(block, head, next)) {
                account(e, block, head, 0);
                return;
            }
        }
    }

    private static DirtyBlock olderOf(DirtyBlock head, Epoch e) {
        if (head == null) {
            return null;
        }
        return head.epoch == e.number ? head.older : head;
    }

    private void account(Epoch e, int block, DirtyBlock replaced, long bytes) {
        long delta = bytes;
        if (replaced != null && replaced.epoch == e.number) {
            delta -= replaced.zero ? 0 : blockSize;
        } else {
            e.blocks.incrementAndGet();
            e.touched.accumulateAndGet(block >>> 6, 1L << (block & 63), DirtyBlock::or);
            if (e.firstTouch.get() == 0) {
                e.firstTouch.compareAndSet(0, System.nanoTime());
            }
        }
        if (delta != 0) {
            e.bytes.addAndGet(delta);
            dirtyBytes.addAndGet(delta);
            dirtyMemory.addAndGet(delta);
        }
    }

    private static void copyIn(byte[] data, int at, int n, MemorySegment src, long srcAt) {
        if (src == null) {
            Arrays.fill(data, at, at + n, (byte) 0);
        } else {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcAt, data, at, n);
        }
    }

    private Frozen collect(Epoch e) {
        int n = (int) e.blocks.get();
        DirtyBlock[] out = new DirtyBlock[n];
        int[] blocksOut = new int[n];
        int k = 0;
        AtomicLongArray marks = e.touched;
        for (int w = 0; w < marks.length(); w++) {
            long bits = marks.get(w);
            while (bits != 0) {
                int b = (w << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                DirtyBlock d = table.get(b);
                while (d != null && d.epoch > e.number) {
                    d = d.older;
                }
                if (d != null && d.epoch == e.number && k < n) {
                    out[k] = d;
                    blocksOut[k] = b;
                    k++;
                }
            }
        }
        return k == n ? new Frozen(e, blocksOut, out) : new Frozen(e, Arrays.copyOf(blocksOut, k), Arrays.copyOf(out, k));
    }

    /**
     * Installs the replayed version of {@code block} in epoch {@code e}, made of the journal
     * records that wrote it ({@code pieces}, oldest first): read into memory if {@code inMemory},
     * else spilled. At open only, before writers, readers and the uploader, into a table that
     * holds no version of the block; the epoch must be frozen before writes come, since no writer
     * may meet a spilled version. A block the pieces leave all zeros becomes a zero version.
     */
    public void replayed(Epoch e, int block, DirtyBlock.Piece[] pieces, boolean inMemory) throws java.io.IOException {
        if (table.get(block) != null) {
            throw new IllegalStateException("block " + block + " has a version already");
        }
        if (allZeros(pieces)) {
            install(e, block);
            return;
        }
        DirtyBlock d = DirtyBlock.replayed(e.number, pieces, inMemory ? arrays.take() : null, sectors);
        table.set(block, d);
        account(e, block, null, blockSize);
        if (!inMemory) {
            spilled(d);
        }
    }

    /** True if the pieces zero the whole block and write nothing over it. */
    private boolean allZeros(DirtyBlock.Piece[] pieces) {
        if (pieces[0].file() != null || pieces[0].at() != 0 || pieces[0].len() != blockSize) {
            return false;
        }
        for (DirtyBlock.Piece p : pieces) {
            if (p.file() != null) {
                return false;
            }
        }
        return true;
    }

    /** Drops a spilled version's bytes from the count of memory held. Uploader only. */
    public void spilled(DirtyBlock d) {
        dirtyMemory.addAndGet(-blockSize);
    }

    /** Drops the committed version {@code d}, the oldest of its block; its bytes are in the store now. Uploader only. */
    public void release(int block, DirtyBlock d) {
        while (true) {
            DirtyBlock head = table.get(block);
            if (head == d) {
                if (table.compareAndSet(block, d, null)) {
                    break;
                }
                continue;
            }
            DirtyBlock v = head;
            while (v != null && v.older != d) {
                v = v.older;
            }
            if (v != null) {
                v.older = null;
            }
            break;
        }
        if (!d.zero) {
            dirtyBytes.addAndGet(-blockSize);
            if (!d.spilled()) {
                dirtyMemory.addAndGet(-blockSize);
            }
        }
    }
}
