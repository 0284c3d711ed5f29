package io.ublk.server.daemon;

import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.VolumeException;
import io.ublk.headers.UblkDevState;
import io.ublk.server.ctrl.DeviceInfo;
import io.ublk.server.ctrl.UblkControl;
import io.ublk.server.daemon.DaemonException.Code;
import io.ublk.server.device.DeviceConfig;
import io.ublk.server.device.DeviceSet;
import io.ublk.server.device.UblkDevice;
import io.ublk.server.metrics.ServerMetrics;
import io.ublk.server.sys.NativeException;
import io.ublk.server.worker.Worker;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The long-running server of every device of a host: devices are added and removed while the
 * others serve, each is kept as a record in the {@link StateDir}, and at start the daemon takes
 * back the devices its records name: a kernel device a dead daemon left (QUIESCED, its I/O
 * queued) is recovered in place (same {@code /dev/ublkbN}, the queued I/O served), one that is
 * gone is created anew. Kernel devices without a record are listed and left alone.
 *
 * <p>Every operation is on the control path; none touches a worker's hot path. Requests for one
 * device are serialised by its entry's state (a device being added or deleted refuses others);
 * requests for different devices run at once, as many as the device set has control channels.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);
    private static final int ENODEV = 19;

    private final StateDir state;
    private final DeviceSet set;
    private final TargetOpener opener;
    private final ServerMetrics metrics;
    private final UblkControl query;
    private final int slotSize;
    private final int parallel;
    private final long startedMillis = System.currentTimeMillis();
    private final Map<Integer, Entry> entries = new ConcurrentHashMap<>();
    /** Identities (cache volumes, names) of devices added or being added. */
    private final Set<String> identities = ConcurrentHashMap.newKeySet();
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private volatile boolean keepDevicesOnStop = true;
    private volatile boolean stopping;

    /** One device of the daemon, from its record or its add. */
    public static final class Entry {
        final int id;
        final DeviceSpec spec;
        final long createdMillis;
        final String source;
        volatile DeviceState state;
        volatile UblkDevice device;
        volatile TargetOpener.Opened opened;
        volatile String reason;
        volatile String how;

        Entry(int id, DeviceSpec spec, long createdMillis, String source, DeviceState state) {
            this.id = id;
            this.spec = spec;
            this.createdMillis = createdMillis;
            this.source = source;
            this.state = state;
        }

        public int id() {
            return id;
        }

        public Path path() {
            return Path.of("/dev/ublkb" + id);
        }

        DeviceRecord record(DeviceState s) {
            return new DeviceRecord(DeviceRecord.VERSION, id, spec.recordArgs(), s, createdMillis, source);
        }
    }

    public Daemon(StateDir state, DeviceSet set, TargetOpener opener, ServerMetrics metrics, UblkControl query,
            int slotSize, int parallel) {
        this.state = state;
        this.set = set;
        this.opener = opener;
        this.metrics = metrics;
        this.query = query;
        this.slotSize = slotSize;
        this.parallel = Math.max(1, parallel);
    }

    // ---- start: take back what the records name

    /**
     * Serves every recorded device: recovers the kernel devices a dead daemon left, creates anew
     * the ones that are gone, finishes interrupted deletes. Runs devices in parallel; a device that
     * cannot be served is FAILED (with its reason) and the others go on.
     */
    public Progress start() throws IOException {
        List<DeviceRecord> records = state.load();
        Set<Integer> recorded = new TreeSet<>();
        records.forEach(r -> recorded.add(r.id()));
        for (int id : kernelDevices()) {
            if (!recorded.contains(id)) {
                LOG.warn("ublk{} exists in the kernel but has no record in {}: left alone (delete it with "
                        + "bin/ublk-server delete --id {} if it is not wanted)", id, state.root(), id);
            }
        }
        Progress p = Progress.logged("taking back " + records.size() + " recorded device(s)", records.size());
        runAll(records, r -> takeBack(r, p));
        LOG.info("{} of {} recorded device(s) LIVE after {} s", records.size() - p.failed(), records.size(),
                String.format(java.util.Locale.ROOT, "%.1f", p.seconds()));
        return p;
    }

    private void takeBack(DeviceRecord r, Progress p) {
        DeviceInfo info = kernelInfo(r.id());
        if (r.state() == DeviceState.DELETING) {
            try {
                if (info != null) {
                    deleteKernelDevice(r.id());
                }
                state.delete(r.id());
                p.step("ublk" + r.id() + " deleted (its delete was interrupted)", true);
            } catch (RuntimeException e) {
                p.step("ublk" + r.id() + " could not finish its delete: " + e.getMessage(), false);
            }
            return;
        }
        DeviceSpec spec;
        try {
            spec = opener.parse(r.args(), state.root());
        } catch (IllegalArgumentException e) {
            Entry bad = new Entry(r.id(), new DeviceSpec(r.args(), r.args(), "?", null, null, 0, 1, 1), r.createdMillis(),
                    r.source(), DeviceState.FAILED);
            bad.reason = "its record's options no longer check out: " + e.getMessage();
            entries.put(r.id(), bad);
            p.step("ublk" + r.id() + " FAILED: " + bad.reason, false);
            return;
        }
        Entry e = new Entry(r.id(), spec, r.createdMillis(), r.source(), DeviceState.STARTING);
        if (spec.identity() != null) {
            identities.add(spec.identity());
        }
        entries.put(r.id(), e);
        boolean handedOver = false; // from then on the device set closes the target on failure
        try {
            e.opened = opener.open(spec);
            DeviceConfig config = new DeviceConfig(e.opened.target().size(), spec.queues(), spec.depth(), slotSize);
            int self = (int) ProcessHandle.current().pid();
            if (info != null && info.state() == UblkDevState.LIVE && info.ublksrvPid() != self
                    && ProcessHandle.of(info.ublksrvPid()).map(ProcessHandle::isAlive).orElse(false)) {
                throw new DaemonException(Code.BUSY, "ublk" + r.id() + " is served by live process "
                        + info.ublksrvPid() + ": not ours to take");
            }
            if (info != null && info.state() != UblkDevState.DEAD) {
                handedOver = true;
                e.device = set.recover(r.id(), config, e.opened::target);
                e.how = "recovered";
            } else {
                if (info != null) {
                    deleteKernelDevice(r.id()); // stopped, not deleted: make it anew
                }
                handedOver = true;
                UblkDevice dev;
                try {
                    dev = set.add(config, e.opened::target, r.id()); // the same /dev/ublkbN if it is free
                } catch (NativeException taken) {
                    // the id went to another device meanwhile: any id, and the record follows (the
                    // failed add closed the target)
                    e.opened.release().run();
                    e.opened = opener.open(spec);
                    dev = set.add(config, e.opened::target);
                }
                e.device = dev;
                e.how = "created anew (its kernel device was gone)";
                if (dev.id() != r.id()) {
                    Entry moved = new Entry(dev.id(), spec, r.createdMillis(), r.source(), DeviceState.STARTING);
                    moved.opened = e.opened;
                    moved.device = dev;
                    moved.how = "created anew as ublk" + moved.id + " (ublk" + r.id() + " was gone, its id taken)";
                    entries.remove(r.id());
                    state.save(moved.record(DeviceState.LIVE));
                    state.delete(r.id());
                    e = moved;
                    entries.put(e.id, e);
                }
            }
            served(e);
            p.step("ublk" + e.id + " LIVE (" + e.how + ")", true);
        } catch (RuntimeException ex) {
            e.state = DeviceState.FAILED;
            e.reason = ex.getMessage();
            if (e.opened != null && e.device == null) {
                if (!handedOver) {
                    closeQuietly(e);
                } else {
                    e.opened.release().run();
                    e.opened = null;
                }
            }
            p.step("ublk" + r.id() + " FAILED: " + ex.getMessage(), false);
        }
    }

    private void served(Entry e) {
        state.save(e.record(DeviceState.LIVE));
        e.state = DeviceState.LIVE;
        if (metrics != null) {
            metrics.deviceAdded(e.device);
            if (e.opened.cache() != null) {
                metrics.cacheAdded(e.device, e.opened.volume(), e.opened.cache().stats());
            }
        }
    }

    // ---- add

    /**
     * Adds {@code count} devices of one spec (count > 1: volumes or names NAME-0..NAME-(count-1)),
     * in parallel, each LIVE and recorded before it is reported.
     *
     * @return the devices, by id
     */
    public List<Entry> add(List<String> args, Path cwd, int count, Consumer<String> progress) {
        refuseWhileStopping();
        if (count < 1 || count > 65536) {
            throw new DaemonException(Code.BAD_ARGUMENT, "count must be in [1, 65536]: " + count);
        }
        List<DeviceSpec> specs = new ArrayList<>();
        DaemonConfig c = config;
        for (int i = 0; i < count; i++) {
            specs.add(parse(c.withDefaults(count == 1 ? args : numbered(args, i)), cwd));
        }
        return addAll(specs, DeviceRecord.ADMIN, progress);
    }

    private List<Entry> addAll(List<DeviceSpec> specs, String source, Consumer<String> progress) {
        int count = specs.size();
        List<String> reserved = new ArrayList<>();
        try {
            for (DeviceSpec s : specs) {
                if (s.identity() != null) {
                    if (!identities.add(s.identity())) {
                        throw new DaemonException(Code.DUPLICATE, (s.target().equals("cache") ? "volume '" : "name '")
                                + s.name() + "' is served already (" + describeOwner(s.identity()) + ")");
                    }
                    reserved.add(s.identity());
                }
            }
        } catch (DaemonException e) {
            reserved.forEach(identities::remove);
            throw e;
        }
        Progress p = new Progress("adding " + count + " device(s)", count, progress);
        List<Entry> added = java.util.Collections.synchronizedList(new ArrayList<>());
        List<RuntimeException> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        runAll(specs, s -> {
            try {
                Entry e = addOne(s, source);
                added.add(e);
                p.step(e.path() + " LIVE", true);
            } catch (RuntimeException ex) {
                if (s.identity() != null) {
                    identities.remove(s.identity());
                }
                failures.add(ex);
                p.step((s.name() == null ? "a device" : s.name()) + " not added: " + ex.getMessage(), false);
            }
        });
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            String msg = added.isEmpty() ? first.getMessage()
                    : failures.size() + " of " + count + " device(s) not added (" + added.size() + " are LIVE): "
                            + first.getMessage();
            throw first instanceof DaemonException d && added.isEmpty() ? d
                    : new DaemonException(added.isEmpty() ? classify(first) : Code.FAILED, msg, first);
        }
        added.sort(Comparator.comparingInt(e -> e.id));
        return added;
    }

    // ---- the config file

    private volatile DaemonConfig config = DaemonConfig.EMPTY;

    /**
     * Makes the served devices match the config file: its devices that are not served are added,
     * devices it added once and no longer names are deleted (unless in use: then kept, and said so).
     * Every device of the file is checked first; one that does not check out changes nothing.
     */
    public synchronized Map<String, Object> apply(DaemonConfig next, Consumer<String> progress) {
        refuseWhileStopping();
        List<DeviceSpec> wanted = new ArrayList<>();
        Set<String> names = new TreeSet<>();
        for (int i = 0; i < next.devices().size(); i++) {
            DeviceSpec s = parse(next.withDefaults(next.devices().get(i)), Path.of("/"));
            if (s.identity() == null) {
                throw new DaemonException(Code.BAD_ARGUMENT, "config device #" + (i + 1)
                        + " needs a name: --volume for cache, name for memory and null");
            }
            if (!names.add(s.identity())) {
                throw new DaemonException(Code.DUPLICATE, "config device #" + (i + 1) + " ('" + s.name()
                        + "') is named twice in the file");
            }
            wanted.add(s);
        }
        config = next;
        List<String> kept = new ArrayList<>();
        int removed = 0;
        for (Entry e : new ArrayList<>(entries.values())) {
            if (DeviceRecord.CONFIG.equals(e.source) && !names.contains(e.spec.identity())) {
                try {
                    delete(Integer.toString(e.id), false);
                    removed++;
                } catch (DaemonException ex) {
                    kept.add(e.path() + ": " + ex.getMessage());
                    LOG.warn("config no longer names {}, but it stays: {}", e.path(), ex.getMessage());
                }
            }
        }
        List<DeviceSpec> toAdd = new ArrayList<>();
        for (DeviceSpec s : wanted) {
            if (!identities.contains(s.identity())) {
                toAdd.add(s);
            }
        }
        int added = 0;
        String failed = null;
        if (!toAdd.isEmpty()) {
            try {
                added = addAll(toAdd, DeviceRecord.CONFIG, progress).size();
            } catch (DaemonException ex) {
                failed = ex.getMessage();
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("added", added);
        m.put("removed", removed);
        m.put("unchanged", wanted.size() - toAdd.size());
        m.put("kept", kept);
        if (failed != null) {
            m.put("failed", failed);
        }
        LOG.info("config applied: {}", m);
        return m;
    }

    private Entry addOne(DeviceSpec s, String source) {
        TargetOpener.Opened opened;
        try {
            opened = opener.open(s);
        } catch (VolumeException | IllegalArgumentException e) {
            throw new DaemonException(classify(e), e.getMessage(), e);
        }
        UblkDevice dev;
        try {
            DeviceConfig config = new DeviceConfig(opened.target().size(), s.queues(), s.depth(), slotSize);
            dev = set.add(config, opened::target);
        } catch (RuntimeException e) {
            // the set closed the target
            opened.release().run();
            throw e;
        }
        Entry e = new Entry(dev.id(), s, System.currentTimeMillis(), source, DeviceState.STARTING);
        e.device = dev;
        e.opened = opened;
        e.how = "added";
        entries.put(e.id, e);
        try {
            served(e);
        } catch (RuntimeException ex) {
            // not recorded: not served either, so a restart does not find a device it never knew
            entries.remove(e.id);
            set.remove(dev);
            opened.release().run();
            throw ex;
        }
        LOG.info("{} added: {}", e.path(), String.join(" ", s.recordArgs()));
        return e;
    }

    private static Code classify(Throwable e) {
        String m = String.valueOf(e.getMessage());
        if (e instanceof DaemonException d) {
            return d.code();
        }
        if ((e instanceof VolumeException || e instanceof IllegalArgumentException) && m.contains("size")
                && (m.contains("match") || m.contains("differ"))) {
            return Code.SIZE_MISMATCH;
        }
        return e instanceof VolumeException || e instanceof IllegalArgumentException ? Code.BAD_ARGUMENT : Code.FAILED;
    }

    private DeviceSpec parse(List<String> args, Path cwd) {
        try {
            return opener.parse(args, cwd);
        } catch (IllegalArgumentException e) {
            throw new DaemonException(Code.BAD_ARGUMENT, e.getMessage(), e);
        }
    }

    /** The args of device {@code i} of a --count add: its --volume or --name suffixed -i. */
    static List<String> numbered(List<String> args, int i) {
        List<String> out = new ArrayList<>(args);
        for (int k = 0; k + 1 < out.size(); k++) {
            if (out.get(k).equals("--volume") || out.get(k).equals("--name")) {
                out.set(k + 1, out.get(k + 1) + "-" + i);
            }
        }
        return out;
    }

    private String describeOwner(String identity) {
        for (Entry e : entries.values()) {
            if (identity.equals(e.spec.identity())) {
                return "by " + e.path() + ", " + e.state;
            }
        }
        return "being added";
    }

    // ---- delete

    /**
     * Stops and deletes a device, then forgets its record. Refused while the block device is
     * mounted or open, unless {@code force} (its open files then see I/O errors).
     */
    public Entry delete(String ref, boolean force) {
        refuseWhileStopping();
        Entry e = find(ref);
        synchronized (e) {
            if (e.state != DeviceState.LIVE && e.state != DeviceState.FAILED) {
                throw new DaemonException(Code.BUSY, e.path() + " is " + e.state + "; try again once it is LIVE");
            }
            if (!force && e.device != null) {
                List<String> holders = Holders.of(e.path());
                if (!holders.isEmpty()) {
                    throw new DaemonException(Code.BUSY, e.path() + " is in use: " + String.join("; ", holders)
                            + " (unmount or close it first, or --force)");
                }
            }
            e.state = DeviceState.DELETING;
        }
        state.save(e.record(DeviceState.DELETING));
        removeNow(e);
        LOG.info("{} deleted{}", e.path(), force ? " (--force)" : "");
        return e;
    }

    private void removeNow(Entry e) {
        try {
            if (e.device != null) {
                if (metrics != null) {
                    metrics.deviceRemoved(e.device);
                }
                set.remove(e.device);
            } else if (kernelInfo(e.id) != null && e.opened == null) {
                deleteKernelDevice(e.id); // a FAILED record's leftover kernel device
            }
        } finally {
            if (e.opened != null) {
                e.opened.release().run();
            }
        }
        state.delete(e.id);
        entries.remove(e.id);
        if (e.spec.identity() != null) {
            identities.remove(e.spec.identity());
        }
    }

    // ---- drain

    /**
     * Uploads every write the cached volume of a device acknowledged, with a progress line per
     * second (dirty bytes left); with {@code dropClean} then forgets its clean cache, so later reads
     * come from the store.
     */
    public CacheStats drain(String ref, boolean dropClean, Consumer<String> progress) throws InterruptedException {
        Entry e = find(ref);
        if (e.state != DeviceState.LIVE || e.opened == null) {
            throw new DaemonException(Code.BUSY, e.path() + " is " + e.state);
        }
        if (e.opened.cache() == null) {
            throw new DaemonException(Code.BAD_ARGUMENT, e.path() + " is a " + e.spec.target()
                    + " device: only cache devices have a volume to drain");
        }
        var cache = e.opened.cache();
        Progress p = new Progress("draining " + e.path() + " (volume '" + e.opened.volume() + "')", 1, progress);
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try {
                cache.drain();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", ie);
            }
        }, r -> {
            Thread t = new Thread(r, "ublk-drain-" + e.id);
            t.setDaemon(true);
            t.start();
        });
        while (true) {
            try {
                done.get(1, TimeUnit.SECONDS);
                break;
            } catch (java.util.concurrent.TimeoutException te) {
                p.note(cache.stats().dirtyBytes() + " dirty bytes left");
            } catch (java.util.concurrent.ExecutionException ee) {
                throw new DaemonException(Code.FAILED, "drain of " + e.path() + " failed: " + ee.getCause().getMessage(),
                        ee.getCause());
            }
        }
        if (dropClean) {
            cache.dropClean();
        }
        p.step("generation " + cache.stats().committedGeneration() + (dropClean ? ", clean cache dropped" : ""), true);
        return cache.stats();
    }

    // ---- queries

    /** Every device of the daemon, by id, then the kernel's ublk devices it has no record of. */
    public List<Map<String, Object>> list() {
        List<Map<String, Object>> out = new ArrayList<>();
        List<Entry> all = new ArrayList<>(entries.values());
        all.sort(Comparator.comparingInt(e -> e.id));
        Set<Integer> known = new TreeSet<>();
        for (Entry e : all) {
            known.add(e.id);
            out.add(summary(e));
        }
        for (int id : kernelDevices()) {
            if (!known.contains(id)) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("id", id);
                m.put("path", "/dev/ublkb" + id);
                m.put("state", DeviceState.UNMANAGED.name());
                m.put("reason", "a kernel ublk device this daemon has no record of; left alone");
                out.add(m);
            }
        }
        return out;
    }

    private static Map<String, Object> summary(Entry e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", e.id);
        m.put("path", e.path().toString());
        m.put("state", e.state.name());
        m.put("target", e.spec.target());
        if (e.spec.name() != null) {
            m.put(e.spec.target().equals("cache") ? "volume" : "name", e.spec.name());
        }
        UblkDevice d = e.device;
        if (d != null) {
            m.put("size", d.config().sizeBytes());
        }
        if (e.reason != null) {
            m.put("reason", e.reason);
        }
        return m;
    }

    /** One device in detail: its options, queues and their workers, and the volume's figures. */
    public Map<String, Object> show(String ref) {
        Entry e = find(ref);
        Map<String, Object> m = summary(e);
        m.put("options", e.spec.recordArgs());
        m.put("source", e.source);
        m.put("how", e.how);
        m.put("created", java.time.Instant.ofEpochMilli(e.createdMillis).toString());
        UblkDevice d = e.device;
        if (d != null) {
            m.put("queues", d.config().queues());
            m.put("depth", d.config().depth());
            List<Map<String, Object>> placement = new ArrayList<>();
            List<Worker> ws = d.workerOfQueue();
            for (int q = 0; q < ws.size(); q++) {
                placement.add(Map.of("queue", q, "worker", ws.get(q).index(), "cpu", ws.get(q).cpu()));
            }
            m.put("placement", placement);
        }
        if (e.opened != null && e.opened.cache() != null) {
            CacheStats s = e.opened.cache().stats();
            m.put("dirtyBytes", s.dirtyBytes());
            m.put("cleanBytes", s.cleanBytes());
            m.put("journalDiskBytes", s.journalDiskBytes());
            m.put("committedGeneration", s.committedGeneration());
            String stopped = e.opened.cache().stopped();
            if (stopped != null) {
                m.put("stopped", stopped);
            }
        }
        return m;
    }

    /** The daemon as a whole. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", ProcessHandle.current().pid());
        m.put("started", java.time.Instant.ofEpochMilli(startedMillis).toString());
        m.put("uptimeSeconds", (System.currentTimeMillis() - startedMillis) / 1000);
        m.put("stateDir", state.root().toString());
        m.put("workers", set.workers().workers().size());
        m.put("features", io.ublk.server.ctrl.FeatureNames.names(set.features()));
        Map<String, Integer> byState = new LinkedHashMap<>();
        for (Entry e : entries.values()) {
            byState.merge(e.state.name(), 1, Integer::sum);
        }
        m.put("devices", entries.size());
        m.put("byState", byState);
        m.put("stopping", stopping);
        return m;
    }

    private Entry find(String ref) {
        String s = ref == null ? "" : ref.strip();
        if (s.startsWith("/dev/ublkb")) {
            s = s.substring("/dev/ublkb".length());
        } else if (s.startsWith("ublkb")) {
            s = s.substring("ublkb".length());
        }
        int id;
        try {
            id = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            for (Entry x : entries.values()) {
                if (ref != null && ref.equals(x.spec.name())) {
                    return x;
                }
            }
            throw new DaemonException(Code.UNKNOWN_DEVICE, "no device '" + ref
                    + "' here: give an id N, /dev/ublkbN, or a volume or device name (see device list)");
        }
        Entry e = entries.get(id);
        if (e == null) {
            throw new DaemonException(Code.UNKNOWN_DEVICE, "/dev/ublkb" + id + " is not a device of this daemon"
                    + (kernelDevices().contains(id) ? " (the kernel has it, with no record here: left alone)" : ""));
        }
        return e;
    }

    // ---- stop

    /**
     * Asks the daemon to stop and delete its devices; refused while one is mounted or open, unless
     * {@code force}.
     */
    public void requestStopDeleting(boolean force) {
        if (!force) {
            List<String> busy = new ArrayList<>();
            for (Entry e : entries.values()) {
                if (e.device != null) {
                    List<String> h = Holders.of(e.path());
                    if (!h.isEmpty()) {
                        busy.add(e.path() + ": " + String.join("; ", h));
                    }
                }
            }
            if (!busy.isEmpty()) {
                throw new DaemonException(Code.BUSY, "devices in use, not deleted: " + String.join(", ", busy)
                        + " (unmount or close them, stop with --keep-devices, or --force)");
            }
        }
        requestStop(false);
    }

    /** Asks the daemon to stop: keeping its devices in the kernel (a planned restart) or deleting them. */
    public void requestStop(boolean keepDevices) {
        keepDevicesOnStop = keepDevices;
        stopping = true;
        stopRequested.countDown();
    }

    public void awaitStop() throws InterruptedException {
        stopRequested.await();
    }

    public boolean stopRequested() {
        return stopping;
    }

    public boolean keepsDevicesOnStop() {
        return keepDevicesOnStop;
    }

    private void refuseWhileStopping() {
        if (stopping) {
            throw new DaemonException(Code.SHUTTING_DOWN, "the daemon is stopping");
        }
    }

    /**
     * Stops serving. Keeping the devices, their records stay and the kernel keeps each device
     * (QUIESCED, its I/O queued) for the next daemon; otherwise every device is deleted and its
     * record removed.
     */
    @Override
    public void close() {
        stopping = true;
        List<Entry> all = new ArrayList<>(entries.values());
        if (keepDevicesOnStop) {
            LOG.info("stopping; {} device(s) stay in the kernel for the next daemon", all.size());
            set.closeLeavingDevices();
            for (Entry e : all) {
                if (e.opened != null) {
                    e.opened.release().run();
                }
            }
        } else {
            LOG.info("stopping; deleting {} device(s)", all.size());
            Progress p = Progress.logged("deleting " + all.size() + " device(s)", all.size());
            runAll(all, e -> {
                try {
                    removeNow(e);
                    p.step(e.path() + " deleted", true);
                } catch (RuntimeException ex) {
                    p.step(e.path() + " not deleted: " + ex.getMessage(), false);
                }
            });
            set.close();
        }
    }

    // ---- kernel

    /** The kernel's ublk devices, by the ids of their char devices. */
    static List<Integer> kernelDevices() {
        List<Integer> ids = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(Path.of("/dev"), "ublkc*")) {
            for (Path p : s) {
                try {
                    ids.add(Integer.parseInt(p.getFileName().toString().substring("ublkc".length())));
                } catch (NumberFormatException e) {
                    // not a ublk char device
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot list /dev: {}", e.getMessage());
        }
        ids.sort(null);
        return ids;
    }

    /** GET_DEV_INFO, or null when the kernel has no such device. */
    private DeviceInfo kernelInfo(int id) {
        try {
            return query.deviceInfo(id);
        } catch (NativeException e) {
            if (e.errno() == ENODEV) {
                return null;
            }
            throw e;
        }
    }

    private void deleteKernelDevice(int id) {
        try {
            query.stopDevice(id);
        } catch (RuntimeException e) {
            // not started, or stopped already: DEL_DEV still works
        }
        query.deleteDevice(id);
    }

    private static void closeQuietly(Entry e) {
        try {
            e.opened.target().close();
        } catch (Exception ex) {
            LOG.warn("ublk{}: closing its target failed: {}", e.id, ex.toString());
        }
        e.opened.release().run();
        e.opened = null;
    }

    /** Runs {@code task} over {@code items} on up to {@code parallel} threads and waits for all. */
    private <T> void runAll(List<T> items, Consumer<T> task) {
        if (items.size() <= 1 || parallel == 1) {
            items.forEach(task);
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, items.size()), r -> {
            Thread t = new Thread(r, "ublk-daemon-op");
            t.setDaemon(true);
            return t;
        });
        try {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (T item : items) {
                fs.add(CompletableFuture.runAsync(() -> task.accept(item), pool));
            }
            CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).join();
        } finally {
            pool.shutdown();
        }
    }
}
