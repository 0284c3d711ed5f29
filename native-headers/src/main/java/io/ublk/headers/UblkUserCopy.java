package io.ublk.headers;

/**
 * File positions on {@code /dev/ublkcN}: the per-queue descriptor arrays (mmap offsets) and the
 * USER_COPY data window (pread/pwrite positions), with the header's bit layout.
 *
 * <pre>
 *   USER_COPY position = UBLKSRV_IO_BUF_OFFSET + (qid &lt;&lt; 41 | tag &lt;&lt; 25 | byte offset)
 *   63          53 52     41 40         25 24             0
 *   +-----------+----------+-------------+----------------+   + 0x8000_0000
 *   |     0     | qid (12) |  tag (16)   | byte off (25)  |
 *   +-----------+----------+-------------+----------------+
 * </pre>
 * Names keep the C macro names.
 */
public final class UblkUserCopy {
    /** mmap offset of queue 0's descriptor array. */
    public static final long UBLKSRV_CMD_BUF_OFFSET = 0;
    /** Base of the USER_COPY data window. */
    public static final long UBLKSRV_IO_BUF_OFFSET = 0x80000000L;
    /** Most tags per queue (the kernel's descriptor-array stride is sized for it). */
    public static final int UBLK_MAX_QUEUE_DEPTH = 4096;
    /** Bit position of the byte offset within a request's buffer. */
    public static final int UBLK_IO_BUF_OFF = 0;
    /** Bits of the byte offset: requests up to 32 MiB. */
    public static final int UBLK_IO_BUF_BITS = 25;
    /** Mask of the byte offset. */
    public static final long UBLK_IO_BUF_BITS_MASK = (1L << UBLK_IO_BUF_BITS) - 1;
    /** Bit position of the tag. */
    public static final int UBLK_TAG_OFF = UBLK_IO_BUF_BITS;
    /** Bits of the tag. */
    public static final int UBLK_TAG_BITS = 16;
    /** Mask of the tag (after shifting down). */
    public static final long UBLK_TAG_BITS_MASK = (1L << UBLK_TAG_BITS) - 1;
    /** Bit position of the queue id. */
    public static final int UBLK_QID_OFF = UBLK_TAG_OFF + UBLK_TAG_BITS;
    /** Bits of the queue id. */
    public static final int UBLK_QID_BITS = 12;
    /** Mask of the queue id (after shifting down). */
    public static final long UBLK_QID_BITS_MASK = (1L << UBLK_QID_BITS) - 1;
    /** Most queues per device. */
    public static final int UBLK_MAX_NR_QUEUES = 1 << UBLK_QID_BITS;
    /** Bits of a window-relative position. */
    public static final int UBLKSRV_IO_BUF_TOTAL_BITS = UBLK_QID_OFF + UBLK_QID_BITS;
    /** Size of the USER_COPY window. */
    public static final long UBLKSRV_IO_BUF_TOTAL_SIZE = 1L << UBLKSRV_IO_BUF_TOTAL_BITS;

    private UblkUserCopy() {}

    /**
     * pread/pwrite position of byte {@code byteOffset} of request ({@code qid}, {@code tag}).
     * Raw: the arguments are not range-checked (qid &lt; 4096, tag &lt; 65536, byteOffset &lt; 32 MiB).
     */
    public static long position(int qid, int tag, long byteOffset) {
        return UBLKSRV_IO_BUF_OFFSET
                + ((long) qid << UBLK_QID_OFF | (long) tag << UBLK_TAG_OFF | byteOffset << UBLK_IO_BUF_OFF);
    }

    /**
     * mmap offset of queue {@code qid}'s descriptor array: the kernel strides queues by the array
     * size of the largest depth, {@code round_up(UBLK_MAX_QUEUE_DEPTH * 24, pageSize)}.
     *
     * @param pageSize the system page size (a power of two)
     */
    public static long queueDescriptorOffset(int qid, long pageSize) {
        return UBLKSRV_CMD_BUF_OFFSET + qid * queueDescriptorSize(UBLK_MAX_QUEUE_DEPTH, pageSize);
    }

    /**
     * mmap length of a descriptor array for {@code depth} tags:
     * {@code round_up(depth * sizeof(struct ublksrv_io_desc), pageSize)}.
     *
     * @param pageSize the system page size (a power of two)
     */
    public static long queueDescriptorSize(int depth, long pageSize) {
        long bytes = depth * UblksrvIoDesc.SIZE;
        return (bytes + pageSize - 1) & -pageSize;
    }
}
