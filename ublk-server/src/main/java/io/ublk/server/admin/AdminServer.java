package io.ublk.server.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.daemon.DaemonException;
import io.ublk.server.daemon.DaemonException.Code;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the admin protocol ({@link Protocol}) on a unix socket: created 0600 (0660 with a group)
 * in a folder 0700 (0750), each connection's peer checked with SO_PEERCRED. Bounded: at most
 * {@code handlers} requests run at once and {@link #QUEUED} wait; beyond that a connection is
 * answered BUSY. A peer gets {@link #READ_TIMEOUT_SECONDS} to send its request line.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    static final int QUEUED = 64;
    static final int READ_TIMEOUT_SECONDS = 30;

    private final Path socket;
    private final ServerSocketChannel server;
    private final PeerPolicy policy;
    private final AdminApi api;
    private final ObjectMapper json = Protocol.json();
    private final ThreadPoolExecutor handlers;
    private final ScheduledExecutorService timer;
    private final Thread acceptor;
    private volatile boolean closed;

    private AdminServer(Path socket, ServerSocketChannel server, PeerPolicy policy, AdminApi api, int threads) {
        this.socket = socket;
        this.server = server;
        this.policy = policy;
        this.api = api;
        this.handlers = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(QUEUED), r -> daemonThread(r, "ublk-admin"));
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> daemonThread(r, "ublk-admin-timer"));
        this.acceptor = daemonThread(this::acceptLoop, "ublk-admin-accept");
    }

    /**
     * Binds the socket and starts accepting. A socket file no daemon answers on is a dead one's and
     * is replaced; one that answers is another daemon's, and this one refuses to start.
     */
    public static AdminServer start(Path socket, PeerPolicy policy, AdminApi api, int threads) throws IOException {
        Path abs = socket.toAbsolutePath().normalize();
        Path dir = abs.getParent();
        String dirMode = policy.group() == null ? "rwx------" : "rwxr-x---";
        String sockMode = policy.group() == null ? "rw-------" : "rw-rw----";
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(dirMode));
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            if (answers(abs)) {
                throw new IllegalStateException("another daemon answers on " + abs + "; stop it first");
            }
            Files.delete(abs);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(abs), QUEUED);
            Files.setPosixFilePermissions(abs, PosixFilePermissions.fromString(sockMode));
            if (policy.group() != null) {
                GroupPrincipal g = abs.getFileSystem().getUserPrincipalLookupService()
                        .lookupPrincipalByGroupName(policy.group());
                Files.getFileAttributeView(dir, PosixFileAttributeView.class).setGroup(g);
                Files.getFileAttributeView(abs, PosixFileAttributeView.class).setGroup(g);
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        AdminServer s = new AdminServer(abs, ch, policy, api, threads);
        s.acceptor.start();
        LOG.info("admin socket {} ({}{})", abs, sockMode, policy.group() == null ? "" : ", group " + policy.group());
        return s;
    }

    private static boolean answers(Path socket) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.error("admin socket accept failed: {}", e.toString());
                }
                return;
            }
            try {
                handlers.execute(() -> serve(c));
            } catch (RejectedExecutionException e) {
                answerAndClose(c, error(Code.BUSY, "the daemon has " + QUEUED + " admin requests waiting; try again"));
            }
        }
    }

    private void serve(SocketChannel c) {
        ScheduledFuture<?> timeout = timer.schedule(() -> closeQuietly(c), READ_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        String op = "?";
        try {
            UnixDomainPrincipal peer = c.getOption(ExtendedSocketOptions.SO_PEERCRED);
            String refused = policy.refusal(peer.user(), peer.group());
            if (refused != null) {
                LOG.warn("admin request refused: {}", refused);
                throw new DaemonException(Code.FORBIDDEN, refused);
            }
            ObjectNode req;
            try {
                req = read(c);
            } finally {
                timeout.cancel(false);
            }
            op = req.path("op").asText("?");
            Object result = api.handle(req, line -> progress(c, line));
            Map<String, Object> ok = new LinkedHashMap<>();
            ok.put("v", Protocol.VERSION);
            ok.put("ok", true);
            ok.put("result", result);
            write(c, ok);
        } catch (DaemonException e) {
            if (!e.code().isRefusal()) {
                LOG.error("admin {} failed: {}", op, e.getMessage());
            }
            answer(c, error(e.code(), e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            LOG.debug("admin connection ended: {}", e.toString());
        } catch (RuntimeException e) {
            LOG.error("admin {} failed", op, e);
            answer(c, error(Code.FAILED, String.valueOf(e.getMessage())));
        } finally {
            timeout.cancel(false);
            closeQuietly(c);
        }
    }

    /** One request line, checked for size, JSON, an object, and the protocol version. */
    private ObjectNode read(SocketChannel c) throws IOException {
        InputStream in = new java.io.BufferedInputStream(Channels.newInputStream(c), 8192);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0 || b == '\n') {
                break;
            }
            if (line.size() >= Protocol.MAX_REQUEST_BYTES) {
                skipLine(in); // so the peer reads the answer instead of a reset
                throw new DaemonException(Code.TOO_LARGE, "a request is at most " + Protocol.MAX_REQUEST_BYTES + " bytes");
            }
            line.write(b);
        }
        JsonNode n;
        try {
            n = json.readTree(line.toByteArray());
        } catch (JsonProcessingException e) {
            throw new DaemonException(Code.MALFORMED, "the request is not JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new DaemonException(Code.MALFORMED, "a request is one JSON object on one line");
        }
        JsonNode v = n.get("v");
        if (v == null || !v.isInt()) {
            throw new DaemonException(Code.MALFORMED, "the request has no protocol version (\"v\":" + Protocol.VERSION + ")");
        }
        if (v.asInt() != Protocol.VERSION) {
            throw new DaemonException(Code.UNSUPPORTED_VERSION, "protocol version " + v.asInt()
                    + " is not spoken here (this daemon speaks " + Protocol.VERSION + ")");
        }
        return (ObjectNode) n;
    }

    /** Reads to the end of the line, at most 16 MiB (the read timeout bounds the time). */
    private static void skipLine(InputStream in) throws IOException {
        byte[] buf = new byte[8192];
        long left = 16L << 20;
        while (left > 0) {
            int n = in.read(buf);
            if (n < 0) {
                return;
            }
            for (int i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                    return;
                }
            }
            left -= n;
        }
    }

    private void progress(SocketChannel c, String line) {
        try {
            write(c, Map.of("v", Protocol.VERSION, "progress", line));
        } catch (IOException e) {
            // the client went away; the operation goes on
        }
    }

    private static Map<String, Object> error(Code code, String message) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("code", code.name());
        err.put("message", message);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("v", Protocol.VERSION);
        m.put("ok", false);
        m.put("error", err);
        return m;
    }

    private void write(SocketChannel c, Object message) throws IOException {
        byte[] line = (json.writeValueAsString(message) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.wrap(line);
        synchronized (c) {
            while (b.hasRemaining()) {
                c.write(b);
            }
        }
    }

    private void answer(SocketChannel c, Object message) {
        try {
            write(c, message);
        } catch (IOException e) {
            // nobody to tell
        }
    }

    private void answerAndClose(SocketChannel c, Object message) {
        answer(c, message);
        closeQuietly(c);
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    private static Thread daemonThread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Stops accepting, removes the socket file, and lets running requests end within a few seconds. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warn("cannot remove {}: {}", socket, e.toString());
        }
        handlers.shutdown();
        timer.shutdownNow();
        try {
            handlers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
