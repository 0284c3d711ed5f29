package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class AsyncPermitsTest {
    @Test
    void grantsUpToThePermitsThenQueuesInOrder() throws Exception {
        AsyncPermits permits = new AsyncPermits(2, Runnable::run);
        CompletableFuture<Void> a = permits.acquire();
        CompletableFuture<Void> b = permits.acquire();
        List<Integer> order = new ArrayList<>();
        List<CompletableFuture<Void>> waiting = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int n = i;
            waiting.add(permits.acquire().thenRun(() -> order.add(n)));
        }
        assertThat(a).isDone();
        assertThat(b).isDone();
        assertThat(waiting).noneMatch(CompletableFuture::isDone);
        assertThat(permits.waiting()).isEqualTo(3);

        permits.release();
        permits.release();
        permits.release();
        CompletableFuture.allOf(waiting.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        assertThat(order).containsExactly(0, 1, 2);
        assertThat(permits.available()).isZero();
        permits.release();
        permits.release();
        assertThat(permits.available()).isEqualTo(2);
    }

    @Test
    void aNewcomerDoesNotOvertakeTheQueue() {
        AsyncPermits permits = new AsyncPermits(1, Runnable::run);
        permits.acquire();
        CompletableFuture<Void> first = permits.acquire();
        permits.release(); // handed to first, not back to the pool
        assertThat(first).isDone();
        assertThat(permits.acquire()).isNotDone();
    }

    @Test
    void manyConcurrentUsersNeverExceedThePermits() throws Exception {
        AsyncPermits permits = new AsyncPermits(3, Runnable::run);
        java.util.concurrent.atomic.AtomicInteger inside = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            all.add(CompletableFuture.runAsync(() -> { }).thenCompose(v -> permits.acquire()).thenRun(() -> {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                Thread.onSpinWait();
                inside.decrementAndGet();
                permits.release();
            }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        assertThat(most.get()).isBetween(1, 3);
        assertThat(permits.available()).isEqualTo(3);
    }
}
