package io.ublk.server.device;

import io.ublk.headers.UblkUserCopy;

/**
 * The shape of one exported device.
 *
 * @param sizeBytes device size, a positive multiple of 4096
 * @param queues hardware queues (1 .. CPUs)
 * @param depth tags per queue (1 .. 4096)
 * @param slotSize the bounce slot size: the largest single I/O ({@code max_sectors} derives from it)
 */
public record DeviceConfig(long sizeBytes, int queues, int depth, int slotSize) {
    public DeviceConfig {
        if (sizeBytes <= 0 || sizeBytes % 4096 != 0) {
            throw new IllegalArgumentException("device size must be a positive multiple of 4096 bytes: " + sizeBytes);
        }
        if (queues < 1 || queues > UblkUserCopy.UBLK_MAX_NR_QUEUES) {
            throw new IllegalArgumentException("queues must be in [1, " + UblkUserCopy.UBLK_MAX_NR_QUEUES + "]: " + queues);
        }
        if (depth < 1 || depth > UblkUserCopy.UBLK_MAX_QUEUE_DEPTH) {
            throw new IllegalArgumentException("queue depth must be in [1, " + UblkUserCopy.UBLK_MAX_QUEUE_DEPTH + "]: "
                    + depth);
        }
        if (slotSize < 4096 || Integer.bitCount(slotSize) != 1) {
            throw new IllegalArgumentException("slot size must be a power of two >= 4096: " + slotSize);
        }
    }
}
