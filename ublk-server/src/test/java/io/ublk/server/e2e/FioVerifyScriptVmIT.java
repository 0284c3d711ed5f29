package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.RealUblk;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operators' verification suites, {@code scripts/fio-verify}, run as users run them (VM tier):
 * two memory devices and one cached volume on the embedded local store, each served by its own
 * {@code run} server. {@code --quick} must pass every case on all three devices and list each one
 * OK in its table; the cold wake, which needs the daemon's {@code volume drain}, must be listed
 * SKIPPED for want of {@code --socket}. And a corrupted block must fail the suite: write with
 * {@code --write-only}, overwrite 4 KiB of one case's region with dd, then {@code --verify-only}
 * exits 1 with that case FAIL and the untouched one OK.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class FioVerifyScriptVmIT {
    private static final Duration START = Duration.ofMinutes(5);
    private static final Duration SUITE = Duration.ofMinutes(12);
    /** One table row: case, device(s), then the result at the end of the line. */
    private static final Pattern ROW = Pattern.compile(
            "^(\\S+)\\s+(\\S+)\\s+(\\S+)\\s.*?\\s(OK|FAIL \\(.*\\)|SKIPPED \\(.*\\))$");

    @TempDir
    static Path dir;
    private static ServerProcess memory;
    private static ServerProcess cache;

    record Row(String name, String devices, String time, String result) {}

    @BeforeAll
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    static void startServers() {
        RealUblk.require();
        memory = ServerProcess.start(dir.resolve("memory"), START, "--target", "memory", "--size", "64MiB",
                "--count", "2");
        assertThat(memory.devices()).hasSize(2);
        cache = ServerProcess.start(dir.resolve("cache-server"), START, CacheFixture.args("fioverify",
                dir.resolve("cache"), CacheFixture.localStore(dir.resolve("store")), "--size", "64MiB"));
        assertThat(cache.devices()).hasSize(1);
    }

    @AfterEach
    void serversStillUp() {
        for (ServerProcess s : new ServerProcess[] {memory, cache}) {
            if (s != null) {
                s.assertAlive();
            }
        }
    }

    @AfterAll
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    static void stopServers() {
        try {
            if (cache != null) {
                cache.stop();
            }
            if (memory != null) {
                memory.stop();
            }
        } finally {
            CacheFixture.closeAll(cache, memory);
        }
    }

    @Test
    void quickSuitePassesOnMemoryAndCachedDevicesAndSaysWhyColdWakeIsSkipped() {
        List<Path> devs = List.of(memory.device(0), memory.device(1), cache.device(0));
        Cmd.Result r = fioVerify("--quick", "--cold-wake", devs.get(0).toString(), devs.get(1).toString(),
                devs.get(2).toString());
        assertThat(r.exit()).as("fio-verify --quick must pass: %s", r.describe()).isZero();
        List<Row> rows = table(r);

        for (String c : List.of("seq-write", "rand-write", "randrw", "bsrange")) {
            for (Path d : devs) {
                Row row = row(rows, c, d.toString(), r);
                assertThat(row.result()).as("%s on %s: %s", c, d, r.describe()).isEqualTo("OK");
                assertThat(row.time()).as("time of %s on %s", c, d).matches("\\d+\\.\\ds");
            }
        }
        String all = String.join(",", devs.stream().map(p -> p.getFileName().toString()).toList());
        Row multi = row(rows, "multi-device", all, r);
        assertThat(multi.result()).as("multi-device on %s: %s", all, r.describe()).isEqualTo("OK");
        Row cold = row(rows, "cold-wake", "-", r);
        assertThat(cold.result()).as("cold wake without the daemon").startsWith("SKIPPED (").contains("--socket");
        assertThat(rows).as("4 cases x 3 devices + multi-device + cold-wake").hasSize(14);
        assertThat(r.out()).doesNotContain("FAIL").contains("every case that ran passed");
    }

    @Test
    void aCorruptedBlockBetweenWriteAndVerifyFailsTheSuite() {
        String dev = memory.device(0).toString();
        String[] cases = {"--quick", "--cases", "seq-write,rand-write"};
        Cmd.Result w = fioVerify(concat(cases, "--write-only", dev));
        assertThat(w.exit()).as("--write-only: %s", w.describe()).isZero();
        assertThat(row(table(w), "seq-write", dev, w).result()).isEqualTo("OK");

        // seq-write's region is the device's first SIZE bytes (4 MiB with --quick), in 128 KiB
        // blocks: 4 KiB of random bytes at 1 MiB + 16 KiB land inside the block at 1 MiB, past its
        // header, so its data no longer matches its checksum.
        Cmd.Result dd = Cmd.run(Duration.ofMinutes(2), dir, "dd", "if=/dev/urandom", "of=" + dev, "bs=4096",
                "seek=260", "count=1", "oflag=direct", "conv=notrunc", "status=none");
        assertThat(dd.exit()).as("dd: %s", dd.describe()).isZero();

        Cmd.Result v = fioVerify(concat(cases, "--verify-only", dev));
        assertThat(v.exit()).as("--verify-only after the corruption must fail: %s", v.describe()).isEqualTo(1);
        List<Row> rows = table(v);
        assertThat(row(rows, "seq-write", dev, v).result()).as(v.describe())
                .startsWith("FAIL (").containsPattern("verify failed|verify: bad")
                .as("fio names the corrupted block").contains("offset 1048576");
        assertThat(row(rows, "rand-write", dev, v).result()).as("the region nobody touched: %s", v.describe())
                .isEqualTo("OK");
        assertThat(v.out()).contains("fio-verify: FAILED");
    }

    @Test
    void coldWakeThroughTheDaemonReadsBackFromTheStore() throws Exception {
        Path home = dir.resolve("daemon");
        try (DaemonProcess d = DaemonProcess.start(home, "run", START, "--workers", "1")) {
            Path dev = d.add(1, CacheFixture.args("coldwake", home.resolve("cache"),
                    CacheFixture.localStore(home.resolve("store")), "--size", "64MiB")).get(0);
            Cmd.Result r = fioVerify("--quick", "--cold-wake", "--cases", "cold-wake", "--socket",
                    d.socket().toString(), dev.toString());
            assertThat(r.exit()).as("fio-verify cold-wake: %s", r.describe()).isZero();
            Row cold = row(table(r), "cold-wake", dev.toString(), r);
            assertThat(cold.result()).as(r.describe()).isEqualTo("OK");
            com.fasterxml.jackson.databind.node.ObjectNode show = d.request("device.show");
            show.put("device", dev.toString());
            assertThat(d.call(show).get("dirtyBytes").asLong()).as("drained").isZero();
            d.stop(false);
        }
    }

    private static Cmd.Result fioVerify(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ServerProcess.root().resolve("scripts/fio-verify").toString());
        cmd.addAll(List.of(args));
        Cmd.Result r = Cmd.run(SUITE, dir, Map.of(), cmd);
        System.err.printf("[e2e] fio-verify exit %d in %.1f s:%n%s%n", r.exit(), r.took().toMillis() / 1000.0,
                r.out().strip());
        return r;
    }

    /** The rows of the table fio-verify printed on stdout (the header excluded). */
    private static List<Row> table(Cmd.Result r) {
        List<Row> rows = new ArrayList<>();
        for (String line : r.out().lines().toList()) {
            Matcher m = ROW.matcher(line.strip());
            if (m.matches() && !m.group(1).equals("CASE")) {
                rows.add(new Row(m.group(1), m.group(2), m.group(3), m.group(4)));
            }
        }
        assertThat(rows).as("table rows in: %s", r.describe()).isNotEmpty();
        return rows;
    }

    private static Row row(List<Row> rows, String name, String devices, Cmd.Result r) {
        List<Row> found = rows.stream().filter(x -> x.name().equals(name) && x.devices().equals(devices)).toList();
        assertThat(found).as("one row %s on %s in: %s", name, devices, r.describe()).hasSize(1);
        return found.get(0);
    }

    private static String[] concat(String[] a, String... b) {
        List<String> all = new ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }
}
