package io.ublk.blockcache.cache;

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
 * write before it, none after. At most two epochs are alive: the frozen one uploads while the
 * next one fills. A block written in both has two versions, linked newest first.
 *
 * <p>Entering and leaving an epoch is one atomic add each; the table is one slot per block,
 * swapped with a CAS; nothing here takes a lock.
 */
final class DirtyTable {
    private final int blockSize;
    private final int sectors;
    private final AtomicReferenceArray<DirtyBlock> table;
    /** Blocks touched per epoch parity (bit per block), collected by the uploader. */
    private final AtomicLongArray[] touched = new AtomicLongArray[2];
    private final AtomicLongArray active = new AtomicLongArray(16);
    private final AtomicLong[] epochBytes = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong[] epochBlocks = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong[] firstTouch = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong dirtyBytes;
    private volatile long epoch;

    DirtyTable(int blocks, int blockSize, long firstEpoch, AtomicLong dirtyBytes) {
        this.blockSize = blockSize;
        this.sectors = blockSize >>> DirtyBlock.SECTOR_SHIFT;
        this.table = new AtomicReferenceArray<>(blocks);
        this.touched[0] = new AtomicLongArray((blocks + 63) >>> 6);
        this.touched[1] = new AtomicLongArray((blocks + 63) >>> 6);
        this.epoch = firstEpoch;
        this.dirtyBytes = dirtyBytes;
    }

    long epoch() {
        return epoch;
    }

    /** Enters the current epoch; the caller must {@link #leave} it. */
    long enter() {
        while (true) {
            long e = epoch;
            active.getAndIncrement((int) (e & 1) << 3);
            if (epoch == e) {
                return e;
            }
            active.getAndDecrement((int) (e & 1) << 3);
        }
    }

    void leave(long e) {
        active.getAndDecrement((int) (e & 1) << 3);
    }

    /** Starts epoch e+1 and waits until no writer is left in e; answers e. Uploader only. */
    long freeze() {
        long e = epoch;
        epoch = e + 1;
        int slot = (int) (e & 1) << 3;
        while (active.get(slot) != 0) {
            Thread.onSpinWait();
        }
        return e;
    }

    /** Bytes of new data blocks in the current (unfrozen) epoch. */
    long currentBytes() {
        return epochBytes[(int) (epoch & 1)].get();
    }

    long currentBlocks() {
        return epochBlocks[(int) (epoch & 1)].get();
    }

    /** System.nanoTime of the current epoch's first new block, 0 if none. */
    long currentFirstTouch() {
        return firstTouch[(int) (epoch & 1)].get();
    }

    DirtyBlock head(int block) {
        return table.get(block);
    }

    /** Writes {@code src[srcAt, srcAt+n)} (or zeros, if src is null) at byte {@code at} of {@code block}, in epoch {@code e}. */
    void write(long e, int block, int at, int n, MemorySegment src, long srcAt) {
        boolean whole = at == 0 && n == blockSize;
        if (src == null && whole) {
            install(e, block, null);
            return;
        }
        int from = at >>> DirtyBlock.SECTOR_SHIFT;
        int to = (at + n) >>> DirtyBlock.SECTOR_SHIFT;
        while (true) {
            DirtyBlock head = table.get(block);
            if (head != null && head.epoch == e && head.data != null) {
                copyIn(head, at, n, src, srcAt);
                head.markValid(from, to);
                return;
            }
            DirtyBlock older = olderOf(head, e);
            DirtyBlock next = new DirtyBlock(e, new byte[blockSize], sectors, older);
            copyIn(next, at, n, src, srcAt);
            if (head != null && head.epoch == e) {
                // replaces a discarded block of this epoch: the rest of it is zeros, and valid
                next.markFull();
            } else {
                next.markValid(from, to);
            }
            if (table.compareAndSet(block, head, next)) {
                account(e, block, head, blockSize);
                return;
            }
        }
    }

    /** Replaces the block's version of epoch e by {@code data} as a whole (null: zeros). */
    private void install(long e, int block, byte[] data) {
        while (true) {
            DirtyBlock head = table.get(block);
            DirtyBlock next = new DirtyBlock(e, data, sectors, olderOf(head, e));
            if (table.compareAndSet(block, head, next)) {
                account(e, block, head, data == null ? 0 : blockSize);
                return;
            }
        }
    }

    private static DirtyBlock olderOf(DirtyBlock head, long e) {
        if (head == null) {
            return null;
        }
        return head.epoch == e ? head.older : head;
    }

    private void account(long e, int block, DirtyBlock replaced, long bytes) {
        int p = (int) (e & 1);
        long delta = bytes;
        if (replaced != null && replaced.epoch == e) {
            delta -= replaced.data == null ? 0 : blockSize;
        } else {
            epochBlocks[p].incrementAndGet();
            touched[p].accumulateAndGet(block >>> 6, 1L << (block & 63), DirtyBlock::or);
            if (firstTouch[p].get() == 0) {
                firstTouch[p].compareAndSet(0, System.nanoTime());
            }
        }
        if (delta != 0) {
            epochBytes[p].addAndGet(delta);
            dirtyBytes.addAndGet(delta);
        }
    }

    private static void copyIn(DirtyBlock b, int at, int n, MemorySegment src, long srcAt) {
        if (src == null) {
            Arrays.fill(b.data, at, at + n, (byte) 0);
        } else {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcAt, b.data, at, n);
        }
    }

    /** A frozen epoch's blocks, ascending by block number. */
    record Frozen(long epoch, int[] blocks, DirtyBlock[] versions) {
        int count() {
            return blocks.length;
        }
    }

    /** The frozen epoch's blocks; clears its marks. Uploader only. */
    Frozen collect(long e) {
        int p = (int) (e & 1);
        int n = (int) epochBlocks[p].get();
        DirtyBlock[] out = new DirtyBlock[n];
        int[] blocksOut = new int[n];
        int k = 0;
        AtomicLongArray marks = touched[p];
        for (int w = 0; w < marks.length(); w++) {
            long bits = marks.getAndSet(w, 0);
            while (bits != 0) {
                int b = (w << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                DirtyBlock d = table.get(b);
                if (d != null && d.epoch != e) {
                    d = d.older;
                }
                if (d != null && d.epoch == e && k < n) {
                    out[k] = d;
                    blocksOut[k] = b;
                    k++;
                }
            }
        }
        epochBlocks[p].set(0);
        epochBytes[p].set(0);
        firstTouch[p].set(0);
        return k == n ? new Frozen(e, blocksOut, out) : new Frozen(e, Arrays.copyOf(blocksOut, k), Arrays.copyOf(out, k));
    }

    /** Drops the committed version {@code d} of {@code block}; its bytes are in the store now. Uploader only. */
    void release(int block, DirtyBlock d) {
        if (!table.compareAndSet(block, d, null)) {
            DirtyBlock head = table.get(block);
            if (head != null && head.older == d) {
                head.older = null;
            }
        }
        if (d.data != null) {
            dirtyBytes.addAndGet(-blockSize);
        }
    }
}
