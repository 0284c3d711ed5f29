package io.ublk.server.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.ublk.blockcache.cache.CacheStats;
import io.ublk.server.buffer.BouncePoolStats;
import io.ublk.server.device.DeviceSet;
import io.ublk.server.device.UblkDevice;
import io.ublk.server.worker.Worker;
import io.ublk.server.worker.WorkerStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The server's metrics: per-worker bounce pool and request counters (read from the workers'
 * cheap counters at scrape time, nothing on the I/O path), queue placement per device, and each
 * cached device's cache and store counters.
 */
public final class ServerMetrics {
    private final MeterRegistry registry;
    private final Map<Integer, List<Meter>> deviceMeters = new ConcurrentHashMap<>();

    public ServerMetrics(MeterRegistry registry, DeviceSet devices) {
        this.registry = registry;
        Gauge.builder("ublk.devices", devices, d -> d.devices().size())
                .description("devices exported by this process").register(registry);
        for (Worker w : devices.workers().workers()) {
            bindWorker(w);
        }
    }

    private void bindWorker(Worker w) {
        Tags tags = Tags.of("worker", Integer.toString(w.index()), "cpu", Integer.toString(w.cpu()));
        counter("ublk.worker.requests", "requests received from the kernel", w, tags, s -> s.requests());
        counter("ublk.worker.inline.answers", "requests the target answered without a thread hop", w, tags,
                s -> s.inlineAnswers());
        counter("ublk.worker.late.answers", "requests answered later through the answer queue", w, tags,
                s -> s.lateAnswers());
        counter("ublk.worker.errors", "requests committed with an error", w, tags, s -> s.errors());
        counter("ublk.worker.target.errors", "target calls that threw (that request answered EIO, the worker served on)",
                w, tags, s -> s.targetErrors());
        counter("ublk.worker.late.answers.dropped",
                "late answers no request could take (bad or stale tag, queue detached at teardown)", w, tags,
                s -> s.lateAnswersDropped());
        Gauge.builder("ublk.worker.tags", w, x -> x.stats().tags()).tags(tags)
                .description("tags of the queues placed on this worker").register(registry);
        counter("ublk.bounce.acquires", "bounce slots handed out", w, tags, s -> pool(s).acquires());
        counter("ublk.bounce.backpressure.waits", "requests that waited for a bounce slot (pool undersized if sustained)",
                w, tags, s -> pool(s).backpressureWaits());
        gauge("ublk.bounce.slots.in.use", "bounce slots in use", w, tags, s -> pool(s).inUse());
        gauge("ublk.bounce.slots.peak", "most bounce slots ever in use at once", w, tags, s -> pool(s).peakInUse());
        gauge("ublk.bounce.slots", "bounce slots in the pool", w, tags, s -> pool(s).slotCount());
        gauge("ublk.bounce.pool.bytes", "bounce pool size (the hard bound)", w, tags, s -> pool(s).poolBytes());
    }

    private static BouncePoolStats pool(WorkerStats s) {
        return s.pool() != null ? s.pool() : new BouncePoolStats(0, 0, 0, 0, 0, 0, 0);
    }

    private void counter(String name, String help, Worker w, Tags tags, ToDoubleFunction<WorkerStats> f) {
        FunctionCounter.builder(name, w, x -> f.applyAsDouble(x.stats())).tags(tags).description(help).register(registry);
    }

    private void gauge(String name, String help, Worker w, Tags tags, ToDoubleFunction<WorkerStats> f) {
        Gauge.builder(name, w, x -> f.applyAsDouble(x.stats())).tags(tags).description(help).register(registry);
    }

    /** Records where the device's queues were placed: {@code ublk_queue_worker{device,queue}} = worker index. */
    public void deviceAdded(UblkDevice dev) {
        List<Meter> meters = new ArrayList<>();
        List<Worker> placed = dev.workerOfQueue();
        for (int qid = 0; qid < placed.size(); qid++) {
            Worker w = placed.get(qid);
            meters.add(Gauge.builder("ublk.queue.worker", w, Worker::index)
                    .tags("device", Integer.toString(dev.id()), "queue", Integer.toString(qid), "cpu",
                            Integer.toString(w.cpu()))
                    .description("the worker serving a device queue").register(registry));
        }
        deviceMeters.computeIfAbsent(dev.id(), id -> new ArrayList<>()).addAll(meters);
    }

