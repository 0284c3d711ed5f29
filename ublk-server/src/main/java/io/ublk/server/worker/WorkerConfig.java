package io.ublk.server.worker;

/**
 * Sizes of one worker's resources.
 *
 * @param slotSize bounce slot bytes: the single source of truth for the largest I/O
 *     ({@code max_sectors} and {@code max_io_buf_bytes} derive from it)
 * @param poolSlots bounce slots per worker; bounce memory is exactly workers x slots x slotSize
 * @param ringEntries SQ entries of the worker's ring (CQ gets twice as many)
 * @param maxTags most tags (requests in flight) one worker serves across all its queues
 */
public record WorkerConfig(int slotSize, int poolSlots, int ringEntries, int maxTags) {
    /** 128 KiB: equal to the cache block size; larger requests are split by the kernel. */
    public static final int DEFAULT_SLOT_SIZE = 128 * 1024;
    /** 128 slots x 128 KiB = 16 MiB per worker. */
    public static final int DEFAULT_POOL_SLOTS = 128;
    /** Small on purpose: the kernel drains the SQ on every submit, so it never needs to hold a burst. */
    public static final int DEFAULT_RING_ENTRIES = 1024;
    /** 64 Ki tags: 1024 devices x 64 deep per worker; per-request state is about 30 bytes a tag. */
    public static final int DEFAULT_MAX_TAGS = 1 << 16;

    public WorkerConfig {
        if (slotSize < 4096 || slotSize > (1 << 20) || Integer.bitCount(slotSize) != 1) {
            throw new IllegalArgumentException("slot size must be a power of two in [4 KiB, 1 MiB]: " + slotSize);
        }
        if (poolSlots <= 0) {
            throw new IllegalArgumentException("pool slots must be > 0: " + poolSlots);
        }
        if (ringEntries < 8 || ringEntries > 32768 || Integer.bitCount(ringEntries) != 1) {
            throw new IllegalArgumentException("ring entries must be a power of two in [8, 32768]: " + ringEntries);
        }
        if (maxTags <= 0) {
            throw new IllegalArgumentException("max tags must be > 0: " + maxTags);
        }
    }

    public static WorkerConfig defaults() {
        return new WorkerConfig(DEFAULT_SLOT_SIZE, DEFAULT_POOL_SLOTS, DEFAULT_RING_ENTRIES, DEFAULT_MAX_TAGS);
    }
}
