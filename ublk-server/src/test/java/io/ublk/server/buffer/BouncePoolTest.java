package io.ublk.server.buffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The pool's rules, one at a time, on a real mapping. */
class BouncePoolTest {
    private static final int SLOT = 128 * 1024;

    /** Records every hand-off as (token, slot). */
    private static final class Recorder implements SlotWaiter {
        final List<Long> tokens = new ArrayList<>();
        final List<Integer> slots = new ArrayList<>();

        @Override
        public void slotReady(long token, int slot) {
            tokens.add(token);
            slots.add(slot);
        }
    }

    @Test
    void handsOutEverySlotOnceThenReportsExhaustion() {
        try (BouncePool pool = new BouncePool(4, SLOT, 4)) {
            Set<Integer> got = new HashSet<>();
            for (int i = 0; i < 4; i++) {
                got.add(pool.tryAcquire());
            }
            assertThat(got).containsExactlyInAnyOrder(0, 1, 2, 3);
            assertThat(pool.tryAcquire()).isEqualTo(-1);
            assertThat(pool.stats().inUse()).isEqualTo(4);
        }
    }

    @Test
    void lastReleasedSlotIsNextAcquired() {
        try (BouncePool pool = new BouncePool(4, SLOT, 4)) {
            int a = pool.tryAcquire();
            int b = pool.tryAcquire();
            int c = pool.tryAcquire();
            pool.release(a);
            pool.release(c);
            assertThat(pool.tryAcquire()).isEqualTo(c);
            assertThat(pool.tryAcquire()).isEqualTo(a);
            pool.release(b);
            assertThat(pool.tryAcquire()).isEqualTo(b);
        }
    }

    @Test
    void waitersAreServedInArrivalOrder() {
        try (BouncePool pool = new BouncePool(2, SLOT, 8)) {
            Recorder w = new Recorder();
            int a = pool.acquire(1, w);
            int b = pool.acquire(2, w);
            assertThat(pool.acquire(30, w)).isEqualTo(-1);
            assertThat(pool.acquire(10, w)).isEqualTo(-1);
            assertThat(pool.acquire(20, w)).isEqualTo(-1);
            pool.release(b);
            assertThat(w.tokens).containsExactly(30L);
            pool.release(a);
            pool.release(w.slots.get(0));
            assertThat(w.tokens).containsExactly(30L, 10L, 20L);
            assertThat(pool.stats().waiting()).isZero();
        }
    }

    @Test
    void releaseHandsTheSlotStraightToTheOldestWaiter() {
        try (BouncePool pool = new BouncePool(2, SLOT, 4)) {
            Recorder w = new Recorder();
            int a = pool.tryAcquire();
            int b = pool.tryAcquire();
            pool.acquire(7, w);
            pool.acquire(8, w);

            pool.release(b);

            assertThat(w.tokens).containsExactly(7L);
            assertThat(w.slots).containsExactly(b);
            assertThat(pool.tryAcquire()).as("the free stack stays empty").isEqualTo(-1);
            assertThat(pool.stats().inUse()).isEqualTo(2);
            assertThat(pool.stats().waiting()).isEqualTo(1);
            pool.release(a);
            assertThat(w.slots).containsExactly(b, a);
        }
    }

    @Test
    void releaseWithoutWaitersReturnsTheSlotToTheFreeStack() {
        try (BouncePool pool = new BouncePool(1, SLOT, 1)) {
            Recorder w = new Recorder();
            int a = pool.acquire(1, w);
            assertThat(a).isZero();
            pool.release(a);
            assertThat(w.tokens).isEmpty();
            assertThat(pool.acquire(2, w)).isZero();
        }
    }

    @Test
    void aWaiterMayReleaseFromInsideItsCallback() {
        try (BouncePool pool = new BouncePool(1, SLOT, 4)) {
            List<Long> order = new ArrayList<>();
            SlotWaiter releasesAtOnce = (token, slot) -> {
                order.add(token);
                pool.release(slot);
            };
            int a = pool.tryAcquire();
            pool.acquire(1, releasesAtOnce);
            pool.acquire(2, releasesAtOnce);
            pool.acquire(3, releasesAtOnce);
            pool.release(a);
            assertThat(order).containsExactly(1L, 2L, 3L);
            assertThat(pool.stats().inUse()).isZero();
            assertThat(pool.tryAcquire()).isEqualTo(a);
        }
    }

