package io.ublk.s3;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Runs one S3 request to its end: waits for a permit (at most {@code maxConcurrency} in flight),
 * sends, and on a retryable failure waits a jittered backoff and sends again, up to
 * {@code maxAttempts}. The SDK's own retries are off, so every attempt is one HTTP request here
 * and is counted. The answer fails with a {@link StoreException} only:
 * {@link ObjectNotFoundException} for 404 NoSuchKey, {@link PreconditionFailedException} for
 * 412 and for 409 ConditionalRequestConflict (a concurrent conditional write won the race).
 */
final class S3Calls {
    private final S3StoreConfig config;
    private final AsyncPermits permits;
    private final ScheduledExecutorService scheduler;
    private final Backoff backoff;
    private final StoreStats stats;
    /** Calls not answered yet, so that closing the store can answer them (else they would hang). */
    private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
    /** SDK requests on the wire, so that closing can cancel them while the event loops still run. */
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();

    S3Calls(S3StoreConfig config, AsyncPermits permits, ScheduledExecutorService scheduler, Backoff backoff, StoreStats stats) {
        this.config = config;
        this.permits = permits;
        this.scheduler = scheduler;
        this.backoff = backoff;
        this.stats = stats;
    }

    /**
     * Sends {@code request} (given the attempt number, from 1) until it succeeds, fails for good or
     * runs out of attempts. {@code key} is the store key the request is about, for errors.
     */
    <T> CompletableFuture<T> call(StoreStats.Kind kind, String key, IntFunction<CompletableFuture<T>> request) {
        CompletableFuture<T> result = new CompletableFuture<>();
        pending.add(result);
        result.whenComplete((v, e) -> pending.remove(result));
        attempt(kind, key, request, 1, result);
        return result;
    }

    /** Cancels the requests on the wire and fails every call still waiting for a permit, a backoff or an answer. */
    void failPending(String why) {
        for (CompletableFuture<?> request : inFlight) {
            request.cancel(true);
        }
        for (CompletableFuture<?> call : pending) {
            call.completeExceptionally(new StoreException(why));
        }
    }

    private <T> void attempt(StoreStats.Kind kind, String key, IntFunction<CompletableFuture<T>> request, int n,
            CompletableFuture<T> result) {
        permits.acquire().thenCompose(granted -> send(kind, request, n)).whenComplete((value, error) -> {
            if (error == null) {
                result.complete(value);
                return;
            }
            Throwable cause = S3Errors.unwrap(error);
            if (n < config.maxAttempts() && S3Errors.retryable(cause)) {
                stats.retry();
                try {
                    scheduler.schedule(() -> attempt(kind, key, request, n + 1, result),
                            backoff.delayNanos(n), TimeUnit.NANOSECONDS);
                    return;
                } catch (RejectedExecutionException closed) {
                    cause.addSuppressed(closed);
                }
            }
            result.completeExceptionally(toStoreException(kind, key, cause, n));
        });
    }

    private <T> CompletableFuture<T> send(StoreStats.Kind kind, IntFunction<CompletableFuture<T>> request, int n) {
        stats.request(kind);
        CompletableFuture<T> sent;
        try {
            sent = request.apply(n);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<T> onWire = sent;
        inFlight.add(onWire);
        return onWire.whenComplete((value, error) -> {
            inFlight.remove(onWire);
            permits.release();
        });
    }

    private StoreException toStoreException(StoreStats.Kind kind, String key, Throwable cause, int attempts) {
        if (cause instanceof StoreException s) {
            return s;
        }
        int status = S3Errors.status(cause);
        String code = S3Errors.code(cause);
        StoreException e;
        if (status == 404 && key != null && (code == null || code.equals("NoSuchKey"))) {
            e = new ObjectNotFoundException(key); // a HEAD's 404 has no body, so no code
        } else if (status == 412 || (status == 409 && "ConditionalRequestConflict".equals(code))) {
            e = new PreconditionFailedException(key);
        } else {
            if (status != 416) { // a range past the end is a contract answer, not an outage
                stats.failure();
            }
            return new StoreException(kind + " " + (key == null ? "" : key + " ") + "in " + config.describe()
                    + " failed after " + attempts + (attempts == 1 ? " attempt: " : " attempts: ")
                    + S3Errors.describe(cause), cause);
        }
        e.initCause(cause);
        return e;
    }
}
