package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.volume.WriterLease;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/** What one cached volume has done, for metrics. Counters only grow; gauges go both ways. */
public final class CacheStats {
    final AtomicLong dirtyBytes = new AtomicLong();
    /** Journal bytes of records in epochs not committed yet (the journal's bound counts these). */
    public final AtomicLong journalPendingBytes = new AtomicLong();
    final AtomicLong dirtyMemory = new AtomicLong();
    public final LongAdder spilledBlocks = new LongAdder();
    public final LongAdder journalSentBlocks = new LongAdder();
    public final AtomicLong committedGeneration = new AtomicLong();
    final LongAdder readHits = new LongAdder();
    public final LongAdder readMisses = new LongAdder();
    public final LongAdder storeReadBytes = new LongAdder();
    public final LongAdder checksumErrors = new LongAdder();
    /** Committed blocks found damaged in the store by an upload that had to merge with them. */
    public final LongAdder damagedBlocks = new LongAdder();
    final LongAdder journalBytes = new LongAdder();
    public final LongAdder journalSyncs = new LongAdder();
    final LongAdder writeWaits = new LongAdder();
    public final LongAdder uploadRounds = new LongAdder();
    public final LongAdder uploadedBytes = new LongAdder();
    public final LongAdder segmentPuts = new LongAdder();
    public final LongAdder manifestPuts = new LongAdder();
    public final LongAdder checkpointPuts = new LongAdder();
    public final LongAdder uploadFailures = new LongAdder();
    /** Requests answered EIO because they waited on the store or for room longer than --io-timeout. */
    final LongAdder ioTimeouts = new LongAdder();
    /** Journal appends the disk refused (ENOSPC, EIO): each such write waited and was tried again. */
    final LongAdder journalWriteFailures = new LongAdder();
    public final LongAdder compactions = new LongAdder();
    public final LongAdder compactedBytes = new LongAdder();
    public final LongAdder deletedObjects = new LongAdder();
    /** FLUSH and FUA answered EIO because the writer lease had lapsed or was lost. */
    public final LongAdder flushRefused = new LongAdder();
    public final WriterLease.Stats lease = new WriterLease.Stats();

    /** Gauges the volume computes when read, bound once by the cache target. */
    volatile LongSupplier cleanBytes = () -> 0;
    volatile LongSupplier journalDiskBytes = () -> 0;
    volatile BooleanSupplier failed = () -> false;
    volatile BooleanSupplier journalStalled = () -> false;

    /** Block bytes the clean cache holds in heap (prefetches awaiting their reads included). */
    public long cleanBytes() { return cleanBytes.getAsLong(); }
    /** Bytes of journal files on disk now. */
    public long journalDiskBytes() { return journalDiskBytes.getAsLong(); }
    /** Whether the volume stopped serving for good (EIO until a restart; the reason is logged). */
    public boolean failed() { return failed.getAsBoolean(); }
    /** Whether writes wait because the journal disk refused an append (full, or failing); they are tried again. */
    public boolean journalStalled() { return journalStalled.getAsBoolean(); }

    /** FLUSH and FUA requests answered EIO because this writer's lease had lapsed or was lost. */
    public long flushRefused() { return flushRefused.sum(); }
    /** Lease renewals that landed. */
    public long leaseRenewals() { return lease.renewals.sum(); }
    /** Lease renewals that failed (retried; the lease lapses if none lands within its ttl). */
    public long leaseRenewFailures() { return lease.renewFailures.sum(); }
    /** Leases lost to another writer (this cache stopped serving the volume). */
    public long leasesLost() { return lease.lost.sum(); }

    /** Dirty block bytes now (not yet in a committed generation), in memory or only in the journal. */
    public long dirtyBytes() { return dirtyBytes.get(); }
    public long journalPendingBytes() { return journalPendingBytes.get(); }
    /** Dirty block bytes held in memory now. */
    public long dirtyMemory() { return dirtyMemory.get(); }
    /** Dirty blocks whose bytes were dropped from memory to keep it bounded (read back from the journal). */
    public long spilledBlocks() { return spilledBlocks.sum(); }
    /** Spilled blocks uploaded straight from a mapping of the journal (no read back into a buffer). */
    public long journalSentBlocks() { return journalSentBlocks.sum(); }
    /** The store generation this cache last committed or loaded. */
    public long committedGeneration() { return committedGeneration.get(); }
    /** Blocks a read found in memory (dirty or clean). */
    public long readHits() { return readHits.sum(); }
    /** Blocks a read had to fetch from the store. */
    public long readMisses() { return readMisses.sum(); }
    public long storeReadBytes() { return storeReadBytes.sum(); }
    /** Store reads whose CRC32C did not match: each answered -EIO. */
    public long checksumErrors() { return checksumErrors.sum(); }
    public long journalBytes() { return journalBytes.sum(); }
    /** fdatasync calls of the journal (one covers every FLUSH waiting at the time). */
    public long journalSyncs() { return journalSyncs.sum(); }
    /** Writes that waited because dirty data reached its bound. */
    public long writeWaits() { return writeWaits.sum(); }
    public long uploadRounds() { return uploadRounds.sum(); }
    public long uploadedBytes() { return uploadedBytes.sum(); }
    public long segmentPuts() { return segmentPuts.sum(); }
    public long manifestPuts() { return manifestPuts.sum(); }
    public long checkpointPuts() { return checkpointPuts.sum(); }
    /** Upload rounds that failed and will be retried. */
    public long uploadFailures() { return uploadFailures.sum(); }
    public long ioTimeouts() { return ioTimeouts.sum(); }
    /** Committed blocks an upload found damaged (left out of merges; EIO on reads until a whole-block write). */
    public long damagedBlocks() { return damagedBlocks.sum(); }
    public long journalWriteFailures() { return journalWriteFailures.sum(); }
    /** Compaction runs: live blocks of mostly-dead segments rewritten, then a checkpoint. */
    public long compactions() { return compactions.sum(); }
    public long compactedBytes() { return compactedBytes.sum(); }
    /** Store objects no generation names anymore, deleted after their grace period. */
    public long deletedObjects() { return deletedObjects.sum(); }
}
