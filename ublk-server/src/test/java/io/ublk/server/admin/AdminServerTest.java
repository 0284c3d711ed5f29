package io.ublk.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.daemon.Daemon;
import io.ublk.server.daemon.DaemonException;
import io.ublk.server.daemon.DeviceSpec;
import io.ublk.server.daemon.StateDir;
import io.ublk.server.daemon.TargetOpener;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin protocol on a real unix socket, over a daemon with no device set (the host has no
 * ublk): every refusal that comes before a device is touched, each a structured error.
 */
class AdminServerTest {
    @TempDir
    Path dir;

    private StateDir state;
    private AdminServer server;
    private Path socket;
    private final List<List<String>> parsed = new ArrayList<>();

    /** Parses like the CLI would, but refuses every open: no device can come into being here. */
    private final TargetOpener opener = new TargetOpener() {
        @Override
        public DeviceSpec parse(List<String> args, Path cwd) {
            parsed.add(args);
            if (args.contains("--bogus")) {
                throw new IllegalArgumentException("Unknown option: '--bogus'");
            }
            return new DeviceSpec(args, args, "memory", "name x", "x", 4096, 1, 1);
        }

        @Override
        public Opened open(DeviceSpec spec) {
            throw new IllegalArgumentException("no targets on this host");
        }
    };

    @BeforeEach
    void start() throws Exception {
        state = StateDir.open(dir.resolve("state"), Protocol.json());
        Daemon daemon = new Daemon(state, null, opener, null, null, 4096, 1);
        socket = dir.resolve("run/admin.sock");
        server = AdminServer.start(socket, PeerPolicy.ROOT_ONLY, new AdminApi(daemon, java.util.Map::of), 2);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        state.close();
    }

    private String raw(byte[] request) throws Exception {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ByteBuffer b = ByteBuffer.wrap(request);
            while (b.hasRemaining()) {
                c.write(b);
            }
            return new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8)).readLine();
        }
    }

    private JsonNode rawJson(String line) throws Exception {
        return Protocol.json().readTree(raw((line + "\n").getBytes(StandardCharsets.UTF_8)));
    }

    private static void assertError(JsonNode answer, String code, String messagePart) {
        assertThat(answer.get("v").asInt()).isEqualTo(Protocol.VERSION);
        assertThat(answer.get("ok").asBoolean()).isFalse();
        assertThat(answer.at("/error/code").asText()).isEqualTo(code);
        assertThat(answer.at("/error/message").asText()).contains(messagePart);
    }

    @Test
    void theSocketIsPrivate() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent())))
                .isEqualTo("rwx------");
    }

    @Test
    void malformedRequestsGetStructuredErrors() throws Exception {
        assertError(rawJson("{\"v\":1, \"op\":"), "MALFORMED", "not JSON");
        assertError(rawJson("[1,2]"), "MALFORMED", "one JSON object");
        assertError(rawJson("{\"op\":\"device.list\"}"), "MALFORMED", "protocol version");
        assertError(rawJson("{\"v\":2,\"op\":\"device.list\"}"), "UNSUPPORTED_VERSION", "speaks 1");
        assertError(rawJson("{\"v\":1,\"op\":\"device.frobnicate\"}"), "UNKNOWN_COMMAND", "device.add");
        assertError(rawJson("{\"v\":1,\"op\":\"device.list\",\"verbose\":true}"), "BAD_ARGUMENT", "no field 'verbose'");
        assertError(rawJson("{\"v\":1,\"op\":\"device.del\"}"), "BAD_ARGUMENT", "missing field 'device'");
        assertError(rawJson("{\"v\":1,\"op\":\"device.del\",\"device\":7}"), "BAD_ARGUMENT", "must be a string");
        assertError(rawJson("{\"v\":1,\"op\":\"device.add\",\"args\":[\"--size\",4096]}"), "BAD_ARGUMENT", "strings");
        assertError(rawJson("{\"v\":1,\"op\":\"device.add\",\"args\":[],\"cwd\":\"rel\"}"), "BAD_ARGUMENT", "absolute");
    }

    @Test
    void aRequestTooLargeIsRefusedAndAnswered() throws Exception {
        byte[] big = new byte[Protocol.MAX_REQUEST_BYTES + 10_000];
        java.util.Arrays.fill(big, (byte) 'x');
        big[big.length - 1] = '\n';
        assertError(Protocol.json().readTree(raw(big)), "TOO_LARGE", "at most");
    }

    @Test
    void badDeviceRequestsChangeNothing() throws Exception {
        AdminClient client = new AdminClient(socket);
        ObjectNode add = client.request("device.add");
        add.putArray("args").add("--bogus");
        assertThatThrownBy(() -> client.call(add, l -> {})).isInstanceOfSatisfying(DaemonException.class,
                e -> assertThat(e.code()).isEqualTo(DaemonException.Code.BAD_ARGUMENT)).hasMessageContaining("--bogus");
        ObjectNode add2 = client.request("device.add");
        add2.putArray("args").add("--size").add("4096");
        assertThatThrownBy(() -> client.call(add2, l -> {})).hasMessageContaining("no targets on this host");
        ObjectNode del = client.request("device.del");
        del.put("device", "/dev/ublkb42");
        assertThatThrownBy(() -> client.call(del, l -> {})).isInstanceOfSatisfying(DaemonException.class,
                e -> assertThat(e.code()).isEqualTo(DaemonException.Code.UNKNOWN_DEVICE));
        ObjectNode show = client.request("device.show");
        show.put("device", "no-such-volume");
        assertThatThrownBy(() -> client.call(show, l -> {})).hasMessageContaining("no device 'no-such-volume'");
        assertThat(client.call(client.request("device.list"), l -> {}).get("devices")).isEmpty();
        try (var files = Files.list(dir.resolve("state/devices"))) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void theCliPrintsAnswersAndRefusals() {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = io.ublk.server.cli.Main.execute(new java.io.PrintWriter(out), new java.io.PrintWriter(err),
                "device", "list", "--socket", socket.toString(), "--json");
        assertThat(code).as("stderr: %s", err).isZero();
        assertThat(out.toString().strip()).isEqualTo("[]");
        out.getBuffer().setLength(0);
        code = io.ublk.server.cli.Main.execute(new java.io.PrintWriter(out), new java.io.PrintWriter(err),
                "device", "del", "--socket", socket.toString(), "/dev/ublkb42");
        assertThat(code).as("a refused request exits 2").isEqualTo(2);
        assertThat(err.toString()).contains("ublk-server: UNKNOWN_DEVICE: /dev/ublkb42");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void aLiveSocketIsNotTakenOverAndADeadOneIs() throws Exception {
        assertThatThrownBy(() -> AdminServer.start(socket, PeerPolicy.ROOT_ONLY, null, 1))
                .hasMessageContaining("another daemon answers on");
        server.close();
        // a dead daemon's socket file: bound once, nobody listening any more
        Path dead = dir.resolve("run/dead.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(dead));
        }
        assertThat(dead).exists();
        try (AdminServer again = AdminServer.start(dead, PeerPolicy.ROOT_ONLY, null, 1)) {
            assertThat(again.socket()).isEqualTo(dead);
        }
    }
}
