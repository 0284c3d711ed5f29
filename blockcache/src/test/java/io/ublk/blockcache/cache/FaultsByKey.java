package io.ublk.blockcache.cache;

import io.ublk.s3.FaultInjectingStore;
import io.ublk.s3.ListPage;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.StoredObject;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Sends the calls on keys that contain {@code fragment} ("/seg/", "/ckpt/", "/man/") through
 * {@link #faults}, the others straight to the store, so a test can lose the answers of one kind
 * of object only. {@link #beforePut} sees each such PUT before it goes (to arm a fault on cue).
 */
final class FaultsByKey implements ObjectStore {
    final FaultInjectingStore faults;
    private final ObjectStore store;
    private final String fragment;
    volatile Consumer<String> beforePut = key -> {};

    FaultsByKey(ObjectStore store, String fragment) {
        this.store = store;
        this.faults = new FaultInjectingStore(store);
        this.fragment = fragment;
    }

    private ObjectStore to(String key) {
        return key.contains(fragment) ? faults : store;
    }

    private ObjectStore put(String key) {
        if (key.contains(fragment)) {
            beforePut.accept(key);
        }
        return to(key);
    }

    @Override public CompletableFuture<StoredObject> get(String key) { return to(key).get(key); }
    @Override public CompletableFuture<byte[]> getRange(String key, long offset, int length) { return to(key).getRange(key, offset, length); }
    @Override public CompletableFuture<String> put(String key, byte[] data) { return put(key).put(key, data); }
    @Override public CompletableFuture<String> put(String key, List<ByteBuffer> parts) { return put(key).put(key, parts); }
    @Override public CompletableFuture<String> putIfAbsent(String key, byte[] data) { return put(key).putIfAbsent(key, data); }
    @Override public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) { return put(key).putIfMatch(key, data, etag); }
    @Override public CompletableFuture<Void> delete(String key) { return to(key).delete(key); }
    @Override public CompletableFuture<Void> deleteAll(List<String> keys) { return store.deleteAll(keys); }
    @Override public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) { return store.list(prefix, continuation, maxKeys); }
    @Override public String describe() { return "faults on *" + fragment + "* of " + store.describe(); }
    @Override public void close() { store.close(); }
}
