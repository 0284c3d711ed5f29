package io.ublk.blockcache.bench;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.cache.CacheConfig;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.s3.S3ObjectStore;
import io.ublk.s3.S3StoreConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;

/**
 * Upload throughput of the write-back cache against raw AWS SDK PUTs, at the same concurrency,
 * against the same S3-compatible server (scripts/bench-cache starts s3proxy and runs this once
 * per measurement, in a new JVM each time). {@code --mode}:
 *
 * <ul>
 *   <li><b>raw</b>: {@code S3AsyncClient.putObject} of {@code --objects} new objects of
 *       {@code --object-size} bytes with {@code --parallelism} in flight (a new PUT starts the
 *       moment one answers), on a client built like {@link S3ObjectStore}'s (Netty; the SDK
 *       retries a PUT that failed, where the store retries itself). MiB/s = bytes / (first PUT start .. last answer).</li>
 *   <li><b>drain</b>: a new {@link CacheTarget} volume of the same total size over an
 *       {@link S3ObjectStore} on the same server, {@link CacheConfig} defaults except
 *       {@code maxDirty} (above the total, so no write waits). One (or {@code --writers})
 *       threads write the volume sequentially in {@code --write-size} writes while every store
 *       PUT is held; then the PUTs go and {@link CacheTarget#drain} runs. MiB/s = segment bytes
 *       uploaded / (release .. drain returned): the write-back upload alone.</li>
 *   <li><b>live</b>: the same with nothing held: writes and uploads share the CPUs. Upload
 *       MiB/s = segment bytes / (first PUT .. drain returned); end to end = bytes written /
 *       (first write .. drain returned).</li>
 * </ul>
 *
 * Each warms up first with the run it is about to measure ({@code --warmup} objects, by default as
 * many as measured: raw PUTs, or a cache volume of that size written and drained the same way), so
 * the JIT has compiled the path before the clock runs and deletes what it PUT when done, so every measurement finds the same
 * server. Prints one {@code key value} line per result, keys prefixed with mode and
 * {@code --round}; CPU use per thread group goes to stderr.
 *
 * <p><b>Why a whole process, not JMH</b> (the component benchmarks are in {@code src/jmh}): what
 * it measures is a system, not a method. A measurement is one upload of a GiB through the cache,
 * the SDK, loopback HTTP and an s3proxy in a JVM of its own, and its result is a ratio against
 * raw SDK PUTs to that same server. Each measurement needs a JVM of its own started from the
 * same host and server state: this host hands freed memory back to its hypervisor, so a run
 * that reuses memory another run just freed is flattered (docs/testing.md), and the server must
 * hold the same objects before every run. The window it times is between events inside the run
 * (PUTs released .. drain returned, first PUT .. drain returned), not around a call; its
 * warm-up ends on a condition (the JIT nearly idle), not after a time; and scripts/bench-cache
 * interleaves raw, drain and live over rounds and takes medians. JMH forks a new benchmark JVM
 * but knows nothing of the server, and its iterations would share one JVM's memory.
 */
public final class UploadBench {
    private UploadBench() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = BenchArgs.parse(argv, "endpoint", "bucket", "identity", "secret", "cache-dir");
        URI endpoint = URI.create(a.get("endpoint"));
        String bucket = a.get("bucket");
        String identity = a.get("identity");
        String secret = a.get("secret");
        Path cacheDir = Path.of(a.get("cache-dir"));
        int objects = Integer.parseInt(a.getOrDefault("objects", "32"));
        int objectSize = Integer.parseInt(a.getOrDefault("object-size", Long.toString(CacheConfig.DEFAULT_SEGMENT)));
        int parallelism = Integer.parseInt(a.getOrDefault("parallelism", Integer.toString(CacheConfig.DEFAULT_UPLOAD_PARALLELISM)));
        int writeSize = Integer.parseInt(a.getOrDefault("write-size", Integer.toString(128 << 10)));
        int writers = Integer.parseInt(a.getOrDefault("writers", "1"));
        // As much as is measured, by default: a shorter warm-up left the JIT compiling the upload
        // path during the measurement (C2 took a fifth of the host's CPU in the measured window).
        int warmup = Integer.parseInt(a.getOrDefault("warmup", Integer.toString(objects)));
        int maxWarmups = Integer.parseInt(a.getOrDefault("max-warmups", "6"));
        Path timeline = a.containsKey("timeline") ? Path.of(a.get("timeline")) : null;
        if (parallelism != CacheConfig.DEFAULT_UPLOAD_PARALLELISM) {
            throw new IllegalArgumentException("the cache uploads with " + CacheConfig.DEFAULT_UPLOAD_PARALLELISM
                    + " PUTs in flight (not configurable from here): --parallelism must match: " + parallelism);
        }
        StaticCredentialsProvider creds = StaticCredentialsProvider.create(AwsBasicCredentials.create(identity, secret));
        long total = (long) objects * objectSize;
        S3StoreConfig storeConfig = S3StoreConfig.defaults(bucket).withEndpoint(endpoint);

