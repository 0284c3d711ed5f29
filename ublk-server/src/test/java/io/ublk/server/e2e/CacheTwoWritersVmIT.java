package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.nio.file.ExtendedOpenOption;
import io.ublk.server.RealUblk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers, one volume (VM tier, local store): the writer lease seen from outside. Both servers
 * serve the same {@code --volume} of the same {@code --store-dir} from different cache folders, as
 * two hosts would.
 *
 * <ol>
 *   <li>While server 1 serves, server 2 without {@code --takeover} exits with status 2 (a refused
 *       open) and one {@code ublk-server: ...} line on stderr that says "lease", names the holder (server 1's
 *       writer id, line 2 of {@code <cache-dir>/<volume>/volume.id}) and when its lease expires;
 *       server 1 serves on, untouched.
 *   <li>With {@code --takeover} (and {@code --lease-ttl 6s} on every server) server 2 starts; once
 *       it printed its device, server 1's next fsync (a write + fdatasync on its device) fails with
 *       EIO. Server 2 writes and fsyncs its own pattern over the region server 1 had written and
 *       fsynced, stops (SIGTERM), {@code drain} runs on its folder, server 1 is stopped, and a fresh
 *       server 3 on an empty cache folder reads the store's image: it must be exactly writer 1's or
 *       writer 2's fsynced state, never a mix of blocks of both, never server 1's late write.
 * </ol>
 *
 * The flags and messages it relies on are in {@link Spec}.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class CacheTwoWritersVmIT {
    /** The CLI this test expects: change it here if the implementation names things otherwise. */
    static final class Spec {
        /** Given to every {@code run} of the takeover test: a short lease, so a takeover is quick. */
        static final List<String> LEASE_TTL = List.of("--lease-ttl", "6s");
        /** Lets a second server take the volume from a live lease holder. */
        static final String TAKEOVER = "--takeover";
        /** Extra flags of {@code drain} (none). */
        static final List<String> DRAIN = List.of();
        /** The exit status of a start refused because another writer holds the lease: a refused open, like any refused argument. */
        static final int REFUSED_EXIT = 2;
        /** Main prints a refusal or a runtime failure as one line with this prefix. */
        static final String ERROR_PREFIX = "ublk-server:";
        static final Pattern LEASE = Pattern.compile("(?i)\\blease");
        /** When the lease expires: an ISO-8601 instant ({@code 2025-06-01T12:00:06Z}) or "in 5 s" / "in 5.2s". */
        static final Pattern EXPIRY_INSTANT = Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z");
        static final Pattern EXPIRY_IN =
                Pattern.compile("(?i)expir\\w*\\s+in\\s+\\d+(\\.\\d+)?\\s*(ms|s|sec|seconds?)\\b");
        /** The errno text a fenced writer's fsync (or write) fails with. */
        static final String EIO = "Input/output error";
        /** Line 2 of this file in a server's cache folder is its writer id. */
        static final String ID_FILE = "volume.id";

        private Spec() {}
    }

    private static final String VOLUME = "two";
    private static final long MIB = 1 << 20;
    /** The region both writers write in full (the rest of the volume stays zero). */
    private static final long REGION = 4 * MIB;
    private static final int TAG_WRITER_1 = 1;
    private static final int TAG_WRITER_2 = 2;
    private static final int TAG_LATE = 3;
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration STEP = Duration.ofMinutes(2);
    private static final Map<String, String> ENV = Map.of("UBLK_JAVA_OPTS", ServerProcess.QUICK_START_OPTS);

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    private String[] args(String cacheName, String... extra) {
        return CacheFixture.args(VOLUME, dir.resolve(cacheName), CacheFixture.localStore(dir.resolve("store")), extra);
    }

    private static String[] concat(List<String> a, String... b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(List.of(b));
        return r.toArray(String[]::new);
    }

    /** A start with the lease flags: if it fails, say which flags it had. */
    private ServerProcess startPerSpec(String who, String[] args) {
        try {
            return ServerProcess.start(dir.resolve(who), START, ENV, args);
        } catch (AssertionError e) {
            throw new AssertionError(who + " did not start with the flags " + List.of(args)
                    + ": " + e.getMessage(), e);
        }
    }

    @Test
    void aSecondServerWithoutTakeoverIsRefusedNamingTheLeaseHolderAndItsExpiry() throws Exception {
        try (ServerProcess one = ServerProcess.start(dir.resolve("server-1"), START, ENV,
                args("cache-1", "--size", "32MiB"))) {
            String holder = writerId(dir.resolve("cache-1"));
            Instant asked = Instant.now();
            ServerProcess.Attempt two = ServerProcess.attempt(dir.resolve("server-2"), START, ENV, args("cache-2"));
            if (two.started()) {
                two.server().close();
                fail("server 2 (cache folder cache-2, no " + Spec.TAKEOVER + ") started serving "
                        + two.server().devices() + " while server 1 (writer " + holder + ") serves the volume: the"
                        + " spec wants exit " + Spec.REFUSED_EXIT + " and one stderr line naming the lease holder"
                        + " and when its lease expires");
            }
            String why = "server 2's exit " + two.exit() + ", stderr:\n" + two.stderr();
            assertThat(two.exit()).as(why).isEqualTo(Spec.REFUSED_EXIT);
            List<String> lines = two.stderr().lines().filter(l -> l.startsWith(Spec.ERROR_PREFIX)).toList();
            assertThat(lines).as("one '%s' line: %s", Spec.ERROR_PREFIX, why).hasSize(1);
            String line = lines.get(0);
            assertThat(Spec.LEASE.matcher(line).find()).as("says 'lease': %s", line).isTrue();
            assertThat(line).as("names the holder, server 1's writer id").contains(holder);
            assertExpiry(line, asked);

            // The refusal changed nothing: server 1 still serves and syncs.
            one.assertAlive();
            try (FileChannel ch = open(one.device(0))) {
                writeRegion(ch, 0, StampedBlock.SIZE, TAG_WRITER_1);
                ch.force(false);
            }
            one.stop();
        }
    }

    private static void assertExpiry(String line, Instant asked) {
        Matcher at = Spec.EXPIRY_INSTANT.matcher(line);
        if (at.find()) {
            Instant expiry;
            try {
                expiry = Instant.parse(at.group());
            } catch (DateTimeParseException e) {
                throw new AssertionError("expiry '" + at.group() + "' is no instant: " + line, e);
            }
            // The holder renews its lease: it cannot have run out long before we asked.
            assertThat(expiry).as("the lease's expiry in: %s", line).isAfter(asked.minusSeconds(60));
            return;
        }
        assertThat(Spec.EXPIRY_IN.matcher(line).find())
                .as("says when the lease expires (an ISO-8601 instant or 'expires in N s'): %s", line).isTrue();
    }

    @Test
    void aTakeoverFencesTheFirstWriterAndTheStoreHoldsOneWritersStateNeverAMix() throws Exception {
        ServerProcess one = startPerSpec("server-1", concat(Spec.LEASE_TTL, args("cache-1", "--size", "32MiB")));
        FileChannel oneCh = null;
        try {
            oneCh = open(one.device(0));
            writeRegion(oneCh, 0, REGION, TAG_WRITER_1);
            oneCh.force(false); // writer 1's fsynced state: the region stamped TAG_WRITER_1

            try (ServerProcess two = startPerSpec("server-2", concat(takeover(), args("cache-2")))) {
                // Server 2 printed its device: server 1 is fenced, its next fsync fails.
                String late = fencedFsync(oneCh);
                if (late != null) {
                    fail("server 1's fsync after server 2 took over: " + late + "\n" + one.describe());
                }
                try (FileChannel ch = open(two.device(0))) {
                    writeRegion(ch, 0, REGION, TAG_WRITER_2);
                    ch.force(false); // writer 2's fsynced state
                }
                two.stop();
            }
            List<String> drain = new ArrayList<>(List.of("drain", "--cache-dir", dir.resolve("cache-2").toString(),
                    "--volume", VOLUME, "--store", "local", "--store-dir", dir.resolve("store").toString()));
            drain.addAll(Spec.DRAIN);
            Cmd.Result drained = ServerProcess.cli(dir, STEP, ENV, drain.toArray(String[]::new)).ok();
            System.err.println("[e2e] " + drained.out().strip());
        } finally {
            stopFenced(one, oneCh);
        }

        try (ServerProcess three = startPerSpec("server-3", concat(takeover(), args("cache-3")))) {
            String image = image(three.device(0));
            three.stop();
            if (image != null) {
                fail("the store's image (read through server 3 on an empty cache folder) is " + image);
            }
        }
    }

    private static List<String> takeover() {
        List<String> t = new ArrayList<>(Spec.LEASE_TTL);
        t.add(Spec.TAKEOVER);
        return t;
    }

    /**
     * One block write + fdatasync on the fenced server's device, bounded in time; returns null if
     * it failed with EIO as the spec wants, else what happened.
     */
    private static String fencedFsync(FileChannel ch) throws InterruptedException {
        CompletableFuture<String> r = CompletableFuture.supplyAsync(() -> {
            try {
                writeRegion(ch, 0, StampedBlock.SIZE, TAG_LATE);
                ch.force(false);
                return "the write and the fsync succeeded (want EIO)";
            } catch (IOException e) {
                return e.getMessage() != null && e.getMessage().contains(Spec.EIO) ? null
                        : "failed with " + e + " (want EIO, '" + Spec.EIO + "')";
            }
        });
        try {
            return r.get(STEP.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return "neither succeeded nor failed within " + STEP.toSeconds() + " s (want EIO at once)";
        } catch (ExecutionException e) {
            return "failed with " + e.getCause();
        }
    }

    /** Stops the fenced server 1 (its exit status is not part of the spec), then removes any device it left. */
    private void stopFenced(ServerProcess one, FileChannel ch) throws IOException {
        one.close();
        System.err.println("[e2e] server 1 (fenced) ended: " + (one.isAlive() ? "still alive" : "stopped"));
        boolean left = one.devices().stream().anyMatch(Files::exists);
        if (left) {
            Cmd.Result del = ServerProcess.cli(dir, STEP, ENV, "delete", "--stale");
            System.err.println("[e2e] server 1 left its device: " + del.describe());
        }
        if (ch != null) {
            ch.close();
        }
    }

    /** Reads the whole device; returns null if it is exactly one writer's fsynced state, else what it is. */
    private static String image(Path dev) throws IOException {
        long size = 32 * MIB;
        ByteBuffer buf = StampedBlock.aligned((int) MIB);
        int[] counts = new int[4]; // writer 1's block, writer 2's, zeros outside the region, anything else
        List<String> odd = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            for (long at = 0; at < size; at += MIB) {
                buf.clear();
                while (buf.hasRemaining()) {
                    if (ch.read(buf, at + buf.position()) < 0) {
                        throw new IOException("EOF at " + (at + buf.position()));
                    }
                }
                for (int i = 0; i < MIB / StampedBlock.SIZE; i++) {
                    long offset = at + (long) i * StampedBlock.SIZE;
                    StampedBlock.Stamp s = StampedBlock.read(buf, i * StampedBlock.SIZE, offset);
                    boolean inRegion = offset < REGION;
                    long want = offset / StampedBlock.SIZE + 1;
                    if (inRegion && s.kind() == StampedBlock.Kind.STAMPED && s.seq() == want
                            && (s.tag() == TAG_WRITER_1 || s.tag() == TAG_WRITER_2)) {
                        counts[s.tag() - 1]++;
                    } else if (!inRegion && s.kind() == StampedBlock.Kind.ZERO) {
                        counts[2]++;
                    } else {
                        counts[3]++;
                        if (odd.size() < 8) {
                            odd.add("0x" + Long.toHexString(offset) + ": " + s.describe()
                                    + (s.tag() == TAG_LATE ? " = server 1's write after the takeover" : ""));
                        }
                    }
                }
            }
        }
        int regionBlocks = (int) (REGION / StampedBlock.SIZE);
        if (counts[3] == 0 && (counts[0] == regionBlocks || counts[1] == regionBlocks)) {
            System.err.println("[e2e] the store's image is writer " + (counts[0] == regionBlocks ? 1 : 2)
                    + "'s fsynced state");
            return null;
        }
        return String.format("no one writer's state: %d block(s) of writer 1's, %d of writer 2's (of %d in the"
                + " region), %d zero block(s) after it, %d other block(s)%s", counts[0], counts[1], regionBlocks,
                counts[2], counts[3], odd.isEmpty() ? "" : ", e.g. " + odd);
    }

    /** Server {@code cacheDir}'s writer id: line 2 of its volume's id file. */
    private static String writerId(Path cacheDir) throws IOException {
        List<String> lines = Files.readAllLines(cacheDir.resolve(VOLUME).resolve(Spec.ID_FILE),
                StandardCharsets.US_ASCII);
        assertThat(lines).as("%s: volume uuid, writer id", Spec.ID_FILE).hasSizeGreaterThanOrEqualTo(2);
        return lines.get(1).strip();
    }

    private static FileChannel open(Path dev) throws IOException {
        return FileChannel.open(dev, StandardOpenOption.READ, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
    }

    /** Stamps [offset, offset + length): block b gets seq b + 1 and {@code tag}; 256 KiB writes. */
    private static void writeRegion(FileChannel ch, long offset, long length, int tag) throws IOException {
        int chunk = 256 * 1024;
        ByteBuffer buf = StampedBlock.aligned(chunk);
        for (long at = offset; at < offset + length; at += chunk) {
            int n = (int) Math.min(chunk, offset + length - at);
            buf.clear().limit(n);
            for (int i = 0; i < n; i += StampedBlock.SIZE) {
                long o = at + i;
                StampedBlock.fill(buf, i, o, o / StampedBlock.SIZE + 1, tag);
            }
            while (buf.hasRemaining()) {
                ch.write(buf, at + buf.position());
            }
        }
    }
}
