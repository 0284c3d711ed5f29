package io.ublk.s3;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * A semaphore whose waiters are futures, not threads: {@link #acquire} answers a future that
 * completes once a permit is the caller's, first come first served. A waiter is woken on
 * {@code handoff}, not in the releasing thread, so a chain of releases never nests on one stack.
 */
final class AsyncPermits {
    private final ArrayDeque<CompletableFuture<Void>> waiters = new ArrayDeque<>();
    private final Executor handoff;
    private int available;

    AsyncPermits(int permits, Executor handoff) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits must be at least 1: " + permits);
        }
        this.available = permits;
        this.handoff = handoff;
    }

    CompletableFuture<Void> acquire() {
        synchronized (this) {
            if (available > 0 && waiters.isEmpty()) {
                available--;
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> waiter = new CompletableFuture<>();
            waiters.add(waiter);
            return waiter;
        }
    }

    /** Hands the permit to the longest waiter, or returns it to the pool. */
    void release() {
        CompletableFuture<Void> next;
        synchronized (this) {
            next = waiters.poll();
            if (next == null) {
                available++;
                return;
            }
        }
        try {
            handoff.execute(() -> next.complete(null));
        } catch (RejectedExecutionException e) {
            next.completeExceptionally(new StoreException("store is closed", e));
        }
    }

    synchronized int available() {
        return available;
    }

    synchronized int waiting() {
        return waiters.size();
    }
}
