package io.ublk.blockcache.cache;

import com.github.benmanes.caffeine.cache.Cache;
import io.ublk.s3.PreconditionFailedException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns frozen epochs into store generations, one round at a time.
 *
 * <p>A round: freeze the current epoch (an exact image of the device at one instant), merge
 * partially written blocks with their committed bytes, pack the blocks into segments, PUT them
 * (invisible until named), then PUT the next manifest with If-None-Match: that one PUT switches
 * the store from the previous image to this one. Only after it succeeded does the round point the
 * index at the new segments, move the bytes into the clean cache, release the dirty versions and
 * trim the journal. A failure anywhere before the manifest leaves the previous image in force;
 * the round retries with backoff, and writes keep landing in the next epoch meanwhile.
 */
final class Uploader implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Uploader.class);
    /** Segments named by manifests since the last checkpoint before the next round writes one. */
    static final int MAX_CHAIN = 64;
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final CacheTarget target;
    private final Volume volume;
    private final DirtyTable dirty;
    private final Cache<Integer, CleanBlock> clean;
    private final Journal journal;
    private final CacheStats stats;
    private final CacheConfig config;
    private final int slotsPerSegment;
    private final Thread thread;
    private volatile boolean stopping;
    private volatile long drainTarget = -1;
    private volatile String fenced;
    private final Object progress = new Object();

    Uploader(CacheTarget target, Volume volume, DirtyTable dirty, Cache<Integer, CleanBlock> clean, Journal journal,
            CacheStats stats, CacheConfig config) {
        this.target = target;
        this.volume = volume;
        this.dirty = dirty;
        this.clean = clean;
        this.journal = journal;
        this.stats = stats;
        this.config = config;
        this.slotsPerSegment = (int) Math.max(1, Math.min(BlockIndex.MAX_SLOTS, config.segmentBytes() / volume.blockSize()));
        this.thread = Thread.ofPlatform().daemon().name("uploader-" + volume.name).unstarted(this);
    }

    void start() {
        thread.start();
    }

    void wake() {
        LockSupport.unpark(thread);
    }

    /** Why this volume stopped uploading (another writer committed a generation first), or null. */
    String fenced() {
        return fenced;
    }

    /** Blocks until every write of epochs up to {@code epoch} is in a committed generation. */
    void awaitCommitted(long epoch) throws InterruptedException {
        synchronized (progress) {
            if (drainTarget < epoch) {
                drainTarget = epoch;
            }
        }
        wake();
        synchronized (progress) {
            while (volume.committedEpoch < epoch) {
                if (fenced != null) {
                    throw new IllegalStateException(fenced);
                }
                if (stopping) {
                    throw new IllegalStateException("the volume is closing");
                }
                progress.wait(100);
            }
        }
    }

    void stop() {
        stopping = true;
        wake();
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (progress) {
            progress.notifyAll();
        }
    }

    @Override
    public void run() {
        while (!stopping && fenced == null) {
            if (!due()) {
                LockSupport.parkNanos(POLL_NANOS);
                continue;
            }
            round();
            target.resumeWaiters();
        }
    }

    private boolean due() {
        if (drainTarget > volume.committedEpoch || target.hasWaiters()) {
            return true;
        }
        if (dirty.currentBytes() >= config.segmentBytes() || stats.dirtyBytes() >= config.maxDirtyBytes() / 2) {
            return true;
        }
        long first = dirty.currentFirstTouch();
        return first != 0 && System.nanoTime() - first >= config.uploadDelay().toNanos();
    }

    private void round() {
        long e = dirty.freeze();
        DirtyTable.Frozen frozen = dirty.collect(e);
        long backoff = 100;
        while (true) {
            try {
                if (frozen.count() > 0) {
                    commit(frozen);
                }
                break;
            } catch (PreconditionFailedException lost) {
                fenced = "volume '" + volume.name + "' was opened by another writer (" + lost.getMessage()
                        + "); this one stopped uploading";
                LOG.error(fenced);
                return;
            } catch (RuntimeException ex) {
                if (stopping) {
                    return;
                }
                stats.uploadFailures.increment();
                LOG.warn("volume '{}': upload round of epoch {} failed, retrying in {} ms: {}", volume.name, e, backoff,
                        ex.toString());
                if (stopping) {
                    return;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoff + ThreadLocalRandom.current().nextLong(backoff)));
                if (stopping) {
                    return;
                }
                backoff = Math.min(backoff * 2, 30_000);
            }
        }
        synchronized (progress) {
            volume.committedEpoch = e;
            progress.notifyAll();
        }
        journal.trim(e);
    }

    /** Uploads one frozen epoch and commits it as the next generation. */
    private void commit(DirtyTable.Frozen frozen) {
        int bs = volume.blockSize();
        for (int i = 0; i < frozen.count(); i++) {
            DirtyBlock d = frozen.versions()[i];
            if (d.data != null && !d.full()) {
                d.mergeBase(target.committedBytes(frozen.blocks()[i]));
            }
        }
        long gen = volume.generation + 1;
        List<SegmentPlan> plans = plan(frozen, gen);
        List<CompletableFuture<String>> puts = new ArrayList<>();
        long bytes = 0;
        for (SegmentPlan p : plans) {
            byte[] object = p.encode(frozen, bs);
            bytes += object.length;
            puts.add(volume.store().put(p.key, object));
            if (puts.size() >= config.uploadParallelism()) {
                Volume.await(CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)));
                puts.clear();
            }
        }
        Volume.await(CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)));
        stats.segmentPuts.add(plans.size());

        // What the index will say once this generation commits.
        long[] locations = new long[frozen.count()];
        int[] ids = new int[plans.size()];
        for (int s = 0; s < plans.size(); s++) {
            SegmentPlan p = plans.get(s);
            ids[s] = volume.index.addSegment(p.key, p.header.headerBytes);
            for (int i = 0; i < p.header.count(); i++) {
                if (p.header.kinds[i] == SegmentHeader.DATA) {
                    locations[p.frozenIndex[i]] = BlockIndex.location(ids[s], p.header.args[i], p.header.crcs[i]);
                }
            }
        }
        List<String> chain = new ArrayList<>(volume.chain);
        plans.forEach(p -> chain.add(p.key));
        long checkpoint = volume.checkpoint;
        if (chain.size() > MAX_CHAIN) {
            long[] all = new long[volume.index.blocks()];
            for (int b = 0; b < all.length; b++) {
                all[b] = volume.index.get(b);
            }
            for (int i = 0; i < frozen.count(); i++) {
                all[frozen.blocks()[i]] = locations[i];
            }
            Volume.await(volume.store().put(Keys.checkpoint(volume.name, gen),
                    Checkpoint.encode(volume.header.uuid(), gen, all, volume.index)));
            stats.checkpointPuts.increment();
            checkpoint = gen;
            chain.clear();
        }
        Manifest m = new Manifest(volume.header.uuid(), volume.writer, gen, frozen.epoch(), checkpoint, chain);
        putManifest(m);

        // Committed: readers may now find the bytes through the index instead of the dirty table.
        for (int i = 0; i < frozen.count(); i++) {
            int b = frozen.blocks()[i];
            DirtyBlock d = frozen.versions()[i];
            volume.index.set(b, locations[i]);
            if (d.data != null) {
                clean.put(b, new CleanBlock(locations[i], d.data));
            } else {
                clean.invalidate(b);
            }
            dirty.release(b, d);
        }
        volume.generation = gen;
        volume.checkpoint = checkpoint;
        volume.chain.clear();
        volume.chain.addAll(chain);
        stats.committedGeneration.set(gen);
        stats.uploadRounds.increment();
        stats.uploadedBytes.add(bytes);
    }

    private void putManifest(Manifest m) {
        String key = Keys.manifest(volume.name, m.generation());
        byte[] bytes = m.encode();
        try {
            Volume.await(volume.store().putIfAbsent(key, bytes));
        } catch (PreconditionFailedException e) {
            // A retried PUT whose first attempt did land looks the same as losing the race: tell them apart.
            byte[] there = Volume.await(volume.store().get(key)).data();
            if (!Arrays.equals(there, bytes)) {
                throw new PreconditionFailedException(key + " (written by cache " + Manifest.decode(key, there).writer() + ")");
            }
        }
        stats.manifestPuts.increment();
    }

    /** Which frozen blocks go into which segment: data in block order, runs of zeroed blocks in the first. */
    private List<SegmentPlan> plan(DirtyTable.Frozen frozen, long gen) {
        List<SegmentPlan> plans = new ArrayList<>();
        int attempt = ThreadLocalRandom.current().nextInt() & Integer.MAX_VALUE;
        List<long[]> zeroRuns = new ArrayList<>();
        List<Integer> data = new ArrayList<>();
        for (int i = 0; i < frozen.count(); i++) {
            int b = frozen.blocks()[i];
            if (frozen.versions()[i].data == null) {
                long[] last = zeroRuns.isEmpty() ? null : zeroRuns.get(zeroRuns.size() - 1);
                if (last != null && last[0] + last[1] == b && last[1] < Integer.MAX_VALUE) {
                    last[1]++;
                } else {
                    zeroRuns.add(new long[] {b, 1});
                }
            } else {
                data.add(i);
            }
        }
        int n = 0;
        int at = 0;
        do {
            int count = Math.min(slotsPerSegment, data.size() - at);
            List<long[]> zeros = n == 0 ? zeroRuns : List.of();
            plans.add(new SegmentPlan(Keys.segment(volume.name, gen, attempt, n), volume.header.uuid(), gen, frozen,
                    data.subList(at, at + count), zeros));
            at += count;
            n++;
        } while (at < data.size());
        return plans;
    }

    /** One segment to write: its header and which frozen entries it carries. */
    private static final class SegmentPlan {
        final String key;
        final SegmentHeader header;
        /** For each header entry, the frozen index it came from (-1 for a zero run). */
        final int[] frozenIndex;

        SegmentPlan(String key, java.util.UUID uuid, long gen, DirtyTable.Frozen frozen, List<Integer> data,
                List<long[]> zeros) {
            this.key = key;
            int count = zeros.size() + data.size();
            long[] blocks = new long[count];
            int[] kinds = new int[count];
            int[] args = new int[count];
            int[] crcs = new int[count];
            frozenIndex = new int[count];
            int e = 0;
            for (long[] run : zeros) {
                blocks[e] = run[0];
                kinds[e] = SegmentHeader.ZERO;
                args[e] = (int) run[1];
                frozenIndex[e] = -1;
                e++;
            }
            int slot = 0;
            for (int i : data) {
                byte[] bytes = frozen.versions()[i].data;
                blocks[e] = frozen.blocks()[i];
                kinds[e] = SegmentHeader.DATA;
                args[e] = slot++;
                crcs[e] = Codec.crc32c(bytes, 0, bytes.length);
                frozenIndex[e] = i;
                e++;
            }
            this.header = new SegmentHeader(uuid, gen, blocks, kinds, args, crcs);
        }

        byte[] encode(DirtyTable.Frozen frozen, int bs) {
            int slots = 0;
            for (int k : header.kinds) {
                if (k == SegmentHeader.DATA) {
                    slots++;
                }
            }
            byte[] out = new byte[header.headerBytes + slots * bs];
            byte[] h = header.encode();
            System.arraycopy(h, 0, out, 0, h.length);
            for (int i = 0; i < header.count(); i++) {
                if (header.kinds[i] == SegmentHeader.DATA) {
                    System.arraycopy(frozen.versions()[frozenIndex[i]].data, 0, out, header.headerBytes + header.args[i] * bs, bs);
                }
            }
            return out;
        }
    }
}
