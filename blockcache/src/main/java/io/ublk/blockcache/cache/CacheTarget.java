package io.ublk.blockcache.cache;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.Completion;
import io.ublk.s3.ObjectStore;
import java.lang.foreign.MemorySegment;

/** A write-back cached volume kept in an object store. (Being built: the API is fixed, bodies are not.) */
public final class CacheTarget implements BlockTarget {

    /**
     * Opens (or with {@code config.size() > 0}, creates) the volume in the store, replays this
     * host's journal of it, and starts the uploader.
     *
     * @throws VolumeException          the volume cannot be opened as asked (one-line reason; nothing changed)
     * @throws IllegalArgumentException the config is inconsistent
     */
    public static CacheTarget open(CacheConfig config, ObjectStore store) {
        throw new UnsupportedOperationException("not built yet");
    }

    /** Uploads every write acknowledged before this call; returns once the store's latest generation holds them. */
    public void drain() throws InterruptedException {
        throw new UnsupportedOperationException("not built yet");
    }

    public CacheStats stats() {
        throw new UnsupportedOperationException("not built yet");
    }

    public int blockSize() {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public long size() {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public int read(long offset, MemorySegment dst, int length, long tag, Completion done) {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public int write(long offset, MemorySegment src, int length, int flags, long tag, Completion done) {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public int flush(long tag, Completion done) {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public int discard(long offset, long length, long tag, Completion done) {
        throw new UnsupportedOperationException("not built yet");
    }

    @Override
    public int writeZeroes(long offset, long length, int flags, long tag, Completion done) {
        throw new UnsupportedOperationException("not built yet");
    }

    /** Stops the uploader without draining, syncs the journal and releases the cache folder. */
    @Override
    public void close() {}
}
