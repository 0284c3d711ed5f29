package io.ublk.server.cli;

import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.OpenOptions;
import io.ublk.blockcache.cache.volume.WriterLease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The cache of a volume on this host (a picocli mixin shared by {@code run} and {@code drain}):
 * its folder, the volume's name and the tuning knobs. Unset tuning options take
 * {@link CacheConfig}'s defaults; they are kept null here so "given for the wrong target" can be told.
 */
final class CacheOptions {
    @Option(names = "--cache-dir", description = "Folder of this host's cache (journal, state) of every volume; one volume at a time may use each.")
    Path cacheDir;

    @Option(names = "--volume", description = "Volume name ([A-Za-z0-9._-], 1-128); with run --count N > 1, volumes NAME-0..NAME-(N-1).")
    String volume;

    @Option(names = "--block-size", converter = SizeConverter.class, description = "Block size of a new volume (power of two, 4KiB..4MiB). Default: 128KiB.")
    Long blockSize;

    @Option(names = "--max-dirty", converter = SizeConverter.class, description = "Dirty bytes (in memory or only in the journal) before writes wait for uploads. Default: 1GiB.")
    Long maxDirty;

    @Option(names = "--dirty-memory", converter = SizeConverter.class, description = "Dirty bytes kept in memory; above it, data waiting to upload stays in the journal only. Default: 256MiB.")
    Long dirtyMemory;

    @Option(names = "--upload-parallelism", description = "Segment PUTs in flight at once per volume. Default: 4.")
    Integer uploadParallelism;

    @Option(names = "--clean-cache", converter = SizeConverter.class, description = "Clean (uploaded or fetched) bytes kept in memory. Default: 256MiB.")
    Long cleanCache;

    @Option(names = "--segment-size", converter = SizeConverter.class, description = "Largest segment object uploaded. Default: 32MiB.")
    Long segmentSize;

    @Option(names = "--upload-delay", converter = DurationConverter.class, description = "Longest time dirty data waits before an upload starts on its own. Default: 2s.")
    Duration uploadDelay;

    @Option(names = "--io-timeout", converter = LimitConverter.class, description = "Longest a request waits on the store, or for cache room, before it answers EIO (0 or off: no limit). Default: 5m.")
    Duration ioTimeout;

    @Option(names = "--lease-ttl", converter = DurationConverter.class, description = "How long the volume's writer lease holds without a renewal (renewed every third of it). FLUSH fails once it lapsed. Default: 30s.")
    Duration leaseTtl;

    @Option(names = "--takeover", description = "Break a live writer lease of another server: its FLUSHes fail from then on, and this one waits out its ttl before serving.")
    boolean takeover;

    @Option(names = "--discard-journal", description = "Drop journal records the store does not have when another writer committed after them (they are lost).")
    boolean discardJournal;

    @Option(names = "--save-journal", description = "Copy such stale journal files into this new folder first, then drop them.")
    Path saveJournal;

    /** The options given on the command line, for "applies to --target cache only" messages. */
    List<String> given() {
        List<String> g = new ArrayList<>();
        StoreOptions.addIf(g, cacheDir != null, "--cache-dir");
        StoreOptions.addIf(g, volume != null, "--volume");
        StoreOptions.addIf(g, blockSize != null, "--block-size");
        StoreOptions.addIf(g, maxDirty != null, "--max-dirty");
        StoreOptions.addIf(g, dirtyMemory != null, "--dirty-memory");
        StoreOptions.addIf(g, uploadParallelism != null, "--upload-parallelism");
        StoreOptions.addIf(g, cleanCache != null, "--clean-cache");
        StoreOptions.addIf(g, segmentSize != null, "--segment-size");
        StoreOptions.addIf(g, uploadDelay != null, "--upload-delay");
        StoreOptions.addIf(g, leaseTtl != null, "--lease-ttl");
        StoreOptions.addIf(g, ioTimeout != null, "--io-timeout");
        StoreOptions.addIf(g, takeover, "--takeover");
        StoreOptions.addIf(g, discardJournal, "--discard-journal");
        StoreOptions.addIf(g, saveJournal != null, "--save-journal");
        return g;
    }

    /** Checks the folder and every option; the message states the rule broken. Touches nothing. */
    void validate() {
        if (volume == null) {
            throw new IllegalArgumentException("--volume is required with a cache target");
        }
        if (cacheDir == null) {
            throw new IllegalArgumentException("--cache-dir is required with a cache target");
        }
        if (blockSize != null && blockSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--block-size is too large: " + blockSize);
        }
        Folders.checkUsable("--cache-dir", cacheDir);
        if (saveJournal != null && java.nio.file.Files.exists(saveJournal, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("--save-journal must name a folder that does not exist yet: " + saveJournal);
        }
        config(volume, 0); // CacheConfig checks the rest
    }

    /** The config of one volume; {@code size} 0 opens an existing volume. */
    CacheConfig config(String name, long size) {
        CacheConfig c = CacheConfig.of(cacheDir, name, size);
        if (blockSize != null) {
            c = c.withBlockSize((int) (long) blockSize);
        }
        c = c.withSizes(maxDirty != null ? maxDirty : c.maxDirtyBytes(),
                cleanCache != null ? cleanCache : c.cleanCacheBytes(),
                segmentSize != null ? segmentSize : c.segmentBytes());
        c = c.withUpload(uploadDelay != null ? uploadDelay : c.uploadDelay(),
                uploadParallelism != null ? uploadParallelism : c.uploadParallelism());
        if (dirtyMemory != null) {
            c = c.withDirtyMemory(dirtyMemory);
        }
        if (ioTimeout != null) {
            c = c.withIoTimeout(ioTimeout);
        }
        if (leaseTtl != null) {
            c = c.withLease(WriterLease.Terms.of(leaseTtl));
        }
        return c;
    }

    /** The operator's one-time choices for this open. */
    OpenOptions openOptions() {
        OpenOptions o = OpenOptions.DEFAULT;
        if (takeover) {
            o = o.withTakeover();
        }
        if (discardJournal) {
            o = o.withDiscardedJournal();
        }
        if (saveJournal != null) {
            o = o.withSavedJournal(saveJournal.toAbsolutePath());
        }
        return o;
    }

    /** Volume names served by {@code count} devices: NAME alone, or NAME-0..NAME-(count-1). */
    List<String> volumes(int count) {
        if (count == 1) {
            return List.of(volume);
        }
        List<String> names = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            names.add(volume + "-" + i);
        }
        return names;
    }
}
