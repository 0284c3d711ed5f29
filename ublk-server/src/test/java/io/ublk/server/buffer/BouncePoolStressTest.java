package io.ublk.server.buffer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Far more requests than slots, simulated on the owner thread with a tick clock: the bound holds
 * at every step, every request is served, and waiters are served in the order they queued.
 */
class BouncePoolStressTest {
    private static final int SLOTS = 8;
    private static final int REQUESTS = 1000;
    private static final int MAX_HOLD_TICKS = 20;
    private static final int MAX_ARRIVALS_PER_TICK = 3;

    /** A request holding a slot until {@code releaseAt}. */
    private record Hold(long token, int slot, long releaseAt) {}

    @Test
    void theBoundHoldsAndWaitersAreServedFirstComeFirstServed() {
        long seed = System.nanoTime();
        try {
            run(seed);
        } catch (AssertionError e) {
            throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
        }
    }

    private static void run(long seed) {
        Random random = new Random(seed);
        PriorityQueue<Hold> holds = new PriorityQueue<>((a, b) -> Long.compare(a.releaseAt, b.releaseAt));
        Set<Integer> slotsHeld = new HashSet<>();
        List<Long> queued = new ArrayList<>();
        List<Long> servedFromQueue = new ArrayList<>();
        long[] now = {0};
        int[] served = {0};

        try (BouncePool pool = new BouncePool(SLOTS, 4096, REQUESTS)) {
            Runnable checkBound = () -> {
                assertThat(holds).hasSizeLessThanOrEqualTo(SLOTS);
                assertThat(pool.stats().inUse()).isEqualTo(holds.size());
            };
            SlotWaiter waiter = (token, slot) -> {
                assertThat(slotsHeld.add(slot)).as("slot %d handed out twice", slot).isTrue();
                servedFromQueue.add(token);
                served[0]++;
                holds.add(new Hold(token, slot, now[0] + 1 + random.nextInt(MAX_HOLD_TICKS)));
                checkBound.run();
            };

            long next = 0;
            while (served[0] < REQUESTS) {
                now[0]++;
                // One at a time, so the model matches the pool during each hand-off; a waiter's
                // new hold is due next tick at the earliest, so this loop ends.
                while (!holds.isEmpty() && holds.peek().releaseAt <= now[0]) {
                    Hold h = holds.poll();
                    slotsHeld.remove(h.slot);
                    pool.release(h.slot);
                    checkBound.run();
                }
                int arrivals = random.nextInt(MAX_ARRIVALS_PER_TICK + 1);
                for (int i = 0; i < arrivals && next < REQUESTS; i++, next++) {
                    int slot = pool.acquire(next, waiter);
                    if (slot >= 0) {
                        assertThat(slotsHeld.add(slot)).as("slot %d handed out twice", slot).isTrue();
                        served[0]++;
                        holds.add(new Hold(next, slot, now[0] + 1 + random.nextInt(MAX_HOLD_TICKS)));
                    } else {
                        queued.add(next);
                    }
                    checkBound.run();
                }
                assertThat(now[0]).as("ticks").isLessThan(REQUESTS * (long) MAX_HOLD_TICKS);
            }
            while (!holds.isEmpty()) {
                pool.release(holds.poll().slot);
            }

            BouncePoolStats stats = pool.stats();
            assertThat(served[0]).isEqualTo(REQUESTS);
            assertThat(servedFromQueue).as("waiters in arrival order").isEqualTo(queued);
            assertThat(queued).as("the workload must overload the pool").hasSizeGreaterThan(REQUESTS / 2);
            assertThat(stats.acquires()).isEqualTo(REQUESTS);
            assertThat(stats.backpressureWaits()).isEqualTo(queued.size());
            assertThat(stats.peakInUse()).isEqualTo(SLOTS);
            assertThat(stats.inUse()).isZero();
            assertThat(stats.waiting()).isZero();
        }
    }
}
