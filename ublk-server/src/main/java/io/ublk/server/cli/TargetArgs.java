package io.ublk.server.cli;

import io.ublk.blockcache.BlockTarget;
import io.ublk.blockcache.DelayedTarget;
import io.ublk.blockcache.MemoryTarget;
import io.ublk.blockcache.NullTarget;
import io.ublk.blockcache.cache.CacheTarget;
import io.ublk.s3.ObjectStore;
import io.ublk.server.daemon.DeviceSpec;
import io.ublk.server.daemon.TargetOpener;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/**
 * The target options of one device, as {@code run} takes them and {@code device add} sends them:
 * parsed and checked here, for the CLI before it sends a request and for the daemon when it opens
 * a device (added, or recovered from its record). One store client per distinct store serves every
 * device of the daemon that uses it; it closes with the last of them.
 */
@Command(name = "device", description = "The target options of one device.")
final class TargetArgs {
    @Option(names = "--target", defaultValue = "memory", description = "memory, null or cache.")
    String target;

    @Option(names = "--size", converter = SizeConverter.class, description = "Device size; for cache it creates the volume (an existing one must match), omitted opens an existing one.")
    Long size;

    @Option(names = "--name", description = "A unique name for a memory or null device (a cache device is named by its volume).")
    String name;

    @Option(names = "--queues", defaultValue = "1", description = "Hardware queues. Default: ${DEFAULT-VALUE}.")
    int queues;

    @Option(names = "--depth", defaultValue = "64", description = "Tags per queue. Default: ${DEFAULT-VALUE}.")
    int depth;

    @Option(names = "--latency", converter = DurationConverter.class, description = "Answer every request this much later (tests).")
    Duration latency;

    @Mixin CacheOptions cache;
    @Mixin StoreOptions store;

    /** Options that choose how this one open goes, never kept in a device's record. */
    private static final Set<String> ONE_TIME = Set.of("--takeover", "--discard-journal", "--save-journal");

    static final String CACHE = "cache";

    /** Refuses options of another target, and a missing --size where one is needed. */
    static void check(String target, Long size, CacheOptions cache, StoreOptions store) {
        switch (target) {
            case "memory", "null" -> {
                List<String> wrong = new ArrayList<>(cache.given());
                wrong.addAll(store.given());
                if (!wrong.isEmpty()) {
                    throw new IllegalArgumentException(String.join(", ", wrong) + " apply to --target cache only");
                }
                if (size == null) {
                    throw new IllegalArgumentException("--size is required with --target " + target);
                }
            }
            case CACHE -> {
                cache.validate();
                store.validate(size == null || size == 0);
                if (size != null && size < 0) {
                    throw new IllegalArgumentException("--size must be >= 0: " + size);
                }
            }
            default -> throw new IllegalArgumentException("--target must be memory, null or cache: '" + target + "'");
        }
    }

