package io.ublk.blockcache;

import java.lang.foreign.MemorySegment;

/**
 * The checks every in-memory target applies to a request, and the errno values it answers with.
 * blockcache does not depend on native-headers, so the two Linux errno values it needs are
 * repeated here (x86_64 and arm64 agree on them).
 */
public final class Requests {
    /** Linux {@code EIO}: the range ends beyond the device, as a disk answers such a request. */
    public static final int EIO = 5;
    /** Linux {@code EINVAL}: the request is malformed (negative, not 512-aligned, buffer too small). */
    public static final int EINVAL = 22;
    /** Requests address whole 512-byte sectors. */
    static final long SECTOR_SIZE = 512;

    private Requests() {}

    /**
     * 0 if {@code [offset, offset+length)} is a whole-sector range inside a device of {@code size}
     * bytes, else the {@code -errno} to answer: {@code -EINVAL} for a negative or unaligned range,
     * {@code -EIO} for one that ends beyond the device.
     */
    public static int checkRange(long size, long offset, long length) {
        if (offset < 0 || length < 0 || ((offset | length) & (SECTOR_SIZE - 1)) != 0) {
            return -EINVAL;
        }
        if (offset > size || length > size - offset) {
            return -EIO;
        }
        return 0;
    }

    /** {@link #checkRange}, and {@code -EINVAL} if {@code buffer} holds fewer than {@code length} bytes. */
    public static int checkTransfer(long size, long offset, MemorySegment buffer, int length) {
        int r = checkRange(size, offset, length);
        if (r == 0 && buffer.byteSize() < length) {
            return -EINVAL;
        }
        return r;
    }

    /** Throws unless {@code size} is a positive multiple of 4096, the {@link BlockTarget} rule. */
    public static long checkDeviceSize(long size) {
        if (size <= 0 || (size & 4095) != 0) {
            throw new IllegalArgumentException("device size must be a positive multiple of 4096: " + size);
        }
        return size;
    }
}
