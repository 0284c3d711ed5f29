package io.ublk.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 in front of an S3 server that misbehaves on purpose. Bytes pass
 * unchanged (so SigV4 signatures, which cover the Host header, stay valid); each new connection
 * takes the next planned {@link Fault}, or passes through once the plan is used up. Faulty
 * answers carry {@code Connection: close}, so a client's retry comes on a new connection and
 * meets the next fault: plan N faults, see N failed attempts.
 */
final class FaultProxy implements AutoCloseable {
    enum Fault {
        /** Pass the connection through. */
        PASS,
        /** Answer 503 SlowDown without telling the server. */
        SLOW_DOWN,
        /** Answer 500 without telling the server. */
        INTERNAL_ERROR,
        /** Send the request to the server, then swallow its answer and say 500: an ambiguous failure. */
        APPLY_THEN_FAIL,
        /** Read the request and never answer. */
        HANG
    }

    private final ServerSocket listener;
    private final int targetPort;
    private final ConcurrentLinkedQueue<Fault> plan = new ConcurrentLinkedQueue<>();
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger peakOpen = new AtomicInteger();

    FaultProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::acceptLoop, "fault-proxy-accept");
        accept.setDaemon(true);
        accept.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + listener.getLocalPort());
    }

    /** The next {@code times} new connections get {@code fault}. */
    FaultProxy plan(Fault fault, int times) {
        for (int i = 0; i < times; i++) {
            plan.add(fault);
        }
        return this;
    }

    int connections() {
        return connections.get();
    }

    /** The most client connections open at once. */
    int peakOpenConnections() {
        return peakOpen.get();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                connections.incrementAndGet();
                peakOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
                sockets.add(client);
                Fault fault = plan.poll();
                spawn(() -> serve(client, fault == null ? Fault.PASS : fault));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket client, Fault fault) {
        try (client) {
            switch (fault) {
                case PASS -> pass(client);
                case SLOW_DOWN -> {
                    readHead(client.getInputStream());
                    answer(client, 503, "SlowDown");
                }
                case INTERNAL_ERROR -> {
                    readHead(client.getInputStream());
                    answer(client, 500, "InternalError");
                }
                case APPLY_THEN_FAIL -> applyThenFail(client);
                case HANG -> client.getInputStream().transferTo(OutputStream.nullOutputStream());
            }
        } catch (IOException e) {
            // the client or the server went away: so does this connection
        } finally {
            sockets.remove(client);
            open.decrementAndGet();
        }
    }

    private void pass(Socket client) throws IOException {
        try (Socket server = connect()) {
            Thread up = spawn(() -> copy(client, server));
            copy(server, client);
            join(up);
        }
    }

    private void applyThenFail(Socket client) throws IOException {
        try (Socket server = connect()) {
            Thread up = spawn(() -> copy(client, server)); // the request body flows on while we read answers
            InputStream fromServer = server.getInputStream();
            String head;
            while ((head = readHead(fromServer)).startsWith("HTTP/1.1 100")) {
                client.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1)); // let the body come
            }
            answerOnly(client, 500, "InternalError"); // the server applied it; the client never hears
            join(up);
        }
    }

    /** Answers with an S3 error and lets the client close first (no reset under its feet). */
    private static void answer(Socket client, int status, String code) throws IOException {
        answerOnly(client, status, code);
        client.setSoTimeout(2000);
        try {
            client.getInputStream().transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            // timed out or reset: either way the answer is out
        }
    }

    private static void answerOnly(Socket client, int status, String code) throws IOException {
        String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code
                + "</Code><Message>injected by FaultProxy</Message></Error>";
        String response = "HTTP/1.1 " + status + " Injected\r\nContent-Type: application/xml\r\nContent-Length: "
                + body.length() + "\r\nConnection: close\r\n\r\n" + body;
        client.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
        client.getOutputStream().flush();
        client.shutdownOutput();
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed inside a message head");
            }
            head.write(b);
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))
                    ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    private Socket connect() throws IOException {
        Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        sockets.add(server);
        return server;
    }

    private static void copy(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
            to.shutdownOutput();
        } catch (IOException e) {
            // one side closed: the other follows when its copy ends
        }
    }

    private static Thread spawn(Runnable r) {
        Thread t = new Thread(r, "fault-proxy-conn");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void join(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
