package io.ublk.server.io;

import io.ublk.headers.Libc;
import io.ublk.headers.Mman;
import io.ublk.headers.UblkUserCopy;
import io.ublk.headers.UblksrvIoDesc;
import io.ublk.server.sys.NativeException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One queue's request descriptors: the kernel's read-only array of {@code ublksrv_io_desc}, one
 * per tag, mapped from {@code /dev/ublkcN}. The kernel fills {@code iod[tag]} before it completes
 * the tag's FETCH; the worker reads it with plain loads after reaping that CQE (the completion
 * orders them).
 *
 * <pre>
 *  iod[tag] at tag * 24:  0 op_flags u32 (op = bits 0-7, flags = 8-31)  4 nr_sectors u32
 *                          8 start_sector u64  16 addr u64 (unused with USER_COPY)
 * </pre>
 */
public final class QueueDescriptors implements AutoCloseable {
    private static final long PAGE = Libc.sysconf(io.ublk.headers.Sysconf.SC_PAGESIZE);

    private final MemorySegment iods;
    private final long mappedBytes;
    private boolean closed;

    private QueueDescriptors(MemorySegment iods, long mappedBytes) {
        this.iods = iods;
        this.mappedBytes = mappedBytes;
    }

    /** Maps queue {@code qid}'s descriptors (depth entries) from the device's char device fd. */
    public static QueueDescriptors map(int cdevFd, int qid, int depth) {
        long size = UblkUserCopy.queueDescriptorSize(depth, PAGE);
        long off = UblkUserCopy.queueDescriptorOffset(qid, PAGE);
        long addr = Libc.mmap(0, size, Mman.PROT_READ, Mman.MAP_SHARED | Mman.MAP_POPULATE, cdevFd, off);
        NativeException.check(addr, "mmap", "ublk queue " + qid + " descriptors, " + size + " bytes at " + off);
        return new QueueDescriptors(MemorySegment.ofAddress(addr).reinterpret(size), size);
    }

    /**
     * Descriptors over memory the caller owns (tests, tools); {@link #close} does not unmap it.
     */
    public static QueueDescriptors over(MemorySegment iods) {
        return new QueueDescriptors(iods, 0);
    }

    /** Bytes mapped (for memory accounting). */
    public long mappedBytes() {
        return mappedBytes;
    }

    private static long base(int tag) {
        return tag * UblksrvIoDesc.SIZE;
    }

    /** {@code op_flags} of {@code tag}'s request: op in bits 0-7, flags above. */
    public int opFlags(int tag) {
        return iods.get(ValueLayout.JAVA_INT, base(tag) + UblksrvIoDesc.OP_FLAGS_OFFSET);
    }

    /** Request length in 512-byte sectors. */
    public int nrSectors(int tag) {
        return iods.get(ValueLayout.JAVA_INT, base(tag) + UblksrvIoDesc.NR_SECTORS_OFFSET);
    }

    /** First 512-byte sector of the request. */
    public long startSector(int tag) {
        return iods.get(ValueLayout.JAVA_LONG, base(tag) + UblksrvIoDesc.START_SECTOR_OFFSET);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (mappedBytes > 0) {
                Libc.munmap(iods, mappedBytes);
            }
        }
    }
}
