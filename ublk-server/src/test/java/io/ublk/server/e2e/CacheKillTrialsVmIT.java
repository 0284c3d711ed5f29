package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.nio.file.ExtendedOpenOption;
import io.ublk.server.RealUblk;
import io.ublk.server.ctrl.UblkControl;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Repeated kill -9 of a cache server mid-write (VM tier, local store), each followed by a check of
 * every block of the volume against an exact record of what the last completed fsync covered.
 *
 * <p>Each trial: the server serves a 32 MiB volume; three writer threads of this JVM write
 * {@link StampedBlock}s (each 4 KiB block names its offset, the write's sequence number and has a
 * CRC32C) in writes of 4-96 KiB, half of them into a hot first MiB so blocks are overwritten often,
 * each thread fsyncing every 1-31 writes (concurrent fsyncs from different threads). Once some
 * writes and an fsync completed, after a seeded random delay, the server gets SIGKILL. Its device
 * is removed (the kernel kept it, USER_RECOVERY, with I/O queued: that I/O fails) by
 * {@code bin/ublk-server delete --stale} in the first trial, and by the same two control commands
 * (STOP_DEV, DEL_DEV) from this JVM in the others, which saves a JVM start each; then a new server
 * on the same cache folder replays the journal.
 * Every block is then read back and checked by {@link WriteLedger}'s rule: a block whose latest
 * write completed before the last completed fsync holds that write or a later one; any other block
 * holds what it held before the trial or one of its writes; anything else is reported.
 *
 * <p>Why the writes come from this JVM rather than fio: fio's verify state records which writes
 * completed, not which ones an fsync covered, and fio cannot tell which of a block's several writes
 * landed. Here each write is a positional {@code pwrite} on a {@code FileChannel} opened with
 * {@code O_DIRECT} (aligned direct buffers, so nothing sits in the page cache) and each fsync is
 * {@code force(false)} (fdatasync, which the block layer sends to the server as a FLUSH); one clock
 * stamps write completions and fsync issues, so the record is exact.
 *
 * <p>The trials alternate two server setups: even trials serve with {@code --upload-delay 60m} and
 * segments larger than the volume, so nothing is uploaded before the kill (the metrics scraped just
 * before it prove it) and only the journal replay can bring the data back; odd trials upload all
 * the time ({@code --upload-delay 50ms}, {@code --max-dirty 4MiB}, {@code --dirty-memory 1MiB} so
 * dirty data spills to the journal, 1 MiB segments, a 2 MiB clean cache so reads reach the store).
 * Trials chain: the server that replays trial k's journal (and whose read-back checks it) is the
 * one killed in trial k+1, so each trial costs one server start (most of a trial's ~30-45 s under
 * TCG, even with C1 only and a class archive, see {@link #C1}); it starts with an fsync, which
 * makes what the check read the baseline of the next trial. Before the first trial, one server
 * creates the volume, reads it all zero and stops cleanly, writing the class archive.
 *
 * <p>Knobs: {@code -Dublk.killTrials=N} (or env {@code UBLK_KILL_TRIALS}, passed into the VM with
 * {@code scripts/vm-run --env UBLK_KILL_TRIALS}), default 20; {@code -Dublk.killSeed=S} (or env
 * {@code UBLK_KILL_SEED}) repeats a run's choices (offsets, sizes, fsync points, kill delays; the
 * timing of the kill relative to the writes still varies). Every trial prints its seed; a failure
 * names trial, seed, offset, the sequence numbers the block may hold and what it held.
 */
class CacheKillTrialsVmIT {
    private static final long MIB = 1 << 20;
    private static final long VOLUME_BYTES = 32 * MIB;
    private static final int BLOCKS = (int) (VOLUME_BYTES / StampedBlock.SIZE);
    private static final int WRITERS = 3;
    /** Blocks go to writer threads in units of 96 KiB (unit u to thread u % WRITERS); a write stays in its unit. */
    private static final int UNIT_BLOCKS = 24;
    private static final int UNITS = (BLOCKS + UNIT_BLOCKS - 1) / UNIT_BLOCKS;
    /** Units of the hot first ~MiB, which half the writes go to. */
    private static final int HOT_UNITS = 12;
    /** The kill waits for this many completed writes and one fsync, then a random delay below KILL_SPREAD. */
    private static final int MIN_WRITES = 40;
    private static final int KILL_SPREAD_MS = 2500;
    private static final Duration START = Duration.ofMinutes(5);
    /**
     * JVM options of the servers and the CLI here: C1 only, and (after the first server, which
     * writes it at its clean exit) a class archive of the server's classes. A JVM start is most of
     * a trial's time under TCG; CPU of a server start on the host: 1.65 s plain, 1.2 s with C1
     * only, 0.85 s with the archive too. This test is about what survives a kill, not speed.
     */
    private static final String C1 = ServerProcess.QUICK_START_OPTS;
    private Map<String, String> fastStart = Map.of("UBLK_JAVA_OPTS", C1);
    private static final Duration STEP = Duration.ofMinutes(2);

    /** The two server setups the trials alternate. */
    enum Mode {
        JOURNAL_ONLY("journal-only", "--upload-delay", "60m", "--segment-size", "64MiB", "--clean-cache", "8MiB"),
        UPLOADING("uploading", "--upload-delay", "50ms", "--max-dirty", "4MiB", "--dirty-memory", "1MiB",
                "--segment-size", "1MiB", "--clean-cache", "2MiB");

        final String label;
        final List<String> flags;

        Mode(String label, String... flags) {
            this.label = label;
            this.flags = List.of(flags);
        }

        static Mode of(int trial) {
            return trial % 2 == 0 ? JOURNAL_ONLY : UPLOADING;
        }
    }

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    static int trials() {
        int n = (int) SuiteSize.of("ublk.killTrials", "UBLK_KILL_TRIALS", 20);
        if (n < 1) {
            throw new IllegalArgumentException("ublk.killTrials / UBLK_KILL_TRIALS must be >= 1: " + n);
        }
        return n;
    }

    static long seed() {
        String v = System.getProperty("ublk.killSeed", System.getenv("UBLK_KILL_SEED"));
        return v == null || v.isBlank() ? new Random().nextLong() : Long.decode(v.strip());
    }

    private static long trialSeed(long seed, int trial) {
        return seed + trial * 0x9E3779B97F4A7C15L;
    }

    /** What the trials found, printed at the end and carried by the assertion message. */
    private static final class Report {
        final List<WriteLedger.Failure> failures = new ArrayList<>();
        final List<String> problems = new ArrayList<>();
        final List<String> lines = new ArrayList<>();
        long bytesChecked;
        long pinnedBytesChecked;
        long uploadRounds;
        long spilledBlocks;
        int trials;

        String summary(long seed, Duration took) {
            StringBuilder s = new StringBuilder();
            s.append("kill -9 trials: ").append(trials).append(" (seed ").append(seed).append(", ")
                    .append(took.toSeconds()).append(" s); ").append(bytesChecked).append(" bytes checked, ")
                    .append(pinnedBytesChecked).append(" of them pinned by an fsync; uploading trials committed ")
                    .append(uploadRounds).append(" upload round(s), spilled ").append(spilledBlocks)
                    .append(" block(s); ").append(failures.size()).append(" block failure(s), ")
                    .append(problems.size()).append(" other problem(s)");
            for (String l : lines) {
                s.append("\n  ").append(l);
            }
            int shown = Math.min(failures.size(), 60);
            for (int i = 0; i < shown; i++) {
                s.append("\n  FAIL ").append(failures.get(i));
            }
            if (shown < failures.size()) {
                s.append("\n  ... and ").append(failures.size() - shown).append(" more block failure(s)");
            }
            for (String p : problems) {
                s.append("\n  PROBLEM ").append(p);
            }
            return s.toString();
        }
    }

    @Test
    void everyBlockHoldsItsFsyncedWriteOrALaterOneAfterEachKill9() throws Exception {
        int trials = trials();
        long seed = seed();
        System.out.printf("[kill-trials] %d trials, seed %d (repeat with -Dublk.killSeed=%d)%n", trials, seed, seed);
        long t0 = System.nanoTime();
        WriteLedger ledger = new WriteLedger(BLOCKS);
        Report report = new Report();
        // The first server creates the volume, reads it all zero and exits cleanly, writing the class archive.
        Path archive = dir.resolve("server.jsa");
        ServerProcess server = start(-1, Mode.of(0),
                Map.of("UBLK_JAVA_OPTS", C1 + " -XX:ArchiveClassesAtExit=" + archive));
        try {
            verify(server, ledger, report, -1);
            server.stop();
            if (Files.exists(archive) && Files.size(archive) > 0) {
                // -Xlog off: with --enable-native-access the JVM logs an [error] that it cannot use
                // the archive's module graph (it still maps the archived classes).
                fastStart = Map.of("UBLK_JAVA_OPTS", C1 + " -XX:SharedArchiveFile=" + archive
                        + " -Xlog:cds=off -Xlog:aot=off");
            } else {
                System.out.println("[kill-trials] note: the first server wrote no class archive; starts stay slower");
            }
            server = start(0, Mode.of(0));
            for (int k = 0; k < trials; k++) {
                Mode mode = Mode.of(k);
                long ts = trialSeed(seed, k);
                long kt0 = System.nanoTime();
                TrialRun run = writeAndKill(server, ledger, report, k, ts, mode);
                long startT0 = System.nanoTime();
                server = start(k + 1, Mode.of(k + 1));
                double startS = (System.nanoTime() - startT0) / 1e9;
                int before = report.failures.size();
                long checkT0 = System.nanoTime();
                verify(server, ledger, report, k);
                String line = String.format("trial %d/%d seed %d %s: %d writes (%d completed), %d fsyncs, kill after"
                        + " %d ms%s; %d blocks pinned by the last fsync; read-back: %d failure(s); %.1f s (delete"
                        + " %.1f s, start %.1f s, check %.1f s)", k + 1, trials, ts, mode.label, ledger.writesIssued(),
                        ledger.writesCompleted(), ledger.fsyncs(), run.killDelayMs, run.uploads,
                        ledger.pinnedBlocks(), report.failures.size() - before, (System.nanoTime() - kt0) / 1e9,
                        run.deleteSeconds, startS, (System.nanoTime() - checkT0) / 1e9);
                report.lines.add(line);
                report.trials++;
                System.out.println("[kill-trials] " + line);
            }
            server.stop();
        } finally {
            server.close();
        }
        String summary = report.summary(seed, Duration.ofNanos(System.nanoTime() - t0));
        System.out.println("[kill-trials] " + summary);
        assertThat(report.failures.isEmpty() && report.problems.isEmpty()).as(summary).isTrue();
        assertThat(report.uploadRounds).as("the uploading trials uploaded before their kills\n%s", summary)
                .isPositive();
        assertThat(report.spilledBlocks).as("the uploading trials spilled dirty blocks to the journal\n%s", summary)
                .isPositive();
    }

    private Path cacheDir() {
        return dir.resolve("cache");
    }

    private int metricsPort;

    private ServerProcess start(int n, Mode mode) throws IOException {
        return start(n, mode, fastStart);
    }

    private ServerProcess start(int n, Mode mode, Map<String, String> env) throws IOException {
        metricsPort = S3ProxyProcess.freePort();
        List<String> a = new ArrayList<>(List.of("--target", "cache", "--volume", "kill", "--cache-dir",
                cacheDir().toString(), "--size", "32MiB", "--metrics-port", Integer.toString(metricsPort),
                "--pool-slots", "32"));
        a.addAll(CacheFixture.localStore(dir.resolve("store")));
        a.addAll(mode.flags);
        return ServerProcess.start(dir.resolve("server-" + n), START, env, a.toArray(String[]::new));
    }

    private record TrialRun(long killDelayMs, String uploads, double deleteSeconds) {}

    /** One trial's writes on {@code server}'s device, then SIGKILL and {@code delete --stale}. */
    private TrialRun writeAndKill(ServerProcess server, WriteLedger ledger, Report report, int trial, long seed,
            Mode mode) throws Exception {
        Path dev = server.device(0);
        ledger.begin(trial, seed);
        SplittableRandom random = new SplittableRandom(seed);
        AtomicInteger completed = new AtomicInteger();
        AtomicInteger fsynced = new AtomicInteger();
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        Writer[] writers = new Writer[WRITERS];
        long killDelay;
        String uploads;
        double deleteSeconds;
        // The writers' channel: closing it waits for the threads blocked in it, which wait for the
        // dead server's device to be stopped; and deleting the device waits for it to be closed. So:
        // stop the device (its queued I/O fails, the writers end), close the channel, delete it.
        FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ, StandardOpenOption.WRITE,
                ExtendedOpenOption.DIRECT);
        DeadDevice dead = null;
        try {
            // What the previous check read is the baseline: make it durable before anything else.
            ch.force(false);
            for (int t = 0; t < WRITERS; t++) {
                writers[t] = new Writer(t, ch, ledger.log(), random.split(), completed, fsynced, errors);
            }
            for (Writer w : writers) {
                w.thread.start();
            }
            long deadline = System.nanoTime() + STEP.toNanos();
            while (completed.get() < MIN_WRITES || fsynced.get() == 0) {
                if (System.nanoTime() > deadline || !errors.isEmpty()) {
                    fail("trial " + trial + ": writers made no progress (" + completed + " writes, " + fsynced
                            + " fsyncs in " + STEP.toSeconds() + " s): " + errors + "\n" + server.describe());
                }
                Thread.sleep(20);
            }
            killDelay = random.nextInt(KILL_SPREAD_MS);
            Thread.sleep(killDelay);
            uploads = uploadsBeforeKill(report, trial, mode);
            for (Writer w : writers) {
                w.killed = true; // before the signal: in-flight I/O fails as soon as the server is gone
            }
            server.kill9();
            dead = trial == 0 ? new CliDelete(dev) : new InProcessDelete(dev);
        } finally {
            if (server.isAlive()) {
                server.close(); // a failure before the kill: stop it, so the writers' I/O ends
            }
            stopWriters(writers);
            ch.close();
        }
        String problem = dead.delete();
        deleteSeconds = dead.seconds();
        if (problem != null) {
            report.problems.add("trial " + trial + ": " + problem);
        }
        for (String e : errors) {
            report.problems.add("trial " + trial + " (seed " + seed + "): " + e);
        }
        ledger.seal();
        return new TrialRun(killDelay, uploads, deleteSeconds);
    }

    /** Scrapes the server just before the kill; in journal-only trials nothing may have been uploaded. */
    private String uploadsBeforeKill(Report report, int trial, Mode mode) {
        Metrics m = Metrics.scrapePlain(metricsPort);
        long rounds = (long) CacheFixture.value(m, "ublk_cache_upload_rounds_total", "kill");
        long bytes = (long) CacheFixture.value(m, "ublk_cache_upload_bytes_total", "kill");
        long spilled = (long) CacheFixture.value(m, "ublk_cache_spilled_blocks_total", "kill");
        if (mode == Mode.JOURNAL_ONLY && (rounds != 0 || bytes != 0)) {
            report.problems.add("trial " + trial + " (journal-only) uploaded before the kill: " + rounds
                    + " round(s), " + bytes + " bytes: the setup does not keep data out of the store");
        }
        if (mode == Mode.UPLOADING) {
            report.uploadRounds += rounds;
            report.spilledBlocks += spilled;
        }
        return String.format(", uploaded before it: %d round(s), %d bytes, %d spilled", rounds, bytes, spilled);
    }

    /**
     * Removes the killed server's device in two steps around closing the writers' channel: the
     * constructor stops it (its queued I/O fails), {@link #delete} deletes it once nothing holds it
     * open. Returns a problem, or null.
     */
    private interface DeadDevice {
        String delete() throws Exception;

        double seconds();
    }

    /**
     * {@code bin/ublk-server delete --stale}, the documented way (trial 1 only: a JVM start per
     * trial costs 15-60 s in the guest). It runs beside the test: its STOP_DEV fails the queued I/O,
     * then its DEL_DEV waits until the channel is closed.
     */
    private final class CliDelete implements DeadDevice {
        private final Path dev;
        private final long t0 = System.nanoTime();
        private final CompletableFuture<Cmd.Result> run;

        CliDelete(Path dev) {
            this.dev = dev;
            this.run = CompletableFuture.supplyAsync(() -> ServerProcess.cli(dir, STEP, fastStart,
                    "delete", "--stale"));
        }

        @Override
        public String delete() throws Exception {
            Cmd.Result del;
            try {
                del = run.get(STEP.toSeconds() + 30, TimeUnit.SECONDS).ok();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Error err ? err
                        : new AssertionError("delete --stale failed", e.getCause());
            }
            System.err.println("[e2e] " + del.out().strip());
            return del.out().contains("deleted " + dev + " ") ? null
                    : "delete --stale did not delete " + dev + ": " + del.describe();
        }

        @Override
        public double seconds() {
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    /** The same two control commands {@code delete --stale} sends, from this JVM (no JVM start). */
    private static final class InProcessDelete implements DeadDevice {
        private final int id;
        private final long t0 = System.nanoTime();
        private final UblkControl control = UblkControl.open(STEP);

        InProcessDelete(Path dev) {
            id = Integer.parseInt(dev.getFileName().toString().substring("ublkb".length()));
            try {
                control.stopDevice(id);
            } catch (RuntimeException e) {
                // as delete --stale: a device already stopped has nothing to stop; DEL_DEV still works
            }
        }

        @Override
        public String delete() {
            try (control) {
                control.deleteDevice(id);
            }
            return null;
        }

        @Override
        public double seconds() {
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static void stopWriters(Writer[] writers) throws InterruptedException {
        for (Writer w : writers) {
            if (w != null) {
                w.killed = true;
            }
        }
        for (Writer w : writers) {
            if (w == null) {
                continue;
            }
            w.thread.join(STEP.toMillis());
            if (w.thread.isAlive()) {
                fail("writer " + w.thread.getName() + " still blocked " + STEP.toSeconds() + " s after the delete: "
                        + List.of(w.thread.getStackTrace()));
            }
        }
    }

    /** Reads every block back and checks it against the ledger. */
    private static void verify(ServerProcess server, WriteLedger ledger, Report report, int trial) {
        Path dev = server.device(0);
        ByteBuffer buf = StampedBlock.aligned((int) MIB);
        long pinnedBefore = ledger.pinnedBlocks();
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            for (long at = 0; at < VOLUME_BYTES; at += MIB) {
                buf.clear();
                while (buf.hasRemaining()) {
                    if (ch.read(buf, at + buf.position()) < 0) {
                        fail("EOF at " + (at + buf.position()) + " of " + dev);
                    }
                }
                for (int i = 0; i < MIB / StampedBlock.SIZE; i++) {
                    int pos = i * StampedBlock.SIZE;
                    long offset = at + pos;
                    StampedBlock.Stamp s = StampedBlock.read(buf, pos, offset);
                    long hash = s.kind() == StampedBlock.Kind.STAMPED || s.kind() == StampedBlock.Kind.ZERO ? 0
                            : StampedBlock.hash(buf, pos);
                    WriteLedger.Failure f = ledger.check((int) (offset / StampedBlock.SIZE), s, hash);
                    if (f != null) {
                        report.failures.add(f);
                    }
                }
            }
        } catch (IOException e) {
            report.problems.add("reading back trial " + trial + " failed: " + e);
            fail("reading " + dev + " back after trial " + trial + " failed: " + e + "\n" + server.describe()
                    + "\n" + report.summary(0, Duration.ZERO));
        }
        report.bytesChecked += VOLUME_BYTES;
        report.pinnedBytesChecked += pinnedBefore * StampedBlock.SIZE;
    }

    /** One writer thread: stamped writes into its own units, an fsync every 1-31 writes, until the kill. */
    private static final class Writer implements Runnable {
        final Thread thread;
        volatile boolean killed;
        private final int index;
        private final FileChannel ch;
        private final WriteLedger.Log log;
        private final SplittableRandom random;
        private final AtomicInteger completed;
        private final AtomicInteger fsynced;
        private final ConcurrentLinkedQueue<String> errors;

        Writer(int index, FileChannel ch, WriteLedger.Log log, SplittableRandom random, AtomicInteger completed,
                AtomicInteger fsynced, ConcurrentLinkedQueue<String> errors) {
            this.index = index;
            this.ch = ch;
            this.log = log;
            this.random = random;
            this.completed = completed;
            this.fsynced = fsynced;
            this.errors = errors;
            this.thread = new Thread(this, "kill-writer-" + index);
            this.thread.setDaemon(true);
        }

        @Override
        public void run() {
            ByteBuffer buf = StampedBlock.aligned(UNIT_BLOCKS * StampedBlock.SIZE);
            int untilFsync = 1 + random.nextInt(31);
            try {
                while (!killed) {
                    int unit = pickUnit();
                    int unitFirst = unit * UNIT_BLOCKS;
                    int unitBlocks = Math.min(UNIT_BLOCKS, BLOCKS - unitFirst);
                    int count = pickCount(unitBlocks);
                    int first = unitFirst + random.nextInt(unitBlocks - count + 1);
                    WriteLedger.Write w = log.issue(first, count);
                    buf.clear();
                    for (int i = 0; i < count; i++) {
                        long offset = (long) (first + i) * StampedBlock.SIZE;
                        StampedBlock.fill(buf, i * StampedBlock.SIZE, offset, w.seq, index);
                    }
                    buf.limit(count * StampedBlock.SIZE);
                    long at = (long) first * StampedBlock.SIZE;
                    while (buf.hasRemaining()) {
                        ch.write(buf, at + buf.position());
                    }
                    log.completed(w);
                    completed.incrementAndGet();
                    if (--untilFsync == 0) {
                        long issued = log.fsyncIssued();
                        ch.force(false);
                        log.fsynced(issued);
                        fsynced.incrementAndGet();
                        untilFsync = 1 + random.nextInt(31);
                    }
                }
            } catch (IOException | RuntimeException e) {
                if (!killed) {
                    errors.add("writer " + index + " failed while the server was alive: " + e);
                }
            }
        }

        /** A unit of this thread: half the time one of the hot ones. */
        private int pickUnit() {
            int hot = (HOT_UNITS - index + WRITERS - 1) / WRITERS; // units u < HOT_UNITS with u % WRITERS == index
            if (hot > 0 && random.nextBoolean()) {
                return index + WRITERS * random.nextInt(hot);
            }
            int mine = (UNITS - index + WRITERS - 1) / WRITERS;
            return index + WRITERS * random.nextInt(mine);
        }

        /** Mostly single blocks, some up to 8, a few up to the whole unit. */
        private int pickCount(int max) {
            int p = random.nextInt(100);
            int n = p < 60 ? 1 : p < 90 ? 2 + random.nextInt(7) : 9 + random.nextInt(UNIT_BLOCKS - 8);
            return Math.min(n, max);
        }
    }
}
