package io.ublk.s3;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Error;

/**
 * An {@link ObjectStore} in an S3 bucket (or an S3-compatible server), on the AWS SDK v2 async
 * client over Netty. Store key {@code k} is object {@code prefix/k}.
 *
 * <p>Requests: at most {@code maxConcurrency} in flight, later callers queued in order without
 * holding a thread; retried by {@link S3Calls} (the SDK's own retries are off so every attempt is
 * counted in {@link #stats()}). Objects above {@code multipartThreshold} go up in parts.
 *
 * <p>Conditional puts are S3's own: {@code If-None-Match: *} and {@code If-Match: "etag"} on
 * PutObject, or on CompleteMultipartUpload for a multipart object. A 412, or a 409
 * ConditionalRequestConflict (another conditional write to the key was in progress), is a lost
 * race. A retried conditional put is ambiguous: an earlier attempt may have been applied and its
 * answer lost, and the retry then loses to ourselves. So a 412 after a retry reads the object's
 * etag and reports success if it is the etag of our bytes (single-part: their MD5; multipart:
 * the MD5 of the part MD5s). Two writers putting identical bytes could then both succeed: the
 * object holds those bytes either way. Etags are computed as S3 does for unencrypted objects;
 * SSE-KMS or SSE-C buckets give other etags and the check just fails safe (the 412 stands).
 *
 * <p>A {@link #putIfMatch} on a missing object fails with {@link PreconditionFailedException}
 * (S3 answers 404 there), like {@link LocalObjectStore}.
 *
 * <p>{@code put} does not copy {@code data}: it is read until the answer comes, by every attempt.
 */
public final class S3ObjectStore implements ObjectStore {
    /** S3's most keys per DeleteObjects request. */
    static final int MAX_DELETE_BATCH = 1000;
    /** Connect quickly or not at all: a refused or black-holed connect is retried. */
    private static final Duration MAX_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Backoff timers and permit handoffs only; SDK calls start there but never block there. */
    private static final int SCHEDULER_THREADS = 2;

    private final S3StoreConfig config;
    private final int deleteBatch;
    private final StoreStats stats = new StoreStats();
    private final ScheduledThreadPoolExecutor scheduler;
    /** Ours, not the SDK's: the SDK closes its own with a 2 s quiet period, on every close. */
    private final SdkEventLoopGroup eventLoops;
    private final S3AsyncClient client;
    /** The default chain we built (it may hold a refresh thread); a caller's provider is the caller's. */
    private final AutoCloseable ownedCredentials;
    private final S3Calls calls;
    private final S3Multipart multipart;

    /** A store whose credentials come from the SDK's default chain (env, profile, instance role). */
    public S3ObjectStore(S3StoreConfig config) {
        this(config, DefaultCredentialsProvider.builder().build(), true, MAX_DELETE_BATCH);
    }

    /** A store with the given credentials (static ones for tests and S3-compatible servers). */
    public S3ObjectStore(S3StoreConfig config, AwsCredentialsProvider credentials) {
        this(config, credentials, false, MAX_DELETE_BATCH);
    }

    /** {@code deleteBatch}: keys per DeleteObjects request; smaller only to test batching. */
    S3ObjectStore(S3StoreConfig config, AwsCredentialsProvider credentials, int deleteBatch) {
        this(config, credentials, false, deleteBatch);
    }

    private S3ObjectStore(S3StoreConfig config, AwsCredentialsProvider credentials, boolean ownCredentials,
            int deleteBatch) {
        if (deleteBatch < 1 || deleteBatch > MAX_DELETE_BATCH) {
            throw new IllegalArgumentException("deleteBatch must be in 1..1000: " + deleteBatch);
        }
        this.config = config;
        this.deleteBatch = deleteBatch;
        this.ownedCredentials = ownCredentials && credentials instanceof AutoCloseable c ? c : null;
        this.scheduler = new ScheduledThreadPoolExecutor(SCHEDULER_THREADS, new DaemonThreads("s3-store"));
        this.scheduler.setRemoveOnCancelPolicy(true);
        this.eventLoops = SdkEventLoopGroup.builder().threadFactory(new DaemonThreads("s3-netty")).build();
        try {
            this.client = buildClient(config, credentials, eventLoops);
        } catch (SdkClientException e) {
            releaseThreads();
            // in practice: no region anywhere in the SDK's chain
            throw new IllegalArgumentException("cannot set up S3 for " + config.describe() + ": " + e.getMessage(), e);
        }
        Backoff backoff = new Backoff(config.baseBackoff(), config.maxBackoff(), RandomGenerator.getDefault());
        this.calls = new S3Calls(config, new AsyncPermits(config.maxConcurrency(), scheduler), scheduler, backoff, stats);
        this.multipart = new S3Multipart(client, calls, config, stats);
    }