    /**
     * Binds a cached device's {@link CacheStats} ({@code device} and {@code volume} labels), read at
     * scrape time like the worker meters.
     */
    public void cacheAdded(UblkDevice dev, String volume, CacheStats stats) {
        Tags tags = Tags.of("device", Integer.toString(dev.id()), "volume", volume);
        List<Meter> m = new ArrayList<>();
        m.add(Gauge.builder("ublk.cache.dirty.bytes", stats, CacheStats::dirtyBytes).tags(tags)
                .description("dirty block bytes not yet in a committed generation (in memory or only in the journal)")
                .register(registry));
        m.add(Gauge.builder("ublk.cache.dirty.memory.bytes", stats, CacheStats::dirtyMemory).tags(tags)
                .description("dirty block bytes held in memory").register(registry));
        m.add(Gauge.builder("ublk.cache.clean.bytes", stats, CacheStats::cleanBytes).tags(tags)
                .description("block bytes the clean cache holds in heap (bounded by --clean-cache)").register(registry));
        m.add(Gauge.builder("ublk.cache.journal.disk.bytes", stats, CacheStats::journalDiskBytes).tags(tags)
                .description("bytes of journal files on disk").register(registry));
        m.add(Gauge.builder("ublk.cache.failed", stats, s -> s.failed() ? 1 : 0).tags(tags)
                .description("1 once the volume stopped serving for good (EIO until a restart; the log says why)")
                .register(registry));
        m.add(Gauge.builder("ublk.cache.journal.stalled", stats, s -> s.journalStalled() ? 1 : 0).tags(tags)
                .description("1 while writes wait because the cache disk refused a journal append (full or failing); tried again every 100 ms")
                .register(registry));
        m.add(Gauge.builder("ublk.cache.committed.generation", stats, CacheStats::committedGeneration).tags(tags)
                .description("the store generation this cache last committed or loaded").register(registry));
        m.add(cacheCounter("ublk.cache.read.hits", "blocks a read found in memory", stats, tags, CacheStats::readHits));
        m.add(cacheCounter("ublk.cache.read.misses", "blocks a read fetched from the store", stats, tags,
                CacheStats::readMisses));
        m.add(cacheCounter("ublk.store.read.bytes", "bytes read from the store", stats, tags,
                CacheStats::storeReadBytes));
        m.add(cacheCounter("ublk.store.checksum.errors", "store reads whose CRC32C did not match (each answered EIO)",
                stats, tags, CacheStats::checksumErrors));
        m.add(cacheCounter("ublk.cache.damaged.blocks", "committed blocks an upload found damaged in the store: writes to part of one cannot be merged, its reads answer EIO until a whole-block write replaces it",
                stats, tags, CacheStats::damagedBlocks));
        m.add(cacheCounter("ublk.cache.journal.bytes", "bytes appended to the journal", stats, tags,
                CacheStats::journalBytes));
        m.add(cacheCounter("ublk.cache.journal.syncs", "journal fdatasyncs (one covers every FLUSH waiting)", stats,
                tags, CacheStats::journalSyncs));
        m.add(cacheCounter("ublk.cache.write.waits", "writes that waited because dirty data reached its bound", stats,
                tags, CacheStats::writeWaits));
        m.add(cacheCounter("ublk.cache.upload.rounds", "upload rounds committed", stats, tags,
                CacheStats::uploadRounds));
        m.add(cacheCounter("ublk.cache.upload.bytes", "block bytes uploaded", stats, tags, CacheStats::uploadedBytes));
        m.add(cacheCounter("ublk.cache.upload.failures", "upload rounds that failed and will be retried", stats, tags,
                CacheStats::uploadFailures));
        m.add(cacheCounter("ublk.cache.io.timeouts", "requests answered EIO after waiting on the store or for room longer than --io-timeout",
                stats, tags, CacheStats::ioTimeouts));
        m.add(cacheCounter("ublk.cache.journal.write.failures", "journal appends the cache disk refused (ENOSPC, EIO); those writes waited and were tried again",
                stats, tags, CacheStats::journalWriteFailures));
        m.add(cacheCounter("ublk.store.segment.puts", "segment objects written", stats, tags, CacheStats::segmentPuts));
        m.add(cacheCounter("ublk.store.manifest.puts", "manifest objects written", stats, tags,
                CacheStats::manifestPuts));
        m.add(cacheCounter("ublk.store.checkpoint.puts", "checkpoint objects written", stats, tags,
                CacheStats::checkpointPuts));
        m.add(cacheCounter("ublk.cache.spilled.blocks", "dirty blocks whose bytes were left in the journal only (memory bound)",
                stats, tags, CacheStats::spilledBlocks));
        m.add(cacheCounter("ublk.cache.journal.sent.blocks", "spilled blocks uploaded straight from a mapping of the journal",
                stats, tags, CacheStats::journalSentBlocks));
        m.add(cacheCounter("ublk.cache.compactions", "compaction runs (live blocks of mostly dead segments rewritten)",
                stats, tags, CacheStats::compactions));
        m.add(cacheCounter("ublk.cache.compacted.bytes", "live block bytes compaction rewrote", stats, tags,
                CacheStats::compactedBytes));
        m.add(cacheCounter("ublk.store.deleted.objects", "store objects deleted once no generation named them", stats,
                tags, CacheStats::deletedObjects));
        m.add(cacheCounter("ublk.cache.flush.refused", "FLUSH and FUA answered EIO because the writer lease had lapsed or was lost",
                stats, tags, CacheStats::flushRefused));
        m.add(cacheCounter("ublk.cache.lease.renewals", "writer lease renewals that landed", stats, tags,
                CacheStats::leaseRenewals));
        m.add(cacheCounter("ublk.cache.lease.renew.failures", "writer lease renewals that failed (retried)", stats, tags,
                CacheStats::leaseRenewFailures));
        m.add(cacheCounter("ublk.cache.lease.lost", "writer leases lost to another writer (the volume stopped)", stats,
                tags, CacheStats::leasesLost));
        deviceMeters.computeIfAbsent(dev.id(), id -> new ArrayList<>()).addAll(m);
    }

    private Meter cacheCounter(String name, String help, CacheStats stats, Tags tags, ToDoubleFunction<CacheStats> f) {
        return FunctionCounter.builder(name, stats, f).tags(tags).description(help).register(registry);
    }

    /** Drops a deleted device's meters. */
    public void deviceRemoved(UblkDevice dev) {
        List<Meter> meters = deviceMeters.remove(dev.id());
        if (meters != null) {
            meters.forEach(registry::remove);
        }
    }
}
