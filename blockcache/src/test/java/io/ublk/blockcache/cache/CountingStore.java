package io.ublk.blockcache.cache;

import io.ublk.s3.ListPage;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.StoredObject;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts the calls a real store gets, by kind. */
final class CountingStore implements ObjectStore {
    final ObjectStore store;
    final AtomicInteger gets = new AtomicInteger();
    final AtomicInteger rangeGets = new AtomicInteger();
    final AtomicInteger puts = new AtomicInteger();
    final AtomicInteger lists = new AtomicInteger();
    /** Unconditional PUTs alone (segments, checkpoints; not manifests or the lease). */
    final AtomicInteger plainPuts = new AtomicInteger();

    /** Thrown (synchronously, once) by the next plain PUT: a bug (RuntimeException) or an Error deep in a store call. */
    volatile Throwable throwOnNextPut;
    /** The same for the next conditional PUT (the lease's renewals). */
    volatile Throwable throwOnNextPutIfMatch;

    /** When positive, each range read answers this much later, and the most in flight at once is kept. */
    volatile long rangeDelayMillis;
    final AtomicInteger rangesInFlight = new AtomicInteger();
    final AtomicInteger maxRangesInFlight = new AtomicInteger();

    CountingStore(ObjectStore store) {
        this.store = store;
    }

    int calls() {
        return gets.get() + rangeGets.get() + puts.get() + lists.get();
    }

    void reset() {
        gets.set(0);
        rangeGets.set(0);
        puts.set(0);
        lists.set(0);
    }

    @Override public CompletableFuture<StoredObject> get(String key) { gets.incrementAndGet(); return store.get(key); }
    @Override public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        rangeGets.incrementAndGet();
        long delay = rangeDelayMillis;
        if (delay == 0) {
            return store.getRange(key, offset, length);
        }
        maxRangesInFlight.accumulateAndGet(rangesInFlight.incrementAndGet(), Math::max);
        return store.getRange(key, offset, length)
                .thenApplyAsync(d -> d, CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS))
                .whenComplete((d, e) -> rangesInFlight.decrementAndGet());
    }
    @Override public CompletableFuture<String> put(String key, byte[] data) {
        Throwable e = throwOnNextPut;
        if (e != null) {
            throwOnNextPut = null;
            throwUnchecked(e);
        }
        puts.incrementAndGet();
        plainPuts.incrementAndGet();
        return store.put(key, data);
    }

    private static void throwUnchecked(Throwable e) {
        if (e instanceof Error err) {
            throw err;
        }
        throw (RuntimeException) e;
    }
    @Override public CompletableFuture<String> putIfAbsent(String key, byte[] data) { puts.incrementAndGet(); return store.putIfAbsent(key, data); }
    @Override public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) {
        Throwable e = throwOnNextPutIfMatch;
        if (e != null) {
            throwOnNextPutIfMatch = null;
            throwUnchecked(e);
        }
        puts.incrementAndGet();
        return store.putIfMatch(key, data, etag);
    }
    @Override public CompletableFuture<Void> delete(String key) { return store.delete(key); }
    @Override public CompletableFuture<Void> deleteAll(List<String> keys) { return store.deleteAll(keys); }
    @Override public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) { lists.incrementAndGet(); return store.list(prefix, continuation, maxKeys); }
    @Override public String describe() { return store.describe(); }
    @Override public void close() { store.close(); }
}
