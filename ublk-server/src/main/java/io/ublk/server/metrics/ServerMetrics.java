package io.ublk.server.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
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
 * cheap counters at scrape time, nothing on the I/O path), and queue placement per device.
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
        deviceMeters.put(dev.id(), meters);
    }

    /** Drops a deleted device's meters. */
    public void deviceRemoved(UblkDevice dev) {
        List<Meter> meters = deviceMeters.remove(dev.id());
        if (meters != null) {
            meters.forEach(registry::remove);
        }
    }
}
