package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.RealUblk;
import io.ublk.server.daemon.DaemonException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon on real ublk: devices added and removed at runtime while others serve fio, the admin
 * API's refusals (each structured, each changing nothing), and the socket's peer check.
 */
class DaemonVmIT {
    private static final Duration START = Duration.ofMinutes(4);
    private static final Duration FIO = Duration.ofMinutes(6);

    @TempDir
    Path dir;

    @BeforeAll
    static void needsUblk() {
        RealUblk.require();
    }

    private List<String> cache(String volume, String... extra) {
        List<String> a = new ArrayList<>(List.of(CacheFixture.args(volume, dir.resolve("cache"),
                CacheFixture.localStore(dir.resolve("store")))));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES)
    void devicesComeAndGoWhileOthersServeFio() throws Exception {
        try (DaemonProcess d = DaemonProcess.start(dir, "daemon", START, "--workers", "2")) {
            assertThat(d.list()).as("a new daemon serves nothing").isEmpty();
            List<Path> memory = d.add(8, "--target", "memory", "--name", "m", "--size", "32MiB", "--depth", "16");
            List<Path> cached = d.add(8, cache("c", "--size", "32MiB", "--depth", "16").toArray(String[]::new));
            List<Path> all = new ArrayList<>(memory);
            all.addAll(cached);
            assertThat(all).hasSize(16).doesNotHaveDuplicates().allMatch(Files::exists);
            JsonNode listed = d.list();
            assertThat(listed).hasSize(16).allMatch(n -> n.get("state").asText().equals("LIVE"));

            // every device written and verified, all at once
            List<String> verify = new ArrayList<>(List.of("--rw=randwrite", "--bs=4k", "--size=4M",
                    "--ioengine=libaio", "--iodepth=8", "--direct=1", "--verify=crc32c", "--verify_fatal=1"));
            for (Path p : all) {
                verify.addAll(List.of("--name=" + p.getFileName(), "--filename=" + p));
            }
            Fio.run(dir, FIO, verify);

            // half keep serving a verified mixed load while the other half go, and two new ones come
            List<Path> keep = new ArrayList<>(memory.subList(0, 4));
            keep.addAll(cached.subList(0, 4));
            List<Path> go = new ArrayList<>(memory.subList(4, 8));
            go.addAll(cached.subList(4, 8));
            List<String> load = new ArrayList<>(List.of("--rw=randrw", "--bs=4k", "--ioengine=libaio", "--iodepth=4",
                    "--direct=1", "--time_based=1", "--runtime=40", "--verify=crc32c", "--verify_fatal=1",
                    "--verify_backlog=64", "--size=8M"));
            for (Path p : keep) {
                load.addAll(List.of("--name=" + p.getFileName(), "--filename=" + p));
            }
            CompletableFuture<Fio.Result> running = CompletableFuture.supplyAsync(() -> Fio.run(dir, FIO, load));
            Thread.sleep(5000);
            long t0 = System.nanoTime();
            for (Path p : go) {
                d.delete(p, false);
                assertThat(p).as("%s is gone once deleted", p).doesNotExist();
            }
            List<Path> added = d.add(2, "--target", "memory", "--name", "late", "--size", "16MiB");
            System.err.printf("[e2e] 8 devices deleted and 2 added in %.1f s while fio ran on 8 others%n",
                    (System.nanoTime() - t0) / 1e9);
            assertThat(running.isDone()).as("fio still running across the deletes").isFalse();
            Fio.Result r = running.get(FIO.toMinutes(), TimeUnit.MINUTES);
            assertThat(r.jobs()).hasSize(8).allMatch(j -> j.error() == 0 && j.writeIos() > 0);
            d.assertAlive();
            Fio.run(dir, FIO, Fio.plus(Fio.verified(added.get(0), "late", "--rw=write", "--bs=64k", "--size=4M",
                    "--ioengine=libaio", "--iodepth=4")));

            JsonNode now = d.list();
            assertThat(now).hasSize(10);
            List<String> paths = new ArrayList<>();
            now.forEach(n -> paths.add(n.get("path").asText()));
            List<String> want = new ArrayList<>();
            keep.forEach(p -> want.add(p.toString()));
            added.forEach(p -> want.add(p.toString()));
            assertThat(paths).containsExactlyInAnyOrderElementsOf(want);
            try (var records = Files.list(dir.resolve("state/devices"))) {
                assertThat(records.count()).as("one record per device").isEqualTo(10);
            }

            // the CLI, a client of the same socket, as an operator runs it
            Cmd.Result cli = ServerProcess.cli(dir, Duration.ofMinutes(2), Map.of(), "device", "list", "--socket",
                    d.socket().toString(), "--json").ok();
            JsonNode fromCli = io.ublk.server.admin.Protocol.json().readTree(cli.out());
            assertThat(fromCli).hasSize(10).allMatch(n -> n.has("id") && n.has("path") && n.has("state"));
            Cmd.Result show = ServerProcess.cli(dir, Duration.ofMinutes(2), Map.of(), "device", "show", "--socket",
                    d.socket().toString(), cached.get(0).toString()).ok();
            assertThat(show.out()).contains("committedGeneration:", "placement:", "dirtyBytes:");

            // a removed device leaves nothing behind in the daemon: fds, threads (its volume's uploader,
            // syncer, lease), mappings
            HostStats.Proc before = HostStats.process(d.pid());
            long mapsBefore = maps(d.pid());
            List<Path> extra = d.add(4, cache("x", "--size", "32MiB").toArray(String[]::new));
            HostStats.Proc with = HostStats.process(d.pid());
            for (Path p : extra) {
                d.delete(p, false);
            }
            HostStats.Proc after = settled(d.pid(), before);
            System.err.printf("[e2e] daemon before 4 adds: %s, %d maps; with them: %s; after their delete: %s, %d maps%n",
                    before, mapsBefore, with, after, maps(d.pid()));
            assertThat(with.threads()).as("the 4 volumes had threads").isGreaterThan(before.threads());
            assertThat(after.fds()).as("fds after the deletes").isEqualTo(before.fds());
            assertThat(after.threads()).as("threads after the deletes").isEqualTo(before.threads());
            assertThat(maps(d.pid())).as("mappings after the deletes").isLessThanOrEqualTo(mapsBefore + 8);

            d.stop(false);
        }
        assertThat(NoDevicesLeftBehind.ublkNodes()).as("every device deleted with the daemon").isEmpty();
        try (var records = Files.list(dir.resolve("state/devices"))) {
            assertThat(records.count()).as("records removed with their devices").isZero();
        }
    }

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void badRequestsAreRefusedAndChangeNothing() throws Exception {
        Ext4.require();
        try (DaemonProcess d = DaemonProcess.start(dir, "daemon", START, "--workers", "1")) {
            Path c0 = d.add(1, cache("v1", "--size", "32MiB").toArray(String[]::new)).get(0);
            Path m0 = d.add(1, "--target", "memory", "--name", "scratch", "--size", "64MiB").get(0);
            JsonNode before = d.list();

            assertRefused(() -> d.add(1, cache("v1", "--size", "32MiB").toArray(String[]::new)), "DUPLICATE", "v1");
            assertRefused(() -> d.add(1, "--target", "memory", "--name", "scratch", "--size", "4MiB"), "DUPLICATE",
                    "scratch");
            // a second cache folder on the same volume: the store's lease refuses it
            assertRefused(() -> d.add(1, CacheFixture.args("v1", dir.resolve("cache2"),
                    CacheFixture.localStore(dir.resolve("store")), "--size", "32MiB")), "BAD_ARGUMENT", "leased");
            assertRefused(() -> d.add(1, cache("v2", "--size", "32MiB", "--frob").toArray(String[]::new)),
                    "BAD_ARGUMENT", "--frob");
            ObjectNode unknown = d.request("device.frobnicate");
            assertRefused(() -> d.call(unknown), "UNKNOWN_COMMAND", "device.add");
            assertRefused(() -> d.delete(Path.of("/dev/ublkb999"), false), "UNKNOWN_DEVICE", "ublkb999");

            // a mounted device is not pulled from under its filesystem
            Path mnt = dir.resolve("mnt");
            Files.createDirectories(mnt);
            Cmd.run(Duration.ofMinutes(3), dir, "mkfs.ext4", "-q", "-F", m0.toString()).ok();
            Cmd.run(Duration.ofMinutes(1), dir, "mount", m0.toString(), mnt.toString()).ok();
            try {
                assertRefused(() -> d.delete(m0, false), "BUSY", "mounted");
            } finally {
                Cmd.run(Duration.ofMinutes(2), dir, "umount", mnt.toString()).ok();
            }
            // nor one a process holds open
            Process holder = new ProcessBuilder("sleep", "600").redirectInput(m0.toFile()).start();
            try {
                assertRefused(() -> d.delete(m0, false), "BUSY", "open by pid " + holder.pid());
            } finally {
                holder.destroyForcibly().waitFor();
            }
            // malformed lines, straight on the socket
            assertThat(rawAnswer(d.socket(), "{\"v\":1,\"op\":")).contains("\"code\":\"MALFORMED\"");
            assertThat(rawAnswer(d.socket(), "{\"v\":9,\"op\":\"device.list\"}")).contains("UNSUPPORTED_VERSION");
            assertThat(d.list()).as("nothing changed").isEqualTo(before);
            assertThat(c0).exists();

            // a peer that is not root is refused, even with the socket opened up to it
            Files.setPosixFilePermissions(d.socket().getParent(), java.nio.file.attribute.PosixFilePermissions
                    .fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(d.socket(), java.nio.file.attribute.PosixFilePermissions
                    .fromString("rw-rw-rw-"));
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Cmd.Result asNobody = Cmd.run(Duration.ofMinutes(1), Path.of("/"), "setpriv", "--reuid=65534",
                    "--regid=65534", "--clear-groups", "python3", "-c",
                    "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
                            + " s.sendall(b'{\"v\":1,\"op\":\"device.list\"}\\n'); print(s.makefile().readline())",
                    d.socket().toString());
            assertThat(asNobody.exit()).as("%s", asNobody.describe()).isZero();
            assertThat(asNobody.out()).contains("\"code\":\"FORBIDDEN\"").contains("may not use this socket");
            d.stop(false);
        }
    }

    @Test
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    void theConfigFileAddsAndRemovesItsDevicesOnReloadAndSighup() throws Exception {
        Path conf = dir.resolve("daemon.toml");
        String head = "[defaults]\nsize = \"16MiB\"\ndepth = 16\n\n";
        Files.writeString(conf, head + "[[device]]\nname = \"a\"\n\n[[device]]\nname = \"b\"\n");
        try (DaemonProcess d = DaemonProcess.start(dir, "daemon", START, "--workers", "1", "--config", conf.toString())) {
            assertThat(d.list()).as("the file's two devices").hasSize(2)
                    .allMatch(n -> n.get("state").asText().equals("LIVE"));
            Path byHand = d.add(1, "--target", "memory", "--name", "manual", "--size", "4MiB").get(0);

            // b is gone from the file: reload deletes it; the device added by hand stays
            Files.writeString(conf, head + "[[device]]\nname = \"a\"\n");
            JsonNode r = d.call(d.request("daemon.reload"));
            assertThat(r.get("removed").asInt()).isEqualTo(1);
            assertThat(r.get("added").asInt()).isZero();
            List<String> names = new ArrayList<>();
            d.list().forEach(n -> names.add(n.path("name").asText()));
            assertThat(names).containsExactlyInAnyOrder("a", "manual");
            assertThat(byHand).exists();

            // a file that does not check out changes nothing
            Files.writeString(conf, head + "[[device]]\nname = \"a\"\nfrob = 1\n");
            assertThatThrownBy(() -> d.call(d.request("daemon.reload"))).isInstanceOfSatisfying(DaemonException.class,
                    e -> assertThat(e.code()).isEqualTo(DaemonException.Code.BAD_ARGUMENT)).hasMessageContaining("frob");
            assertThat(d.list()).hasSize(2);

            // SIGHUP reads it again: c comes
            Files.writeString(conf, head + "[[device]]\nname = \"a\"\n\n[[device]]\nname = \"c\"\n");
            Cmd.run(Duration.ofSeconds(30), dir, "kill", "-HUP", Long.toString(d.pid())).ok();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (d.list().size() < 3 && System.nanoTime() < until) {
                Thread.sleep(200);
            }
            names.clear();
            d.list().forEach(n -> names.add(n.path("name").asText()));
            assertThat(names).as("after SIGHUP").containsExactlyInAnyOrder("a", "c", "manual");
            d.stop(false);
        }
    }

    private static long maps(long pid) throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/maps")).size();
    }

    /** The process once its fds and threads are back to {@code want}'s, or after 20 s as they are. */
    private static HostStats.Proc settled(long pid, HostStats.Proc want) throws Exception {
        HostStats.Proc p = HostStats.process(pid);
        for (int i = 0; i < 200 && (p.fds() != want.fds() || p.threads() != want.threads()); i++) {
            Thread.sleep(100);
            p = HostStats.process(pid);
        }
        return p;
    }

    private static String rawAnswer(Path socket, String line) throws Exception {
        try (var c = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
            c.write(java.nio.ByteBuffer.wrap((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            return new java.io.BufferedReader(new java.io.InputStreamReader(java.nio.channels.Channels.newInputStream(c)))
                    .readLine();
        }
    }

    private static void assertRefused(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String code,
            String messagePart) {
        assertThatThrownBy(call).isInstanceOfSatisfying(DaemonException.class, e -> {
            assertThat(e.code().name()).as("code of: %s", e.getMessage()).isEqualTo(code);
            assertThat(e.getMessage()).contains(messagePart);
        });
    }
}