        out("objects", objects);
        out("object_bytes", objectSize);
        out("total_bytes", total);
        out("parallelism", parallelism);
        out("write_bytes", writeSize);
        out("writers", writers);
        out("store_max_concurrency", storeConfig.maxConcurrency());
        out("store_multipart_threshold", storeConfig.multipartThreshold());

        String mode = a.getOrDefault("mode", "raw");
        int round = Integer.parseInt(a.getOrDefault("round", "1"));
        String label = mode + round;
        // One JVM per measurement (scripts/bench-cache runs raw, drain and live in turn, for some
        // rounds): each starts from the same host state, warms up alike, and leaves nothing behind.
        switch (mode) {
            case "raw" -> {
                // made once, before the settling GC: their bytes are not the PUTs' cost
                byte[][] bodies = new byte[parallelism][objectSize];
                for (byte[] b : bodies) {
                    ThreadLocalRandom.current().nextBytes(b);
                }
                try (S3AsyncClient client = rawClient(storeConfig, creds)) {
                    warmUp(label, maxWarmups, () -> {
                        raw(client, bucket, "warm/", warmup, bodies);
                        deleteRaw(client, bucket, "warm/", warmup);
                    });
                    settle();
                    Map<String, Long> cpu0 = cpu();
                    double[] r = raw(client, bucket, label + "/", objects, bodies);
                    cpuReport(label, cpu0);
                    deleteRaw(client, bucket, label + "/", objects);
                    out(label + "_seconds", r[0]);
                    out(label + "_mibps", r[1]);
                    out(label + "_mean_in_flight", r[2]);
                }
            }
            case "drain", "live" -> {
                warmUp(label, maxWarmups, () -> cache(storeConfig.withPrefix("warm"), creds, cacheDir, "warm",
                        (long) warmup * objectSize, writeSize, writers, "warm", null, mode.equals("drain")));
                cache(storeConfig.withPrefix(label), creds, cacheDir, label, total, writeSize, writers, label, timeline,
                        mode.equals("drain"));
            }
            default -> throw new IllegalArgumentException("--mode must be raw, drain or live: " + mode);
        }
    }

    private interface Run {
        void run() throws Exception;
    }

    /**
     * Runs the warm-up until one leaves the JIT nearly idle (under 200 ms of compilation), at
     * most {@code max} times: per-PUT code (the SDK's request path) reaches its compile
     * thresholds only after a few hundred PUTs, and compiling it inside the measured window cost
     * up to a fifth of this host's CPU there, more or less from run to run.
     */
    private static void warmUp(String label, int max, Run warm) throws Exception {
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        int n = 0;
        long compiled;
        do {
            long c0 = jit.getTotalCompilationTime();
            warm.run();
            n++;
            compiled = jit.getTotalCompilationTime() - c0;
            System.err.println("warm-up " + n + " of " + label + ": " + compiled + " ms compiling");
        } while (compiled >= 200 && n < max);
        out(label + "_warmups", n);
    }

    /**
     * Before the clock: a full collection, then a wait (up to 10 s) until the JIT compilers have
     * been idle for half a second. The warm-up (or the writes before a drain) leaves a queue of
     * compilations, and young objects that would otherwise be copied inside the measured window
     * (a drain's dirty block arrays, allocated by the writes just before: one such pause took
     * 88 ms of both cores). A server that has run for a while has neither.
     */
    private static void settle() throws InterruptedException {
        System.gc();
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        long deadline = System.nanoTime() + 10_000_000_000L;
        long last = jit.getTotalCompilationTime();
        int quiet = 0;
        while (quiet < 5 && System.nanoTime() < deadline) {
            Thread.sleep(100);
            long now = jit.getTotalCompilationTime();
            quiet = now == last ? quiet + 1 : 0;
            last = now;
        }
    }

    private static void deleteRaw(S3AsyncClient client, String bucket, String prefix, int n) {
        List<software.amazon.awssdk.services.s3.model.ObjectIdentifier> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = prefix + i;
            ids.add(software.amazon.awssdk.services.s3.model.ObjectIdentifier.builder().key(key).build());
        }
        client.deleteObjects(b -> b.bucket(bucket).delete(d -> d.objects(ids))).join();
    }

    /** CPU time of this JVM's threads so far, by thread name with the numbers taken out. */
    private static Map<String, Long> cpu() {
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        Map<String, Long> m = new java.util.TreeMap<>();
        m.put("process", processCpu());
        m.put("clock", System.nanoTime());
        m.put("uptime", java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime());
        long[] host = hostCpu();
        m.put("host-busy", host[0]);
        m.put("host-idle", host[1]);
        m.put("host-sys", host[2]);
        m.put("host-steal", host[3]);
        Long peer = Long.getLong("bench.peerPid");
        if (peer != null) {
            m.put("peer", peerCpu(peer));
        }
        long gcMillis = 0;
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            gcMillis += Math.max(0, gc.getCollectionTime());
        }
        m.put("gc-pause-ms", gcMillis * 1_000_000);
        for (var info : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (info != null) {
                long t = mx.getThreadCpuTime(info.getThreadId());
                if (t > 0) {
                    m.merge(info.getThreadName().replaceAll("[0-9]+", "N"), t, Long::sum);
                }
            }
        }
        return m;
    }

    /**
     * Host-wide CPU time from /proc/stat, in ns (jiffies of 10 ms): busy, idle, of the busy time
     * the kernel's (system, irq, softirq), and steal.
     */
    private static long[] hostCpu() {
        try {
            String[] f = java.nio.file.Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long busy = 0;
            long idle = 0;
            long sys = 0;
            for (int i = 1; i < f.length && i <= 8; i++) {
                long v = Long.parseLong(f[i]) * 10_000_000L;
                if (i == 4 || i == 5) {
                    idle += v;
                } else {
                    busy += v;
                }
                if (i == 3 || i == 6 || i == 7) {
                    sys += v;
                }
            }
            return new long[] {busy, idle, sys, f.length > 8 ? Long.parseLong(f[8]) * 10_000_000L : 0};
        } catch (java.io.IOException e) {
            return new long[] {0, 0, 0, 0};
        }
    }

    /** CPU time (user + system, ns) of another process, the S3 server when the script names it. */
    private static long peerCpu(long pid) {
        try {
            String stat = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

    private static long processCpu() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** Diagnostic (stderr): CPU ms each thread group spent since {@code before} (threads that ended are not counted). */
    private static void cpuReport(String label, Map<String, Long> before) {
        StringBuilder b = new StringBuilder("cpu " + label + ": process=" + (processCpu() - before.get("process")) / 1_000_000);
        cpu().forEach((k, v) -> {
            long d = (v - before.getOrDefault(k, 0L)) / 1_000_000;
            if ((d >= 20 || k.startsWith("gc") || k.startsWith("host") || k.equals("peer")) && !k.equals("process")
                    && !k.equals("clock") && !k.equals("uptime")) {
                b.append(' ').append(k).append('=').append(d);
            }
        });
        // the window on CLOCK_MONOTONIC (seconds), to cut a system-wide profile to it (perf record -k CLOCK_MONOTONIC)
        b.append(String.format(" window=%.6f,%.6f uptime-ms=%d,%d", before.get("clock") / 1e9, System.nanoTime() / 1e9,
                before.get("uptime"), java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime()));
        System.err.println(b);
    }

    /** The client {@link S3ObjectStore} builds for this config, with the SDK retrying in place of the store's own retries. */
    private static S3AsyncClient rawClient(S3StoreConfig c, StaticCredentialsProvider creds) {
        return S3AsyncClient.builder()
                .credentialsProvider(creds)
                .forcePathStyle(c.pathStyle())
                .endpointOverride(c.endpoint())
                .region(Region.US_EAST_1)
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .maxConcurrency(c.maxConcurrency())
                        .connectionTimeout(Duration.ofSeconds(10))
                        .connectionAcquisitionTimeout(c.apiCallTimeout()))
                .overrideConfiguration(o -> o
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy())
                        .apiCallAttemptTimeout(c.apiCallTimeout())
                        .apiCallTimeout(c.apiCallTimeout()))
                .build();
    }

    /** PUTs {@code n} objects, one body each in flight at a time; answers {seconds, MiB/s, mean in flight}. */
    private static double[] raw(S3AsyncClient client, String bucket, String prefix, int n, byte[][] bodies)
            throws InterruptedException {
        int size = bodies[0].length;
        int parallelism = bodies.length;
        // A body may be reused once the PUT reading it answered: one per permit.
        Semaphore permits = new Semaphore(parallelism);
        java.util.concurrent.ConcurrentLinkedQueue<byte[]> free = new java.util.concurrent.ConcurrentLinkedQueue<>(List.of(bodies));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger inFlight = new AtomicInteger();
        double[] inFlightNanos = {0};
        long[] last = {0};
        long t0 = System.nanoTime();
        last[0] = t0;
        List<CompletableFuture<?>> all = new ArrayList<>();
        for (int i = 0; i < n && failure.get() == null; i++) {
            permits.acquire();
            byte[] body = free.poll();
            synchronized (inFlightNanos) {
                long now = System.nanoTime();
                inFlightNanos[0] += (double) inFlight.getAndIncrement() * (now - last[0]);
                last[0] = now;
            }
            String key = prefix + i;
            CompletableFuture<?> f = client.putObject(b -> b.bucket(bucket).key(key).contentLength((long) size),
                    AsyncRequestBody.fromBytesUnsafe(body)).whenComplete((r, ex) -> {
                        synchronized (inFlightNanos) {
                            long now = System.nanoTime();
                            inFlightNanos[0] += (double) inFlight.getAndDecrement() * (now - last[0]);
                            last[0] = now;
                        }
                        if (ex != null) {
                            failure.compareAndSet(null, ex);
                        }
                        free.add(body);
                        permits.release();
                    });
            all.add(f);
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).exceptionally(ex -> null).join();
        if (failure.get() != null) {
            throw new IllegalStateException("raw PUT failed: " + failure.get(), failure.get());
        }
        long t1 = last[0];
        double s = (t1 - t0) / 1e9;
        return new double[] {s, (double) n * size / (1 << 20) / s, inFlightNanos[0] / (t1 - t0)};
    }

    /** Writes a new volume of {@code total} bytes sequentially, drains it, prints the numbers under {@code label}. */
    private static void cache(S3StoreConfig storeConfig, StaticCredentialsProvider creds, Path cacheDir, String volume,
            long bytes, int writeSize, int writers, String label, Path timeline, boolean gated) throws Exception {
        long total = bytes / writeSize * writeSize; // whole blocks, whatever --object-size is
        CacheConfig config = CacheConfig.of(cacheDir, volume, total)
                .withSizes(total + (64L << 20), CacheConfig.DEFAULT_CLEAN_CACHE, CacheConfig.DEFAULT_SEGMENT)
                .withDirtyMemory(Long.getLong("bench.dirtyMemory", CacheConfig.DEFAULT_DIRTY_MEMORY));
        S3ObjectStore s3 = new S3ObjectStore(storeConfig, creds);
        TimedStore timed = TimedStore.wrap(s3);
        try (CacheTarget cache = CacheTarget.open(config, timed.store()); Arena arena = Arena.ofShared()) {
            timed.reset(); // the volume header written by open is not part of the run
            if (gated) {
                timed.holdPuts();
            }
            // Random source bytes, like a bounce slot's; each write takes a different slice.
            MemorySegment src = arena.allocate(1 << 20);
            byte[] noise = new byte[1 << 20];
            ThreadLocalRandom.current().nextBytes(noise);
            MemorySegment.copy(MemorySegment.ofArray(noise), 0, src, 0, noise.length);
            AtomicInteger pending = new AtomicInteger();
            AtomicInteger errors = new AtomicInteger();
            long share = total / writers;
            if (!gated) {
                settle();
            }
            long t0 = System.nanoTime();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                long from = w * share;
                long to = w == writers - 1 ? total : from + share;
                threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                    int slice = 0;
                    for (long off = from; off < to; off += writeSize) {
                        int len = (int) Math.min(writeSize, to - off);
                        MemorySegment s = src.asSlice((slice++ * 4096L) % ((1 << 20) - writeSize + 1), len);
                        int r = cache.write(off, s, len, 0, off, (tag, res) -> {
                            if (res < 0) {
                                errors.incrementAndGet();
                            }
                            pending.decrementAndGet();
                        });
                        if (r == BlockTarget.PENDING) {
                            // The slot must stay valid until the answer: the source never changes here.
                            pending.incrementAndGet();
                        } else if (r < 0) {
                            errors.incrementAndGet();
                        }
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            while (pending.get() > 0) {
                Thread.onSpinWait();
            }
            long written = System.nanoTime();
            if (gated) {
                settle(); // what the writes queued for the compiler and left for the collector is not the upload's cost
            }
            Map<String, Long> cpu0 = cpu();
            if (gated) {
                timed.releasePuts();
            }
            cache.drain();
            cpuReport(label + (gated ? " upload" : " writes+upload"), cpu0);
            long drained = System.nanoTime();
            if (errors.get() > 0) {
                throw new IllegalStateException(errors.get() + " writes failed");
            }
            var st = cache.stats();
            double uploadS = (drained - timed.firstStart()) / 1e9;
            out(label + "_write_seconds", (written - t0) / 1e9);
            out(label + "_write_mibps", total / (double) (1 << 20) / ((written - t0) / 1e9));
            out(label + "_first_put_after_seconds", (timed.firstStart() - t0) / 1e9);
            out(label + "_upload_seconds", uploadS);
            out(label + "_uploaded_bytes", st.uploadedBytes());
            out(label + "_upload_mibps", st.uploadedBytes() / (double) (1 << 20) / uploadS);
            out(label + "_end_to_end_seconds", (drained - t0) / 1e9);
            out(label + "_end_to_end_mibps", total / (double) (1 << 20) / ((drained - t0) / 1e9));
            out(label + "_rounds", st.uploadRounds());
            out(label + "_segment_puts", st.segmentPuts());
            out(label + "_manifest_puts", st.manifestPuts());
            out(label + "_checkpoint_puts", st.checkpointPuts());
            out(label + "_put_bytes", timed.bytes());
            out(label + "_write_waits", st.writeWaits());
            out(label + "_mean_in_flight", timed.meanInFlight(drained));
            out(label + "_max_in_flight", timed.maxInFlight());
            if (timeline != null) {
                java.nio.file.Files.write(timeline.resolveSibling(timeline.getFileName() + "." + label), timed.timeline());
            }
        } finally {
            // the server keeps its objects in tmpfs: leave room for the next runs
            try (s3) {
                s3.deleteAll(s3.listAll("").join().stream().map(o -> o.key()).toList()).join();
            }
            try (var files = java.nio.file.Files.walk(cacheDir.resolve(volume))) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    java.nio.file.Files.delete(f);
                }
            }
        }
    }

    private static void out(String key, Object value) {
        System.out.println(key + " " + (value instanceof Double d ? String.format("%.3f", d) : value));
    }
}
