package io.ublk.blockcache.cache.volume;

import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.format.Checkpoint;
import io.ublk.blockcache.cache.format.Codec;
import io.ublk.blockcache.cache.format.CorruptBlockException;
import io.ublk.blockcache.cache.format.CorruptObjectException;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.Manifest;
import io.ublk.blockcache.cache.format.SegmentHeader;
import io.ublk.blockcache.cache.format.VolumeHeader;
import io.ublk.blockcache.cache.read.CleanBlock;
import io.ublk.s3.ObjectInfo;
import io.ublk.s3.ObjectNotFoundException;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.PreconditionFailedException;
import io.ublk.s3.StoreException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A volume as the store holds it: its header, the committed index, and the generation chain
 * (checkpoint plus segments since) the next manifest extends. Loading and fetching are safe from
 * any thread; changing the chain is the uploader's alone.
 */
public final class Volume {
    private final ObjectStore store;
    public final String name;
    public final VolumeHeader header;
    public final BlockIndex index;
    /** This cache folder's identity, written into every manifest it commits. */
    public final UUID writer;
    private final CacheStats stats;
    /** Older manifests read to find this writer's own last commit when another writer committed last. */
    private static final int OWN_MANIFEST_LOOKBACK = 64;

    /** The latest committed generation (0: none yet, the volume is all zeros). */
    public long generation;
    /**
     * The newest journal epoch of this writer that the store holds: from the latest generation if
     * this writer committed it, else from this writer's newest manifest still in the store (0 if
     * none is found). Epochs are numbered per writer, so another writer's never count here.
     */
    public long committedEpoch;
    /** The writer of the latest generation (null: none yet). */
    public UUID latestWriter;
    public long checkpoint;
    /** How many parts that checkpoint has (0: none), so all of them go when it does. */
    public int checkpointParts;
    public final List<String> chain = new ArrayList<>();

    private Volume(ObjectStore store, String name, VolumeHeader header, UUID writer, CacheStats stats) {
        this.store = store;
        this.writer = writer;
        this.name = name;
        this.header = header;
        this.index = new BlockIndex(header.blocks());
        this.stats = stats;
    }

    public ObjectStore store() {
        return store;
    }

    public int blockSize() {
        return header.blockSize();
    }

    /** The volume's header, or null if the store has no volume by that name. */
    public static VolumeHeader readHeader(ObjectStore store, String name) {
        try {
            return VolumeHeader.decode(await(store.get(Keys.volume(name))).data());
        } catch (ObjectNotFoundException e) {
            return null;
        }
    }

    /** Creates the volume; if another process created it first, answers what that one wrote. */
    public static VolumeHeader create(ObjectStore store, String name, long size, int blockSize) {
        VolumeHeader h = new VolumeHeader(VolumeHeader.VERSION, UUID.randomUUID(), size, blockSize,
                System.currentTimeMillis());
        try {
            await(store.putIfAbsent(Keys.volume(name), h.encode()));
            return h;
        } catch (PreconditionFailedException e) {
            return readHeader(store, name);
        }
    }

    /** Loads the latest committed generation: its manifest, checkpoint and chain of segment headers. */
    public static Volume load(ObjectStore store, String name, VolumeHeader header, UUID writer, CacheStats stats) {
        Volume v = new Volume(store, name, header, writer, stats);
        v.loadLatest();
        return v;
    }

    /**
     * Tries to make this process the volume's only writer: commits the next generation (same
     * image, this cache as its writer) with If-None-Match before anything else happens. A writer
     * that opened earlier loses its next commit and stops; a PUT an earlier run of this cache left
     * in flight when it died can no longer land after this point and change the image under our
     * feet. Answers false if some other commit got there first: load the volume again and retry.
     */
    public boolean claim() {
        long gen = generation + 1;
        Manifest m = new Manifest(header.uuid(), writer, gen, committedEpoch, checkpoint, List.copyOf(chain));
        try {
            await(store.putIfAbsent(Keys.manifest(name, gen), m.encode()));
        } catch (PreconditionFailedException e) {
            return false;
        }
        generation = gen;
        stats.committedGeneration.set(gen);
        stats.manifestPuts.increment();
        return true;
    }

