package io.ublk.server.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * An HTTP/1.1 proxy in the test JVM between an S3 client and its store (s3proxy), on 127.0.0.1,
 * that injects {@link Fault}s into the requests of chosen keys and passes every other request
 * through byte for byte. The server under test runs as its own process with this proxy as its
 * {@code --endpoint}; the test drives it with {@link #inject} and {@link #heal}.
 *
 * <p>One thread per client connection ({@link ProxiedConnection}), each with its own connection
 * to the store, so keep-alive and request order per connection are the client's. What happened
 * to each request is counted per {@link Outcome}.
 */
final class FaultProxy implements AutoCloseable {
    /** What the proxy did with one request. */
    enum Outcome {
        /** Sent to the store and its answer relayed (after a delay or a hold, if a fault said so). */
        FORWARDED,
        /** Answered 503 SlowDown by the proxy. */
        UNAVAILABLE,
        /** Its connection reset by the proxy. */
        RESET,
        /** Held back by a {@link Fault.Kind#DELAY} before it was forwarded. */
        DELAYED,
        /** Held by a {@link Fault.Kind#BLACKHOLE}. */
        HELD
    }

    private final ServerSocket listener;
    private final InetSocketAddress upstream;
    private final AtomicReference<ActiveFault> fault = new AtomicReference<>();
    private final Map<Outcome, LongAdder> counts = new EnumMap<>(Outcome.class);
    private final AtomicInteger holding = new AtomicInteger();
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private FaultProxy(ServerSocket listener, InetSocketAddress upstream) {
        this.listener = listener;
        this.upstream = upstream;
        for (Outcome o : Outcome.values()) {
            counts.put(o, new LongAdder());
        }
        this.acceptor = Thread.ofPlatform().daemon().name("fault-proxy-accept").unstarted(this::accept);
    }

    /** A proxy on a free port of 127.0.0.1 in front of {@code store} ({@code http://host:port}). */
    static FaultProxy start(URI store) {
        try {
            ServerSocket s = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
            FaultProxy p = new FaultProxy(s, new InetSocketAddress(store.getHost(), store.getPort()));
            p.acceptor.start();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen for the fault proxy", e);
        }
    }

    /** Where clients send their requests. */
    URI endpoint() {
        return URI.create("http://127.0.0.1:" + listener.getLocalPort());
    }

    /** Puts {@code f} in force, in place of (and healing) the fault before it. */
    void inject(Fault f) {
        ActiveFault old = fault.getAndSet(new ActiveFault(f));
        if (old != null) {
            old.heal();
        }
        System.err.println("[e2e] fault proxy: " + f);
    }

    /** Ends the fault in force: requests pass again, a blackhole's held requests go as it says. */
    void heal() {
        ActiveFault old = fault.getAndSet(null);
        if (old != null) {
            old.heal();
            System.err.println("[e2e] fault proxy: healed " + old.fault() + " (" + summary() + ")");
        }
    }

    /** Requests with this outcome so far. */
    long count(Outcome o) {
        return counts.get(o).sum();
    }

    /** Requests a blackhole holds right now. */
    int holding() {
        return holding.get();
    }

    /** Every outcome's count, for messages. */
    String summary() {
        StringBuilder b = new StringBuilder();
        for (Outcome o : Outcome.values()) {
            b.append(b.isEmpty() ? "" : ", ").append(o.name().toLowerCase(java.util.Locale.ROOT)).append(' ')
                    .append(count(o));
        }
        return b.append(", holding ").append(holding()).toString();
    }

    /** The fault in force if it takes a request with this subject, else {@code null}. */
    ActiveFault faultFor(String subject) {
        ActiveFault f = fault.get();
        return f != null && f.takes(subject) ? f : null;
    }

    void counted(Outcome o) {
        counts.get(o).increment();
    }

    /** Waits, counted in {@link #holding()}, until {@code f} heals; false if {@code max} passed first. */
    boolean hold(ActiveFault f, java.time.Duration max) throws InterruptedException {
        holding.incrementAndGet();
        try {
            return f.awaitHeal(max);
        } finally {
            holding.decrementAndGet();
        }
    }

    /** A new connection to the store, tracked so that {@link #close} ends it. */
    Socket connectUpstream() throws IOException {
        Socket s = new Socket();
        track(s);
        s.connect(upstream, 10_000);
        return s;
    }

    void track(Socket s) {
        sockets.add(s);
        if (closed) {
            forget(s);
        }
    }

    void forget(Socket s) {
        sockets.remove(s);
        try {
            s.close();
        } catch (IOException e) {
            // closing is all we wanted
        }
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("[e2e] fault proxy: accept failed, stopping: " + e);
                }
                return;
            }
            track(client);
            Thread.ofVirtual().name("fault-proxy-conn").start(new ProxiedConnection(this, client));
        }
    }

    /** Stops listening, heals (held requests go on as their fault says) and closes every connection. */
    @Override
    public void close() {
        closed = true;
        heal();
        try {
            listener.close();
        } catch (IOException e) {
            // nothing to save
        }
        for (Socket s : sockets) {
            forget(s);
        }
    }
}