    @Test
    void doubleReleaseIsRejected() {
        try (BouncePool pool = new BouncePool(2, SLOT, 2)) {
            int a = pool.tryAcquire();
            pool.release(a);
            assertThatThrownBy(() -> pool.release(a))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("bounce slot must be held to be released (double release?): " + a);
            assertThatThrownBy(() -> pool.release(1))
                    .as("never acquired")
                    .isInstanceOf(IllegalStateException.class);
            assertThat(pool.stats().inUse()).isZero();
        }
    }

    @Test
    void slotIndicesOutOfRangeAreRejected() {
        try (BouncePool pool = new BouncePool(2, SLOT, 2)) {
            assertThatThrownBy(() -> pool.release(2))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("slot index must be in [0, 2): 2");
            assertThatThrownBy(() -> pool.release(-1)).hasMessage("slot index must be in [0, 2): -1");
            assertThatThrownBy(() -> pool.slot(5)).hasMessage("slot index must be in [0, 2): 5");
        }
    }

    @Test
    void aFullWaiterQueueIsABug() {
        try (BouncePool pool = new BouncePool(1, SLOT, 2)) {
            Recorder w = new Recorder();
            pool.tryAcquire();
            pool.acquire(1, w);
            pool.acquire(2, w);
            assertThatThrownBy(() -> pool.acquire(3, w))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("waiter capacity 2")
                    .hasMessageContaining("token 3");
            assertThat(pool.stats().waiting()).isEqualTo(2);
        }
    }

    @Test
    void countersTrackAcquiresWaitsAndPeak() {
        try (BouncePool pool = new BouncePool(3, SLOT, 4)) {
            Recorder w = new Recorder();
            int a = pool.acquire(1, w);
            int b = pool.acquire(2, w);
            pool.release(b);
            int c = pool.acquire(3, w);
            int d = pool.acquire(4, w);
            pool.acquire(5, w);
            pool.acquire(6, w);
            assertThat(pool.stats()).isEqualTo(new BouncePoolStats(3, SLOT, 4, 2, 3, 3, 2));
            pool.release(a);
            pool.release(c);
            assertThat(pool.stats()).isEqualTo(new BouncePoolStats(3, SLOT, 6, 2, 3, 3, 0));
            pool.release(d);
            pool.release(w.slots.get(0));
            pool.release(w.slots.get(1));
            assertThat(pool.stats()).isEqualTo(new BouncePoolStats(3, SLOT, 6, 2, 0, 3, 0));
            assertThat(pool.stats().poolBytes()).isEqualTo(3L * SLOT);
        }
    }

    @Test
    void slotViewsAreSlotSizedDisjointAndStable() {
        int count = 8;
        try (BouncePool pool = new BouncePool(count, SLOT, 0)) {
            long first = pool.slot(0).address();
            for (int i = 0; i < count; i++) {
                MemorySegment s = pool.slot(i);
                assertThat(s.byteSize()).isEqualTo(SLOT);
                assertThat(s.address()).isEqualTo(first + (long) i * SLOT);
                assertThat(pool.slot(i)).isSameAs(s);
                s.fill((byte) (i + 1));
            }
            for (int i = 0; i < count; i++) {
                MemorySegment s = pool.slot(i);
                assertThat(s.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) (i + 1));
                assertThat(s.get(ValueLayout.JAVA_BYTE, SLOT - 1)).isEqualTo((byte) (i + 1));
            }
        }
    }

    @Test
    void closeIsIdempotentAndRetiresTheViews() {
        BouncePool pool = new BouncePool(2, SLOT, 0);
        MemorySegment s = pool.slot(0);
        pool.close();
        pool.close();
        assertThatThrownBy(() -> s.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(pool::prefault).hasMessage("bounce pool is closed");
    }

    @Test
    void constructorStatesTheRuleAndTheBadValue() {
        assertThatThrownBy(() -> new BouncePool(0, SLOT, 1)).hasMessage("slot count must be > 0: 0");
        assertThatThrownBy(() -> new BouncePool(1, 4096 * 3, 1))
                .hasMessage("slot size must be a power of two >= 4096: 12288");
        assertThatThrownBy(() -> new BouncePool(1, 2048, 1))
                .hasMessage("slot size must be a power of two >= 4096: 2048");
        assertThatThrownBy(() -> new BouncePool(1, SLOT, -1))
                .hasMessage("waiter capacity must be in [0, 2^30]: -1");
    }

    @Test
    void aRequestThatMustWaitNeedsAWaiter() {
        try (BouncePool pool = new BouncePool(1, SLOT, 1)) {
            pool.tryAcquire();
            assertThatThrownBy(() -> pool.acquire(1, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("slot waiter must not be null (token 1)");
            assertThat(pool.stats().waiting()).isZero();
        }
    }
}
