package io.ublk.server.e2e;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One client connection of a {@link FaultProxy}: reads each request whole, lets the fault in
 * force decide, and forwards it on this connection's own connection to the store, whose answer
 * goes back as it came. {@code Expect: 100-continue} is answered here (the store gets the request
 * without it), so a fault can be decided on the whole request.
 */
final class ProxiedConnection implements Runnable {
    /** The store answers in seconds; past this the request is reset, so nothing waits for good. */
    private static final int STORE_READ_TIMEOUT_MS = 120_000;
    /** The longest a blackhole holds a request; then it is reset (a test that forgot to heal ends). */
    private static final Duration MAX_HOLD = Duration.ofMinutes(10);
    private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    private static final AtomicLong REQUEST_IDS = new AtomicLong();

    private final FaultProxy proxy;
    private final Socket client;
    private Socket store;
    private InputStream storeIn;
    private OutputStream storeOut;

    ProxiedConnection(FaultProxy proxy, Socket client) {
        this.proxy = proxy;
        this.client = client;
    }

    @Override
    public void run() {
        try {
            InputStream in = new BufferedInputStream(client.getInputStream(), 64 * 1024);
            OutputStream out = new BufferedOutputStream(client.getOutputStream(), 64 * 1024);
            while (serveOne(in, out)) {
                // next request on the same connection
            }
        } catch (IOException | RuntimeException e) {
            // the client went away, or sent what is not HTTP: this connection ends
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            proxy.forget(client);
            dropStore();
        }
    }

    /** Serves one request; false once the connection must end. */
    private boolean serveOne(InputStream in, OutputStream out) throws IOException, InterruptedException {
        HttpHead request = HttpHead.read(in);
        if (request == null) {
            return false;
        }
        if (request.has("Expect", "100-continue")) {
            out.write(CONTINUE);
            out.flush();
            request = request.without("Expect");
        }
        byte[] body = HttpBody.read(in, request, HttpBody.ofRequest(request));
        ActiveFault f = proxy.faultFor(subject(request, body));
        if (f != null) {
            switch (f.fault().kind()) {
                case UNAVAILABLE -> {
                    proxy.counted(FaultProxy.Outcome.UNAVAILABLE);
                    slowDown(request, out);
                    return request.keepsAlive();
                }
                case RESET -> {
                    proxy.counted(FaultProxy.Outcome.RESET);
                    reset();
                    return false;
                }
                case DELAY -> {
                    proxy.counted(FaultProxy.Outcome.DELAYED);
                    Thread.sleep(f.fault().delay());
                }
                case BLACKHOLE -> {
                    proxy.counted(FaultProxy.Outcome.HELD);
                    boolean healed = proxy.hold(f, MAX_HOLD);
                    if (!healed || f.fault().onHeal() == Fault.OnHeal.RESET) {
                        proxy.counted(FaultProxy.Outcome.RESET);
                        reset();
                        return false;
                    }
                }
            }
        }
        return forward(request, body, out);
    }

    /**
     * What a fault's fragment is looked for in: the decoded target (bucket, key, query); for a
     * multi-object delete ({@code POST ?delete}) also the body, which holds the keys.
     */
    static String subject(HttpHead request, byte[] body) {
        String target = request.target();
        String decoded;
        try {
            decoded = URLDecoder.decode(target, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            decoded = target;
        }
        int q = target.indexOf('?');
        boolean multiDelete = "POST".equalsIgnoreCase(request.method()) && q >= 0
                && List.of(target.substring(q + 1).split("&")).stream().anyMatch(p -> p.equals("delete") || p.startsWith("delete="));
        return multiDelete ? decoded + "\n" + new String(body, StandardCharsets.UTF_8) : decoded;
    }

    /** Sends the request to the store and relays its answer; false once the connection must end. */
    private boolean forward(HttpHead request, byte[] body, OutputStream out) throws IOException {
        try {
            if (!storeUsable()) {
                dropStore();
                store = proxy.connectUpstream();
                store.setSoTimeout(STORE_READ_TIMEOUT_MS);
                storeIn = new BufferedInputStream(store.getInputStream(), 64 * 1024);
                storeOut = new BufferedOutputStream(store.getOutputStream(), 64 * 1024);
            }
            storeOut.write(request.bytes());
            storeOut.write(body);
            storeOut.flush();
        } catch (IOException e) {
            // the store cannot be reached: the client sees a broken connection, as it would without us
            reset();
            return false;
        }
        HttpHead response;
        HttpBody.Framing framing;
        byte[] answer;
        try {
            do {
                response = HttpHead.read(storeIn);
                if (response == null) {
                    throw new IOException("the store closed the connection without an answer");
                }
                framing = HttpBody.ofResponse(response, request.method());
                answer = HttpBody.read(storeIn, response, framing);
                if (response.status() / 100 == 1 && response.status() != 101) {
                    out.write(response.bytes()); // an interim answer; the final one follows
                    out.write(answer);
                }
            } while (response.status() / 100 == 1 && response.status() != 101);
        } catch (IOException e) {
            reset();
            return false;
        }
        proxy.counted(FaultProxy.Outcome.FORWARDED); // before the client can see the answer
        out.write(response.bytes());
        out.write(answer);
        out.flush();
        if (framing == HttpBody.Framing.UNTIL_CLOSE || !response.keepsAlive()) {
            dropStore();
            return false;
        }
        return request.keepsAlive();
    }

    /**
     * Whether the kept connection to the store is still open: a store that closed an idle
     * connection (its idle timeout) shows EOF at once, a live one has nothing to read.
     */
    private boolean storeUsable() throws IOException {
        if (store == null || store.isClosed()) {
            return false;
        }
        store.setSoTimeout(1);
        try {
            storeIn.read(); // EOF, or a byte nobody asked for: not a connection to reuse
            return false;
        } catch (SocketTimeoutException e) {
            return true;
        } catch (IOException e) {
            return false;
        } finally {
            if (!store.isClosed()) {
                store.setSoTimeout(STORE_READ_TIMEOUT_MS);
            }
        }
    }

    /** A 503 SlowDown as S3 sends it (XML error body), without asking the store. */
    private static void slowDown(HttpHead request, OutputStream out) throws IOException {
        String id = "fault-" + REQUEST_IDS.incrementAndGet();
        byte[] xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                + "<Message>Please reduce your request rate.</Message><RequestId>" + id + "</RequestId></Error>")
                .getBytes(StandardCharsets.UTF_8);
        HttpHead head = HttpHead.response(503, "Slow Down", List.of(
                new HttpHead.Field("Content-Type", "application/xml"),
                new HttpHead.Field("Content-Length", Integer.toString(xml.length)),
                new HttpHead.Field("x-amz-request-id", id),
                new HttpHead.Field("Connection", request.keepsAlive() ? "keep-alive" : "close")));
        out.write(head.bytes());
        if (!"HEAD".equalsIgnoreCase(request.method())) {
            out.write(xml);
        }
        out.flush();
    }

    /** Closes the client connection with a TCP reset (SO_LINGER 0), and drops the store connection. */
    private void reset() {
        try {
            client.setSoLinger(true, 0);
        } catch (IOException e) {
            // closed already
        }
        proxy.forget(client);
        dropStore();
    }

    private void dropStore() {
        if (store != null) {
            proxy.forget(store);
            store = null;
            storeIn = null;
            storeOut = null;
        }
    }
}
