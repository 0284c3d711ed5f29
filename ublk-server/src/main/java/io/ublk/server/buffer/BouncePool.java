package io.ublk.server.buffer;

import io.ublk.headers.Libc;
import io.ublk.headers.Mman;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One worker's USER_COPY bounce memory: {@code slotCount} fixed-size slots in a single anonymous
 * mapping, handed out per request and returned after the commit.
 *
 * <p><b>Why a pool.</b> With USER_COPY a tag needs bounce memory only while its data moves, not
 * while it is armed. Taking a slot on demand bounds the worker's bounce RSS by
 * {@code slotCount × slotSize}, however many devices and tags it serves. The bound is hard: an
 * empty pool never falls back to an allocation; the request queues instead and the worker's
 * throughput degrades rather than its memory growing.
 *
 * <p><b>Free slots</b> are a LIFO stack of indices, so the slot released last (still warm in the
 * cache and TLB) is the next one out. <b>Waiting requests</b> are a FIFO ring of tokens with
 * their {@link SlotWaiter}; {@link #release} hands the slot straight to the oldest waiter, so it
 * never passes through the free stack and no later request can overtake one that queued first.
 * Hence: while anyone waits, the free stack is empty.
 *
 * <p><b>Threads.</b> One owner thread calls everything except {@link #stats()}: no locks, no
 * atomics on the free stack or the ring. The counters are plain fields the owner writes with
 * opaque stores, so another thread may read them for metrics (opaque loads: no tearing, no
 * ordering it does not need). Slot views are sliced once here; acquiring allocates nothing.
 *
 * <p><b>Placement.</b> The mapping is {@code MAP_NORESERVE} and starts with no pages. The worker
 * calls {@link #prefault()} after pinning itself to its CPU, so Linux's default first-touch
 * policy puts every page on that CPU's NUMA node, and the first I/Os do not pay page faults.
 */
public final class BouncePool implements AutoCloseable {
    /** The stride of {@link #prefault()}: the smallest page size Linux uses for anonymous memory. */
    private static final int PAGE_SIZE = 4096;
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle ACQUIRES;
    private static final VarHandle BACKPRESSURE_WAITS;
    private static final VarHandle IN_USE;
    private static final VarHandle PEAK_IN_USE;
    private static final VarHandle WAITING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ACQUIRES = lookup.findVarHandle(BouncePool.class, "acquires", long.class);
            BACKPRESSURE_WAITS = lookup.findVarHandle(BouncePool.class, "backpressureWaits", long.class);
            IN_USE = lookup.findVarHandle(BouncePool.class, "inUse", int.class);
            PEAK_IN_USE = lookup.findVarHandle(BouncePool.class, "peakInUse", int.class);
            WAITING = lookup.findVarHandle(BouncePool.class, "waiting", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int slotCount;
    private final int slotSize;
    private final long poolBytes;
    private final long base;
    /** Scopes the slot views: after {@link #close()} they throw instead of touching unmapped memory. */
    private final Arena arena;
    private final MemorySegment region;
    private final MemorySegment[] slots;

    /** Free slot indices; {@code freeTop} of them, the top at {@code freeTop - 1}. */
    private final int[] freeStack;
    private int freeTop;
    /** Which slots are out, to reject a release of a slot nobody holds. */
    private final boolean[] held;

    /** Waiter ring: power-of-two arrays, free-running head/tail, at most {@code waiterCapacity} used. */
    private final int waiterCapacity;
    private final int waiterMask;
    private final long[] waiterTokens;
    private final SlotWaiter[] waiterCallbacks;
    private long waiterHead;
    private long waiterTail;

    // Written by the owner only (opaque), read by anyone through stats().
    private long acquires;
    private long backpressureWaits;
    private int inUse;
    private int peakInUse;
    private int waiting;

    private boolean closed;

    /**
     * Maps the pool; no page is touched until {@link #prefault()} or the first I/O.
     *
     * @param slotCount slots in the pool, > 0
     * @param slotSize bytes per slot, a power of two and at least 4096
     * @param waiterCapacity the most requests that can ever wait at once (e.g. the worker's
     *     total tags), >= 0; exceeding it is a bug and throws
     * @throws NativeException if the mapping fails
     */
    public BouncePool(int slotCount, int slotSize, int waiterCapacity) {
        if (slotCount <= 0) {
            throw new IllegalArgumentException("slot count must be > 0: " + slotCount);
        }
        if (slotSize < PAGE_SIZE || Integer.bitCount(slotSize) != 1) {
            throw new IllegalArgumentException("slot size must be a power of two >= " + PAGE_SIZE + ": " + slotSize);
        }
        if (waiterCapacity < 0 || waiterCapacity > 1 << 30) {
            throw new IllegalArgumentException("waiter capacity must be in [0, 2^30]: " + waiterCapacity);
        }
        this.slotCount = slotCount;
        this.slotSize = slotSize;
        this.poolBytes = (long) slotCount * slotSize;
        long addr = Libc.mmap(0, poolBytes, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_NORESERVE, -1, 0);
        NativeException.check(addr, "mmap", "bounce pool of " + slotCount + " x " + slotSize + " bytes");
        this.base = addr;
        this.arena = Arena.ofShared();
        this.region = MemorySegment.ofAddress(addr).reinterpret(poolBytes, arena, null);
        this.slots = new MemorySegment[slotCount];
        this.freeStack = new int[slotCount];
        for (int i = 0; i < slotCount; i++) {
            slots[i] = region.asSlice((long) i * slotSize, slotSize);
            // Slot 0 on top: a fresh pool hands out slots in address order.
            freeStack[i] = slotCount - 1 - i;
        }
        this.freeTop = slotCount;
        this.held = new boolean[slotCount];
        this.waiterCapacity = waiterCapacity;
        int ringSize = waiterCapacity <= 1 ? 1 : Integer.highestOneBit(waiterCapacity - 1) << 1;
        this.waiterMask = ringSize - 1;
        this.waiterTokens = new long[ringSize];
        this.waiterCallbacks = new SlotWaiter[ringSize];
    }

    /** Slots in the pool. */
    public int slotCount() {
        return slotCount;
    }

    /** Bytes per slot. */
    public int slotSize() {
        return slotSize;
    }

    /** The view of slot {@code index}: {@link #slotSize()} bytes, the same object every call. */
    public MemorySegment slot(int index) {
        checkIndex(index);
        return slots[index];
    }

    /**
     * Faults in every page of the pool, one write per 4096 bytes. Call it on the owner thread
     * after the thread pinned itself: first touch places each page on the NUMA node of the CPU
     * that wrote it. The stores are volatile so the JIT cannot drop them as writes of a zero that
     * is already there; a write to an untouched anonymous page always allocates it.
     */
    public void prefault() {
        checkOpen();
        for (long off = 0; off < poolBytes; off += PAGE_SIZE) {
            BYTE.setVolatile(region, off, (byte) 0);
        }
    }

    /** A free slot's index, or -1 when every slot is held (or handed to a waiter). */
    public int tryAcquire() {
        if (freeTop == 0) {
            return -1;
        }
        int slot = freeStack[--freeTop];
        held[slot] = true;
        granted();
        int now = inUse + 1;
        IN_USE.setOpaque(this, now);
        if (now > peakInUse) {
            PEAK_IN_USE.setOpaque(this, now);
        }
        return slot;
    }

    /**
     * A free slot's index; or -1 after queueing {@code token}, in which case {@code waiter} is
     * called with the token and a slot once one is released to this request, after every request
     * that queued before it got one.
     *
     * @throws IllegalStateException if more requests wait than the capacity given at construction
     */
    public int acquire(long token, SlotWaiter waiter) {
        int slot = tryAcquire();
        if (slot >= 0) {
            return slot;
        }
        if (waiter == null) {
            throw new IllegalArgumentException("slot waiter must not be null (token " + token + ")");
        }
        if (waiterTail - waiterHead == waiterCapacity) {
            throw new IllegalStateException("more requests wait for a bounce slot than the waiter capacity "
                    + waiterCapacity + " allows (token " + token + ")");
        }
        int at = (int) waiterTail & waiterMask;
        waiterTokens[at] = token;
        waiterCallbacks[at] = waiter;
        waiterTail++;
        WAITING.setOpaque(this, waiting + 1);
        BACKPRESSURE_WAITS.setOpaque(this, backpressureWaits + 1);
        return -1;
    }

    /**
     * Returns a held slot: to the oldest waiting request if there is one (its {@link SlotWaiter}
     * runs before this returns), else to the top of the free stack.
     *
     * @throws IllegalArgumentException if {@code slot} is not a slot index
     * @throws IllegalStateException if the slot is not held (a double release)
     */
    public void release(int slot) {
        checkIndex(slot);
        if (!held[slot]) {
            throw new IllegalStateException("bounce slot must be held to be released (double release?): " + slot);
        }
        if (waiterHead != waiterTail) {
            int at = (int) waiterHead & waiterMask;
            long token = waiterTokens[at];
            SlotWaiter waiter = waiterCallbacks[at];
            waiterCallbacks[at] = null;
            waiterHead++;
            WAITING.setOpaque(this, waiting - 1);
            granted();
            // The pool is consistent here, so the waiter may acquire or release from inside.
            waiter.slotReady(token, slot);
            return;
        }
        held[slot] = false;
        freeStack[freeTop++] = slot;
        IN_USE.setOpaque(this, inUse - 1);
    }

    /** The counters now; safe from any thread. */
    public BouncePoolStats stats() {
        return new BouncePoolStats(slotCount, slotSize,
                (long) ACQUIRES.getOpaque(this),
                (long) BACKPRESSURE_WAITS.getOpaque(this),
                (int) IN_USE.getOpaque(this),
                (int) PEAK_IN_USE.getOpaque(this),
                (int) WAITING.getOpaque(this));
    }

    /**
     * Unmaps the pool; slot views throw {@link IllegalStateException} afterwards. Idempotent.
     * Call it on the owner thread once no I/O uses a slot.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close();
        NativeException.check(Libc.munmap(MemorySegment.ofAddress(base), poolBytes), "munmap",
                "bounce pool of " + poolBytes + " bytes at 0x" + Long.toHexString(base));
    }

    private void granted() {
        ACQUIRES.setOpaque(this, acquires + 1);
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= slotCount) {
            throw new IllegalArgumentException("slot index must be in [0, " + slotCount + "): " + index);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("bounce pool is closed");
        }
    }
}
