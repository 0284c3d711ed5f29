package io.ublk.blockcache.bench;

import io.ublk.s3.ObjectStore;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;

/**
 * Wraps an {@link ObjectStore} and times its PUTs: when the first one started, when the last one
 * answered, how many bytes went, and how many were in flight on average over that window.
 *
 * <p>A dynamic proxy rather than a delegating class, so that a method added to the store
 * interface cannot break the build of this benchmark: every call passes through unchanged, and
 * only the put family ({@code put}, {@code putIfAbsent}, {@code putIfMatch}: name starts with
 * {@code put}, second argument the bytes) is timed.
 */
final class TimedStore implements InvocationHandler {
    private final ObjectStore store;
    private long firstStart;
    private long lastEnd;
    private long puts;
    private long bytes;
    private int inFlight;
    private int maxInFlight;
    /** Sum of in-flight PUTs over time (count x ns) since the first start, for the average. */
    private double inFlightNanos;
    private long lastChange;
    /** One line per PUT: start and end (ns since the first start), bytes, key; for the report's timeline. */
    private final java.util.List<String> timeline = new java.util.ArrayList<>();

    private TimedStore(ObjectStore store) {
        this.store = store;
    }

    /** Returns the timed store and its handler (which holds the numbers). */
    static TimedStore wrap(ObjectStore store) {
        return new TimedStore(store);
    }

    ObjectStore store() {
        return (ObjectStore) Proxy.newProxyInstance(ObjectStore.class.getClassLoader(),
                new Class<?>[] {ObjectStore.class}, this);
    }

    /** While not done, PUTs wait for it before they start (a diagnostic: writes first, then uploads alone). */
    private volatile CompletableFuture<Void> gate;

    /** Holds every PUT from now until {@link #releasePuts}. */
    void holdPuts() {
        gate = new CompletableFuture<>();
    }

    void releasePuts() {
        CompletableFuture<Void> g = gate;
        gate = null;
        if (g != null) {
            g.complete(null);
        }
    }

    @Override
    public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
        CompletableFuture<Void> g = gate;
        if (g != null && m.getName().startsWith("put") && m.getReturnType() == CompletableFuture.class) {
            return g.thenCompose(v -> {
                try {
                    return (CompletableFuture<?>) timed(m, args);
                } catch (Throwable e) {
                    return CompletableFuture.failedFuture(e);
                }
            });
        }
        return timed(m, args);
    }

    /** Bytes a put sends: an array, or buffers (each from its position). */
    private static int length(Object body) {
        if (body instanceof byte[] b) {
            return b.length;
        }
        long n = 0;
        for (Object o : (java.util.List<?>) body) {
            n += ((java.nio.ByteBuffer) o).remaining();
        }
        return (int) n;
    }

    private Object timed(Method m, Object[] args) throws Throwable {
        boolean put = m.getName().startsWith("put") && args != null && args.length >= 2
                && (args[1] instanceof byte[] || args[1] instanceof java.util.List<?>);
        int length = put ? length(args[1]) : 0;
        long t = 0;
        if (put) {
            t = started(length);
        }
        Object r;
        try {
            r = m.invoke(store, args);
        } catch (InvocationTargetException e) {
            if (put) {
                ended();
            }
            throw e.getCause();
        }
        if (put && r instanceof CompletableFuture<?> f) {
            long start = t;
            String key = (String) args[0];
            return f.whenComplete((v, ex) -> ended(start, key, length));
        }
        return r;
    }

    private synchronized long started(int length) {
        long now = System.nanoTime();
        if (puts == 0) {
            firstStart = now;
            lastChange = now;
        }
        account(now);
        puts++;
        bytes += length;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return now;
    }

    private synchronized void ended() {
        long now = System.nanoTime();
        account(now);
        inFlight--;
        lastEnd = now;
    }

    private synchronized void ended(long start, String key, int length) {
        ended();
        timeline.add(String.format("%9.3f %9.3f %10d %s", (start - firstStart) / 1e6, (lastEnd - firstStart) / 1e6, length, key));
    }

    /** Every PUT since the last reset: start ms, end ms (from the first start), bytes, key. */
    synchronized java.util.List<String> timeline() {
        return java.util.List.copyOf(timeline);
    }

    private void account(long now) {
        inFlightNanos += (double) inFlight * (now - lastChange);
        lastChange = now;
    }

    /** Forgets everything so far (PUTs still in flight must have answered). */
    synchronized void reset() {
        puts = 0;
        bytes = 0;
        maxInFlight = 0;
        inFlightNanos = 0;
        firstStart = 0;
        lastEnd = 0;
        timeline.clear();
    }

    synchronized long firstStart() {
        return firstStart;
    }

    synchronized long lastEnd() {
        return lastEnd;
    }

    synchronized long puts() {
        return puts;
    }

    synchronized long bytes() {
        return bytes;
    }

    synchronized int maxInFlight() {
        return maxInFlight;
    }

    /** Mean PUTs in flight from the first start to {@code until}. */
    synchronized double meanInFlight(long until) {
        double total = inFlightNanos + (double) inFlight * (until - lastChange);
        return until > firstStart ? total / (until - firstStart) : 0;
    }
}
