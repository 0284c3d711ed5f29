package io.ublk.blockcache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A device in sparse RAM: what was written reads back, the rest reads as zeros. For tests and
 * fio verification, not for data anyone wants to keep: nothing survives the process, so
 * {@link #flush} and FUA have nothing to do and answer success.
 *
 * <p><b>Layout.</b> The device is cut into 64 KiB chunks. A chunk is allocated on its first write
 * and installed with a CAS into an {@link AtomicReferenceArray} indexed by chunk number; reads of
 * a missing chunk produce zeros. After a chunk's first write the read and write paths are one
 * acquire load plus a copy: no lock, no allocation. Workers serving different queues of the same
 * device can therefore run at once; two that race to install the same chunk both copy into the
 * winner's (the loser's allocation is garbage).
 *
 * <p><b>Freeing.</b> Each chunk has its own {@link Arena#ofAuto() automatic arena}, so a chunk
 * dropped by discard or write-zeroes is returned once the GC finds it unreachable. Such memory
 * counts against {@code -XX:MaxDirectMemorySize} (default: the heap size), and reaching that
 * limit makes the JVM collect before it fails: size the limit for the data the test writes.
 * The index costs 4 bytes (compressed references) per 64 KiB of device, 64 KiB per GiB.
 *
 * <p><b>Ranges.</b> Offsets and lengths are whole 512-byte sectors ({@code -EINVAL} otherwise);
 * a range ending beyond the device answers {@code -EIO}, as a disk would. Every request answers
 * inline. Overlapping requests in flight at once have no defined order, as on any block device:
 * a write racing a discard of the same chunk may land in the dropped chunk and be lost.
 */
public final class MemoryTarget implements BlockTarget {
    private static final int CHUNK_SHIFT = 16;
    /** Chunk bytes: small enough that sparse random writes stay sparse, large enough for a short index. */
    static final long CHUNK_SIZE = 1L << CHUNK_SHIFT;
    private static final long CHUNK_MASK = CHUNK_SIZE - 1;
    /** 2^30 chunks (64 TiB) keeps the index an array; it would be 4 GiB of references by then. */
    private static final long MAX_SIZE = CHUNK_SIZE << 30;
    /** Chunks are page-aligned so copies to and from page-aligned bounce slots stay aligned. */
    private static final long CHUNK_ALIGNMENT = 4096;

    private final long size;
    private final AtomicReferenceArray<MemorySegment> chunks;
    private final AtomicLong bytesAllocated = new AtomicLong();

    /** @param size device bytes, a positive multiple of 4096, at most 64 TiB */
    public MemoryTarget(long size) {
        Requests.checkDeviceSize(size);
        if (size > MAX_SIZE) {
            throw new IllegalArgumentException("memory target size must be <= " + MAX_SIZE + ": " + size);
        }
        this.size = size;
        this.chunks = new AtomicReferenceArray<>((int) ((size + CHUNK_MASK) >>> CHUNK_SHIFT));
    }

    @Override
    public long size() {
        return size;
    }

    /** Bytes of chunk memory held now (whole chunks); drops when discard frees chunks. */
    public long bytesAllocated() {
        return bytesAllocated.get();
    }

    @Override
    public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, dst, length);
        if (r != 0) {
            return r;
        }
        long pos = offset;
        long at = 0;
        while (at < length) {
            long inChunk = pos & CHUNK_MASK;
            long n = Math.min(CHUNK_SIZE - inChunk, length - at);
            MemorySegment chunk = chunks.getAcquire(chunkIndex(pos));
            if (chunk == null) {
                Zeros.fill(dst, at, n);
            } else {
                MemorySegment.copy(chunk, inChunk, dst, at, n);
            }
            pos += n;
            at += n;
        }
        return length;
    }

    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        int r = Requests.checkTransfer(size, offset, src, length);
        if (r != 0) {
            return r;
        }
        long pos = offset;
        long at = 0;
        while (at < length) {
            long inChunk = pos & CHUNK_MASK;
            long n = Math.min(CHUNK_SIZE - inChunk, length - at);
            MemorySegment.copy(src, at, chunkForWrite(chunkIndex(pos)), inChunk, n);
            pos += n;
            at += n;
        }
        return length;
    }

    /** Nothing to make durable: RAM does not survive the process anyway. */
    @Override
    public int flush(long tag, Completion done) {
        return 0;
    }

    @Override
    public int discard(long offset, long length, long tag, Completion done) {
        return zero(offset, length, false);
    }

    /** With {@link IoFlags#NOUNMAP} chunks stay allocated and are zeroed; without, covered chunks are dropped. */
    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        return zero(offset, length, (flags & IoFlags.NOUNMAP) != 0);
    }

    /** Drops every chunk; no request is in flight (the {@link BlockTarget#close} rule). */
    @Override
    public void close() {
        for (int i = 0; i < chunks.length(); i++) {
            if (chunks.getAndSet(i, null) != null) {
                bytesAllocated.addAndGet(-CHUNK_SIZE);
            }
        }
    }

    /** Zeroes a range: chunks it covers whole are dropped (unless {@code keep}), others zeroed in place. */
    private int zero(long offset, long length, boolean keep) {
        int r = Requests.checkRange(size, offset, length);
        if (r != 0) {
            return r;
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long inChunk = pos & CHUNK_MASK;
            long n = Math.min(CHUNK_SIZE - inChunk, end - pos);
            int index = chunkIndex(pos);
            // The device's last chunk may be shorter than CHUNK_SIZE: reaching the end covers it.
            boolean whole = inChunk == 0 && (n == CHUNK_SIZE || pos + n == size);
            if (whole && !keep) {
                if (chunks.getAndSet(index, null) != null) {
                    bytesAllocated.addAndGet(-CHUNK_SIZE);
                }
            } else {
                MemorySegment chunk = chunks.getAcquire(index);
                if (chunk != null) {
                    Zeros.fill(chunk, inChunk, n);
                }
            }
            pos += n;
        }
        return 0;
    }

    private MemorySegment chunkForWrite(int index) {
        MemorySegment chunk = chunks.getAcquire(index);
        while (chunk == null) {
            MemorySegment fresh = Arena.ofAuto().allocate(CHUNK_SIZE, CHUNK_ALIGNMENT);
            if (chunks.compareAndSet(index, null, fresh)) {
                bytesAllocated.addAndGet(CHUNK_SIZE);
                return fresh;
            }
            // Another writer installed one first (or a discard dropped it again): look once more.
            chunk = chunks.getAcquire(index);
        }
        return chunk;
    }

    private static int chunkIndex(long pos) {
        return (int) (pos >>> CHUNK_SHIFT);
    }
}