    private void loadLatest() {
        BlockIndex into = index;
        List<Long> generations = new ArrayList<>();
        for (ObjectInfo o : await(store.listAll(Keys.manifestPrefix(name)))) {
            long g = Keys.manifestGeneration(name, o.key());
            if (g > 0) {
                generations.add(g);
            }
        }
        if (generations.isEmpty()) {
            return;
        }
        generations.sort(java.util.Comparator.reverseOrder());
        long latest = generations.get(0);
        Manifest m = readManifest(latest);
        int parts = 0;
        if (m.checkpoint() != 0) {
            parts = Checkpoint.decode(name, m.checkpoint(), key -> await(store.get(key)).data(), header.uuid(), into);
        }
        for (String seg : m.segments()) {
            applySegment(into, seg, readSegmentHeader(seg));
        }
        generation = latest;
        latestWriter = m.writer();
        if (m.writer().equals(writer)) {
            committedEpoch = m.epoch();
        } else {
            // our own newest commit, if any is left: the journal's records up to its epoch are in the store
            for (int i = 1; i < generations.size() && i <= OWN_MANIFEST_LOOKBACK; i++) {
                Manifest older = readManifest(generations.get(i));
                if (older.writer().equals(writer)) {
                    committedEpoch = older.epoch();
                    break;
                }
            }
        }
        checkpoint = m.checkpoint();
        checkpointParts = parts;
        chain.clear();
        chain.addAll(m.segments());
        stats.committedGeneration.set(latest);
    }

    private Manifest readManifest(long gen) {
        String key = Keys.manifest(name, gen);
        Manifest m = Manifest.decode(key, await(store.get(key)).data());
        if (!m.uuid().equals(header.uuid()) || m.generation() != gen) {
            throw new CorruptObjectException(key + " does not belong to this volume");
        }
        return m;
    }

    private SegmentHeader readSegmentHeader(String key) {
        byte[] probe = await(store.getRange(key, 0, SegmentHeader.PROBE_BYTES));
        int need = SegmentHeader.neededBytes(probe);
        if (need > probe.length) {
            probe = await(store.getRange(key, 0, need));
        }
        SegmentHeader h = SegmentHeader.decode(key, probe);
        if (!h.uuid.equals(header.uuid())) {
            throw new CorruptObjectException(key + " does not belong to this volume");
        }
        return h;
    }

    /** Points the index at a segment's entries (a loader step). */
    private static void applySegment(BlockIndex index, String key, SegmentHeader h) {
        int id = index.addSegment(key, h.headerBytes, h.dataSlots());
        for (int i = 0; i < h.count(); i++) {
            long block = h.blocks[i];
            if (h.kinds[i] == SegmentHeader.DATA) {
                checkBlock(index, key, block, 1);
                index.set((int) block, BlockIndex.location(id, h.args[i], h.crcs[i]));
            } else if (h.kinds[i] == SegmentHeader.ZERO) {
                checkBlock(index, key, block, h.args[i]);
                for (int k = 0; k < h.args[i]; k++) {
                    index.set((int) block + k, 0);
                }
            } else {
                throw new CorruptObjectException(key + " entry " + i + " has unknown kind " + h.kinds[i]);
            }
        }
    }

    private static void checkBlock(BlockIndex index, String key, long block, long count) {
        if (block < 0 || count < 1 || block + count > index.blocks()) {
            throw new CorruptObjectException(key + " names blocks outside the volume");
        }
    }

    /** The committed bytes of {@code block} at {@code location}, checksum verified. */
    public CompletableFuture<CleanBlock> fetch(long location) {
        BlockIndex.SegmentRef ref = index.segment(BlockIndex.segmentOf(location));
        int bs = header.blockSize();
        long offset = ref.headerBytes() + (long) BlockIndex.slotOf(location) * bs;
        return store.getRange(ref.key(), offset, bs).thenApply(data -> {
            stats.storeReadBytes.add(data.length);
            if (data.length != bs || Codec.crc32c(data, 0, bs) != BlockIndex.crcOf(location)) {
                stats.checksumErrors.increment();
                throw new CorruptBlockException(ref.key() + " block at " + offset + " fails its checksum", location);
            }
            return new CleanBlock(location, data, false);
        });
    }

    /** Waits for a store call, unwrapping its failure. */
    public static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (ExecutionException e) {
            throw unwrap(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for the store", e);
        }
    }

    public static RuntimeException unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t instanceof RuntimeException r ? r : new StoreException(t.toString(), t);
    }
}
