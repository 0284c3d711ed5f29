package io.ublk.s3;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A flat key space of immutable-by-convention objects: what a volume is kept in.
 *
 * <p>Keys are relative to the store's own root (an S3 bucket plus prefix, or a folder), use
 * {@code /} as the separator and never start with it. Keep them ASCII where listing order matters:
 * S3 lists in UTF-8 binary order, but not every S3-compatible server does (s3proxy 4.1.0 sorts by
 * UTF-16). A key should not also be the folder of other keys ({@code a} and {@code a/b}): a local
 * folder cannot hold both. Every operation is asynchronous; a future fails with a
 * {@link StoreException} (or a subclass) once the store's own retries are spent, and never with
 * anything else. Arguments that break these rules (a key the store cannot hold, a negative offset)
 * are programming errors, thrown at once as {@link IllegalArgumentException}.
 *
 * <p>Etags are opaque strings, unquoted; equal etags mean equal content for the same key.
 *
 * <p>A put does not copy {@code data}: the store may read it until the future completes (and
 * again on every retry), so it must not change before then.
 *
 * <p>Conditional puts are the only coordination the volume format needs: {@link #putIfAbsent}
 * commits a new generation exactly once even with two writers racing, and {@link #putIfMatch}
 * replaces an object only if nobody changed it since it was read.
 */
public interface ObjectStore extends AutoCloseable {

    /** The whole object; fails with {@link ObjectNotFoundException} if there is none. */
    CompletableFuture<StoredObject> get(String key);

    /**
     * {@code length} bytes from {@code offset}; fewer only where the object ends. Fails with
     * {@link ObjectNotFoundException} if there is no object, {@link StoreException} if
     * {@code offset} is at or beyond its end.
     */
    CompletableFuture<byte[]> getRange(String key, long offset, int length);

    /** Creates or replaces the object; answers its new etag. */
    CompletableFuture<String> put(String key, byte[] data);

    /**
     * Creates or replaces the object with the concatenation of {@code parts} (each from its
     * position to its limit); answers its new etag. Lets a caller that holds an object in pieces
     * (a segment: header and block buffers) send it without first copying it into one array. The
     * buffers are read, not kept, and must not change until the answer. This default copies.
     */
    default CompletableFuture<String> put(String key, List<java.nio.ByteBuffer> parts) {
        long total = 0;
        for (java.nio.ByteBuffer b : parts) {
            total += b.remaining();
        }
        if (total > Integer.MAX_VALUE - 8) {
            return CompletableFuture.failedFuture(new StoreException("object too large for one array: " + key));
        }
        byte[] all = new byte[(int) total];
        int at = 0;
        for (java.nio.ByteBuffer b : parts) {
            int n = b.remaining();
            b.duplicate().get(all, at, n);
            at += n;
        }
        return put(key, all);
    }

    /** Creates the object only if no object has the key ({@code If-None-Match: *}); else {@link PreconditionFailedException}. */
    CompletableFuture<String> putIfAbsent(String key, byte[] data);

    /**
     * Replaces the object only if its etag is still {@code etag} ({@code If-Match}); else
     * {@link PreconditionFailedException}, also when there is no object any more. Atomic on AWS S3
     * and in {@link LocalObjectStore} (against other {@code putIfMatch} calls); s3proxy 4.1.0 checks
     * and then writes, so two racing writers can both win there.
     */
    CompletableFuture<String> putIfMatch(String key, byte[] data, String etag);

    /** Removes the object; removing a missing one succeeds. */
    CompletableFuture<Void> delete(String key);

    /** Removes every key given (in as few requests as the store allows); missing keys are fine. */
    CompletableFuture<Void> deleteAll(List<String> keys);

    /**
     * One page of the keys that start with {@code prefix}, in ascending (UTF-8 binary) order,
     * starting after the page {@code continuation} names ({@code null} for the first page), at
     * most {@code maxKeys} (1 to 1000) of them. {@code continuation} is opaque: only a
     * {@link ListPage#next()} this store answered.
     */
    CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys);

    /** Every key under {@code prefix}, page after page; for small listings (a volume's manifests). */
    default CompletableFuture<List<ObjectInfo>> listAll(String prefix) {
        List<ObjectInfo> all = new ArrayList<>();
        return listFrom(prefix, null, all);
    }

    private CompletableFuture<List<ObjectInfo>> listFrom(String prefix, String continuation, List<ObjectInfo> all) {
        return list(prefix, continuation, 1000).thenCompose(page -> {
            all.addAll(page.objects());
            return page.next() == null ? CompletableFuture.completedFuture(all) : listFrom(prefix, page.next(), all);
        });
    }

    /** Where the store is, for messages and logs (e.g. {@code s3://bucket/prefix} or a folder). */
    String describe();

    /** Releases clients and threads; operations in flight may fail. */
    @Override
    void close();
}
