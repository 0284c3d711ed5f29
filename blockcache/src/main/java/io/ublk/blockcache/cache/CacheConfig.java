package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.journal.Journal;
import io.ublk.blockcache.cache.journal.JournalChannels;
import io.ublk.blockcache.cache.volume.WriterLease;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How one cached volume is served.
 *
 * @param cacheDir          folder holding this host's cache of every volume ({@code <cacheDir>/<volume>/})
 * @param volume            volume name: also its key prefix in the store ({@code [A-Za-z0-9._-]}, 1-128 chars)
 * @param size              device bytes to create the volume with, or 0 to open an existing one
 *                          (when nonzero and the volume exists, it must match)
 * @param blockSize         bytes per block, the unit of uploads (power of two, 4 KiB..4 MiB); a new
 *                          volume takes it, an existing one keeps its own
 * @param maxDirtyBytes     dirty bytes (in memory or only in the journal) before writes wait for the uploader (backpressure)
 * @param cleanCacheBytes   bytes of clean (uploaded or fetched) blocks kept in memory
 * @param segmentBytes      the most block bytes one segment object carries
 * @param uploadDelay       the longest dirty data waits before an upload round starts on its own
 * @param uploadParallelism segment PUTs in flight at once
 * @param dirtyMemoryBytes  dirty bytes kept in memory; above it, waiting upload rounds keep theirs only in the journal
 * @param compaction        when dead store data is reclaimed
 * @param lease             how long the writer lease holds and how often it is renewed
 * @param ioTimeout         the longest a request waits on the store or for room before it answers
 *                          EIO ({@link Duration#ZERO}: no limit)
 * @param journalChannels   how journal files are opened (the file system; tests put a failing disk here)
 */
public record CacheConfig(Path cacheDir, String volume, long size, int blockSize, long maxDirtyBytes,
        long cleanCacheBytes, long segmentBytes, Duration uploadDelay, int uploadParallelism, long dirtyMemoryBytes, Compaction compaction,
        WriterLease.Terms lease, Duration ioTimeout, JournalChannels journalChannels) {

    /**
     * @param liveBelow   segments with less than this fraction of their blocks still live are rewritten
     * @param minGarbage  dead bytes in the store (overwritten or discarded blocks) before anything is done
     * @param deleteGrace how long an object no generation names anymore is kept before it is deleted
     *                    (reads that looked it up just before keep working)
     */
    public record Compaction(double liveBelow, long minGarbage, Duration deleteGrace) {
        public static final Compaction DEFAULT = new Compaction(0.5, 64L << 20, Duration.ofMinutes(2));

        public Compaction {
            if (!(liveBelow >= 0 && liveBelow <= 1)) {
                throw new IllegalArgumentException("compaction live fraction must be in [0, 1]: " + liveBelow);
            }
            if (minGarbage < 0) {
                throw new IllegalArgumentException("compaction garbage threshold must be >= 0: " + minGarbage);
            }
            if (deleteGrace == null || deleteGrace.isNegative()) {
                throw new IllegalArgumentException("delete grace must be >= 0: " + deleteGrace);
            }
        }
    }

    public static final int DEFAULT_BLOCK_SIZE = 128 * 1024;
    public static final long DEFAULT_MAX_DIRTY = 1L << 30;
    public static final long DEFAULT_DIRTY_MEMORY = 256L << 20;
    public static final long DEFAULT_CLEAN_CACHE = 256L << 20;
    public static final long DEFAULT_SEGMENT = 32L << 20;
    public static final Duration DEFAULT_UPLOAD_DELAY = Duration.ofSeconds(2);
    public static final int DEFAULT_UPLOAD_PARALLELISM = 4;
    /**
     * Five minutes: far beyond a store's failover or throttling episode and the S3 client's own
     * retries (so an outage that heals costs no error), yet a request never hangs an application
     * for good. The kernel's own request timeout for SCSI and NBD is 30 s; a remote store needs more
     * headroom than a disk, and dm-multipath's queue_if_no_path shows the other end (no limit).
     */
    public static final Duration DEFAULT_IO_TIMEOUT = Duration.ofMinutes(5);

    /**
     * The size a journal lane file rolls over at: an eighth of {@code maxDirtyBytes}, within
     * [4 MiB, 64 MiB]. A lane's open file is the part of the journal an upload cannot trim, so it
     * stays small beside the dirty bound.
     */
    public long journalFileBytes() {
        return Math.min(Journal.DEFAULT_FILE_BYTES, Math.max(4L << 20, maxDirtyBytes / 8));
    }

    /**
     * Journal bytes of records not uploaded yet before writes wait: {@code maxDirtyBytes} too.
     * Overwrites within one epoch add journal bytes but no dirty bytes; this bound holds the
     * journal anyway, and a store outage stops writes here instead of filling the disk.
     */
    public long maxJournalBytes() {
        return maxDirtyBytes;
    }

    /** The defaults for everything but where and what. */
    public static CacheConfig of(Path cacheDir, String volume, long size) {
        return new CacheConfig(cacheDir, volume, size, DEFAULT_BLOCK_SIZE, DEFAULT_MAX_DIRTY, DEFAULT_CLEAN_CACHE,
                DEFAULT_SEGMENT, DEFAULT_UPLOAD_DELAY, DEFAULT_UPLOAD_PARALLELISM, DEFAULT_DIRTY_MEMORY, Compaction.DEFAULT,
                WriterLease.Terms.defaults(), DEFAULT_IO_TIMEOUT, JournalChannels.FILES);
    }

    public CacheConfig withSizes(long maxDirtyBytes, long cleanCacheBytes, long segmentBytes) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withBlockSize(int blockSize) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withDirtyMemory(long dirtyMemoryBytes) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withCompaction(Compaction compaction) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withUpload(Duration uploadDelay, int uploadParallelism) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withLease(WriterLease.Terms lease) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withIoTimeout(Duration ioTimeout) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    public CacheConfig withJournalChannels(JournalChannels journalChannels) {
        return new CacheConfig(cacheDir, volume, size, blockSize, maxDirtyBytes, cleanCacheBytes, segmentBytes,
                uploadDelay, uploadParallelism, dirtyMemoryBytes, compaction, lease, ioTimeout, journalChannels);
    }

    /** Checks every field; the message names the first bad one. */
    public CacheConfig {
        if (cacheDir == null) {
            throw new IllegalArgumentException("cache folder is missing");
        }
        if (volume == null || !volume.matches("[A-Za-z0-9._-]{1,128}") || volume.equals(".") || volume.equals("..")) {
            throw new IllegalArgumentException("volume name must be 1-128 of [A-Za-z0-9._-]: '" + volume + "'");
        }
        if (size < 0 || size % 4096 != 0) {
            throw new IllegalArgumentException("volume size must be a multiple of 4096: " + size);
        }
        if (Integer.bitCount(blockSize) != 1 || blockSize < 4096 || blockSize > (4 << 20)) {
            throw new IllegalArgumentException("block size must be a power of two in [4KiB, 4MiB]: " + blockSize);
        }
        if (maxDirtyBytes < 4L * blockSize) {
            throw new IllegalArgumentException("max dirty bytes must be at least 4 blocks: " + maxDirtyBytes);
        }
        if (cleanCacheBytes < 0) {
            throw new IllegalArgumentException("clean cache bytes must be >= 0: " + cleanCacheBytes);
        }
        if (segmentBytes < blockSize || segmentBytes > (1L << 30)) {
            throw new IllegalArgumentException("segment bytes must be in [block size, 1GiB]: " + segmentBytes);
        }
        if (uploadDelay == null || uploadDelay.isNegative()) {
            throw new IllegalArgumentException("upload delay must be >= 0: " + uploadDelay);
        }
        if (dirtyMemoryBytes < 4L * blockSize) {
            throw new IllegalArgumentException("dirty memory must be at least 4 blocks: " + dirtyMemoryBytes);
        }
        if (compaction == null) {
            throw new IllegalArgumentException("compaction policy is missing");
        }
        if (lease == null) {
            throw new IllegalArgumentException("lease terms are missing");
        }
        if (ioTimeout == null || ioTimeout.isNegative()) {
            throw new IllegalArgumentException("io timeout must be >= 0: " + ioTimeout);
        }
        if (journalChannels == null) {
            throw new IllegalArgumentException("journal channels are missing");
        }
        if (uploadParallelism < 1) {
            throw new IllegalArgumentException("upload parallelism must be >= 1: " + uploadParallelism);
        }
    }
}