    private static S3AsyncClient buildClient(S3StoreConfig config, AwsCredentialsProvider credentials,
            SdkEventLoopGroup eventLoops) {
        Duration attempt = config.apiCallTimeout();
        S3AsyncClientBuilder builder = S3AsyncClient.builder()
                .credentialsProvider(credentials)
                .forcePathStyle(config.pathStyle())
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .eventLoopGroup(eventLoops)
                        .maxConcurrency(config.maxConcurrency())
                        .connectionTimeout(attempt.compareTo(MAX_CONNECT_TIMEOUT) < 0 ? attempt : MAX_CONNECT_TIMEOUT)
                        .connectionAcquisitionTimeout(attempt))
                .overrideConfiguration(o -> o
                        .retryStrategy(AwsRetryStrategy.doNotRetry())
                        .apiCallAttemptTimeout(attempt)
                        .apiCallTimeout(attempt));
        if (config.endpoint() != null) {
            builder.endpointOverride(config.endpoint());
        }
        if (config.effectiveRegion() != null) {
            builder.region(Region.of(config.effectiveRegion()));
        }
        return builder.build();
    }

    /** Counters of what this store sent, for metrics. */
    public StoreStats stats() {
        return stats;
    }

    public S3StoreConfig config() {
        return config;
    }

    @Override
    public CompletableFuture<StoredObject> get(String key) {
        String objectKey = config.objectKey(key);
        return calls.call(StoreStats.Kind.GET, key,
                n -> client.getObject(b -> b.bucket(config.bucket()).key(objectKey), AsyncResponseTransformer.toBytes()))
                .thenApply(r -> {
                    byte[] data = r.asByteArrayUnsafe();
                    stats.in(data.length);
                    return new StoredObject(data, Etags.unquote(r.response().eTag()));
                });
    }

    @Override
    public CompletableFuture<byte[]> getRange(String key, long offset, int length) {
        Ranges.check(offset, length);
        String objectKey = config.objectKey(key);
        String range = "bytes=" + offset + "-" + (offset + length - 1);
        return calls.call(StoreStats.Kind.GET, key,
                n -> client.getObject(b -> b.bucket(config.bucket()).key(objectKey).range(range),
                        AsyncResponseTransformer.toBytes()))
                .thenApply(r -> {
                    byte[] data = r.asByteArrayUnsafe();
                    stats.in(data.length);
                    return data;
                });
    }

    @Override
    public CompletableFuture<String> put(String key, byte[] data) {
        if (data.length > config.multipartThreshold()) {
            return multipart.upload(key, data, request -> n -> client.completeMultipartUpload(request.build()));
        }
        return putObject(key, data, UnaryOperator.identity(), new AtomicInteger());
    }

    /** Sends the parts as they are (no copy) unless the object is large enough for a multipart upload. */
    @Override
    public CompletableFuture<String> put(String key, List<ByteBuffer> parts) {
        long total = 0;
        for (ByteBuffer b : parts) {
            total += b.remaining();
        }
        if (total > config.multipartThreshold()) {
            return ObjectStore.super.put(key, parts);
        }
        long length = total;
        PutObjectRequest request = PutObjectRequest.builder()
                .bucket(config.bucket()).key(config.objectKey(key)).contentLength(length).build();
        return calls.call(StoreStats.Kind.PUT, key, n -> {
            stats.out(length);
            // every attempt reads the parts from their start
            ByteBuffer[] body = parts.stream().map(ByteBuffer::duplicate).toArray(ByteBuffer[]::new);
            return client.putObject(request, AsyncRequestBody.fromRemainingByteBuffersUnsafe(body));
        }).thenApply(r -> Etags.unquote(r.eTag()));
    }

    @Override
    public CompletableFuture<String> putIfAbsent(String key, byte[] data) {
        return conditionalPut(key, data, "*", null);
    }

    @Override
    public CompletableFuture<String> putIfMatch(String key, byte[] data, String etag) {
        return conditionalPut(key, data, null, Etags.quote(etag)).exceptionallyCompose(e -> {
            Throwable cause = S3Errors.unwrap(e);
            return CompletableFuture.failedFuture(cause instanceof ObjectNotFoundException
                    ? (StoreException) new PreconditionFailedException(key).initCause(cause) : cause);
        });
    }

    private CompletableFuture<String> conditionalPut(String key, byte[] data, String ifNoneMatch, String ifMatch) {
        AtomicInteger attempts = new AtomicInteger();
        CompletableFuture<String> put;
        String ours;
        if (data.length > config.multipartThreshold()) {
            ours = Etags.multipart(data, config.partSize());
            put = multipart.upload(key, data, request -> n -> {
                attempts.set(n);
                return client.completeMultipartUpload(request.ifNoneMatch(ifNoneMatch).ifMatch(ifMatch).build());
            });
        } else {
            ours = Etags.md5Hex(data);
            put = putObject(key, data, b -> b.ifNoneMatch(ifNoneMatch).ifMatch(ifMatch), attempts);
        }
        return put.exceptionallyCompose(e -> {
            Throwable cause = S3Errors.unwrap(e);
            if (!(cause instanceof PreconditionFailedException) || attempts.get() < 2) {
                return CompletableFuture.failedFuture(cause);
            }
            // lost after a retry: maybe to our own earlier attempt
            return head(key).handle((etag, headFailure) -> {
                if (ours.equals(etag)) {
                    return ours;
                }
                throw new CompletionException(cause);
            });
        });
    }

    private CompletableFuture<String> putObject(String key, byte[] data,
            UnaryOperator<PutObjectRequest.Builder> condition, AtomicInteger attempts) {
        PutObjectRequest request = condition.apply(PutObjectRequest.builder()
                .bucket(config.bucket()).key(config.objectKey(key)).contentLength((long) data.length)).build();
        return calls.call(StoreStats.Kind.PUT, key, n -> {
            attempts.set(n);
            stats.out(data.length);
            return client.putObject(request, AsyncRequestBody.fromBytesUnsafe(data));
        }).thenApply(r -> Etags.unquote(r.eTag()));
    }

    /** The object's current etag; fails with {@link ObjectNotFoundException} if there is none. */
    private CompletableFuture<String> head(String key) {
        String objectKey = config.objectKey(key);
        return calls.call(StoreStats.Kind.HEAD, key, n -> client.headObject(b -> b.bucket(config.bucket()).key(objectKey)))
                .thenApply(r -> Etags.unquote(r.eTag()));
    }

    @Override
    public CompletableFuture<Void> delete(String key) {
        String objectKey = config.objectKey(key);
        return calls.call(StoreStats.Kind.DELETE, key,
                n -> client.deleteObject(b -> b.bucket(config.bucket()).key(objectKey)))
                .thenApply(r -> null);
    }

    @Override
    public CompletableFuture<Void> deleteAll(List<String> keys) {
        List<CompletableFuture<Void>> batches = new ArrayList<>();
        for (int from = 0; from < keys.size(); from += deleteBatch) {
            List<String> batch = keys.subList(from, Math.min(keys.size(), from + deleteBatch));
            batches.add(deleteBatch(List.copyOf(batch)));
        }
        return CompletableFuture.allOf(batches.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> deleteBatch(List<String> keys) {
        List<ObjectIdentifier> ids = keys.stream().map(k -> ObjectIdentifier.builder().key(config.objectKey(k)).build()).toList();
        // quiet: the answer lists only the keys that could not be deleted
        return calls.call(StoreStats.Kind.DELETE_BATCH, keys.getFirst(),
                n -> client.deleteObjects(b -> b.bucket(config.bucket()).delete(d -> d.objects(ids).quiet(true))))
                .thenApply(r -> {
                    if (r.hasErrors() && !r.errors().isEmpty()) {
                        stats.failure();
                        throw new StoreException(notDeleted(r));
                    }
                    return null;
                });
    }

    private String notDeleted(DeleteObjectsResponse r) {
        S3Error first = r.errors().getFirst();
        return "DELETE_BATCH in " + config.describe() + ": " + r.errors().size() + " keys not deleted, first "
                + first.key() + ": " + first.code() + " " + first.message();
    }

    @Override
    public CompletableFuture<ListPage> list(String prefix, String continuation, int maxKeys) {
        if (maxKeys < 1 || maxKeys > 1000) {
            throw new IllegalArgumentException("maxKeys must be in 1..1000 (S3's page limit): " + maxKeys);
        }
        String objectPrefix = config.objectKey(prefix);
        return calls.call(StoreStats.Kind.LIST, null,
                n -> client.listObjectsV2(b -> b.bucket(config.bucket()).prefix(objectPrefix)
                        .continuationToken(continuation).maxKeys(maxKeys)))
                .thenApply(r -> new ListPage(
                        r.contents().stream()
                                .map(o -> new ObjectInfo(config.storeKey(o.key()), o.size(), Etags.unquote(o.eTag())))
                                .toList(),
                        Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null));
    }

    @Override
    public String describe() {
        return config.describe();
    }

    @Override
    public void close() {
        calls.failPending("store closed: " + config.describe());
        client.close();
        releaseThreads();
        if (ownedCredentials != null) {
            try {
                ownedCredentials.close();
            } catch (Exception e) {
                // only a refresh thread or cache goes; nothing to save
            }
        }
    }

    private void releaseThreads() {
        // a short quiet period lets the pool's close listeners run before the loops stop
        eventLoops.eventLoopGroup().shutdownGracefully(100, 1000, TimeUnit.MILLISECONDS);
        scheduler.shutdownNow();
    }
}