    /** Parses and checks one device's options; paths made absolute against {@code cwd}. */
    static DeviceSpec parse(List<String> args, Path cwd) {
        TargetArgs a = new TargetArgs();
        CommandLine cl = new CommandLine(a);
        ParseResult r;
        try {
            r = cl.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        List<String> canonical = new ArrayList<>();
        List<String> recorded = new ArrayList<>();
        for (OptionSpec o : r.matchedOptions()) {
            String opt = o.longestName();
            List<String> values = o.arity().max() == 0 ? List.of() : o.originalStringValues();
            List<String> out = new ArrayList<>();
            if (values.isEmpty()) {
                out.add(opt);
            }
            for (String v : values) {
                out.add(opt);
                out.add(o.type() == Path.class ? cwd.resolve(v).toAbsolutePath().normalize().toString() : v);
            }
            canonical.addAll(out);
            if (!ONE_TIME.contains(opt)) {
                recorded.addAll(out);
            }
        }
        // the checks below read the paths, so they see them as the daemon will
        TargetArgs abs = new TargetArgs();
        new CommandLine(abs).parseArgs(canonical.toArray(String[]::new));
        check(abs.target, abs.size, abs.cache, abs.store);
        if (abs.name != null && !abs.name.matches("[A-Za-z0-9._-]{1,128}")) {
            throw new IllegalArgumentException("--name must be 1-128 of [A-Za-z0-9._-]: '" + abs.name + "'");
        }
        boolean cached = CACHE.equals(abs.target);
        if (cached && abs.name != null) {
            throw new IllegalArgumentException("--name applies to memory and null devices (a cache device is named by --volume)");
        }
        long bytes = abs.size == null ? 0 : abs.size;
        // the shape is checked now, with the cache volume's real size once it is open
        new io.ublk.server.device.DeviceConfig(bytes == 0 ? 4096 : bytes, abs.queues, abs.depth, 4096);
        String identity = cached ? "cache " + abs.cache.cacheDir.toAbsolutePath().normalize() + " " + abs.cache.volume
                : abs.name == null ? null : "name " + abs.name;
        return new DeviceSpec(canonical, recorded, abs.target, identity, cached ? abs.cache.volume : abs.name, bytes,
                abs.queues, abs.depth);
    }

    /** The daemon's {@link TargetOpener}: targets over shared store clients. */
    static final class Opener implements TargetOpener, AutoCloseable {
        private final Map<String, SharedStore> stores = new HashMap<>();
        /** Heap the open volumes' budgets may take; a volume whose budget does not fit is refused. */
        private final long heapLimit = Runtime.getRuntime().maxMemory() - RunCommand.HEAP_RESERVE;
        private long heapReserved;

        @Override
        public DeviceSpec parse(List<String> args, Path cwd) {
            return TargetArgs.parse(args, cwd);
        }

        @Override
        public Opened open(DeviceSpec spec) {
            TargetArgs a = new TargetArgs();
            new CommandLine(a).parseArgs(spec.args().toArray(String[]::new));
            if (!CACHE.equals(a.target)) {
                BlockTarget base = "null".equals(a.target) ? new NullTarget(a.size) : new MemoryTarget(a.size);
                return new Opened(a.delayed(base), null, null, () -> {});
            }
            String key = a.store.key();
            var config = a.cache.config(a.cache.volume, a.size == null ? 0 : a.size);
            long heap = io.ublk.blockcache.cache.HeapBudget.of(config, a.size == null ? 0 : a.size);
            SharedStore shared;
            synchronized (this) {
                if (heapReserved + heap > heapLimit) {
                    long mib = 1 << 20;
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "volume '%s' needs %d MiB "
                            + "of heap for its budgets (--clean-cache, twice --dirty-memory, --segment-size, fixed) "
                            + "but the daemon's volumes hold %d of %d MiB: lower those options or raise the heap "
                            + "(UBLK_JAVA_OPTS=-Xmx...)", a.cache.volume, heap / mib, heapReserved / mib, heapLimit / mib));
                }
                heapReserved += heap;
                shared = stores.computeIfAbsent(key, k -> new SharedStore(k, a.store.open()));
                shared.users++;
            }
            try {
                CacheTarget t = CacheTarget.open(config, shared.store, a.cache.openOptions());
                java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
                return new Opened(a.delayed(t), t, a.cache.volume, () -> {
                    if (released.compareAndSet(false, true)) {
                        release(shared, heap);
                    }
                });
            } catch (RuntimeException e) {
                release(shared, heap);
                throw e;
            }
        }

        private synchronized void release(SharedStore s, long heap) {
            heapReserved -= heap;
            if (--s.users == 0) {
                stores.remove(s.key);
                s.store.close();
            }
        }

        @Override
        public synchronized void close() {
            stores.values().forEach(s -> s.store.close());
            stores.clear();
        }
    }

    private static final class SharedStore {
        final String key;
        final ObjectStore store;
        int users;

        SharedStore(String key, ObjectStore store) {
            this.key = key;
            this.store = store;
        }
    }

    private BlockTarget delayed(BlockTarget t) {
        return latency == null ? t : new DelayedTarget(t, latency.toNanos());
    }
}
