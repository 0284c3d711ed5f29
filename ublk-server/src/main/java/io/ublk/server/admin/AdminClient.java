package io.ublk.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.daemon.DaemonException;
import io.ublk.server.daemon.DaemonException.Code;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** One admin request over the daemon's socket: sends it, hands progress lines on, returns the result. */
public final class AdminClient {
    private final Path socket;
    private final ObjectMapper json = Protocol.json();

    public AdminClient(Path socket) {
        this.socket = socket;
    }

    /** A request object for {@code op}, with the protocol version set. */
    public ObjectNode request(String op) {
        ObjectNode n = json.createObjectNode();
        n.put("v", Protocol.VERSION);
        n.put("op", op);
        return n;
    }

    /**
     * Sends the request and waits for the answer.
     *
     * @return the result of a successful answer
     * @throws DaemonException the daemon's error, or FAILED when the daemon cannot be reached
     */
    public JsonNode call(ObjectNode request, Consumer<String> progress) {
        if (!Files.exists(socket)) {
            throw new DaemonException(Code.FAILED, "no daemon socket at " + socket
                    + " (is the daemon running? start it with: bin/ublk-server daemon --socket " + socket + ")");
        }
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ByteBuffer b = ByteBuffer.wrap((json.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                c.write(b);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
            while (true) {
                String line = in.readLine();
                if (line == null) {
                    throw new DaemonException(Code.FAILED, "the daemon closed the connection without an answer");
                }
                JsonNode n = json.readTree(line);
                if (n.has("progress")) {
                    progress.accept(n.get("progress").asText());
                    continue;
                }
                if (n.path("ok").asBoolean(false)) {
                    return n.get("result");
                }
                JsonNode err = n.path("error");
                Code code;
                try {
                    code = Code.valueOf(err.path("code").asText("FAILED"));
                } catch (IllegalArgumentException e) {
                    code = Code.FAILED;
                }
                throw new DaemonException(code, err.path("message").asText("(no message)"));
            }
        } catch (IOException e) {
            throw new DaemonException(Code.FAILED, "cannot talk to the daemon at " + socket + ": " + e.getMessage(), e);
        }
    }
}
