package io.ublk.blockcache.cache.dirty;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** An array given back is handed out again only once every reader that could hold it has left. */
class BlockArraysTest {
    static final int BS = 4096;

    @Test
    void aRetiredArrayWaitsForTheReadersThatMayHoldIt() {
        ReadGuard guard = new ReadGuard();
        BlockArrays arrays = new BlockArrays(BS, 16, guard);
        byte[] a = arrays.take();
        int reader = guard.enter(); // a reader that found a before it was unlinked
        arrays.retire(a);
        for (int i = 0; i < 5; i++) {
            arrays.reclaim();
            assertThat(arrays.free()).as("handed out under a reader").isZero();
        }
        int later = guard.enter(); // entered after the flip: it cannot have found a; it does not hold it back
        guard.exit(reader);
        arrays.reclaim();
        assertThat(arrays.free()).isEqualTo(1);
        assertThat(arrays.take()).isSameAs(a);
        assertThat(arrays.reuses()).isEqualTo(1);
        guard.exit(later);
    }

    @Test
    void arraysRetiredDuringAGracePeriodWaitForTheNextOne() {
        ReadGuard guard = new ReadGuard();
        BlockArrays arrays = new BlockArrays(BS, 16, guard);
        byte[] first = arrays.take();
        byte[] second = arrays.take();
        arrays.retire(first);
        arrays.reclaim(); // first waits out the era that just ended (no readers)
        int reader = guard.enter(); // may find second
        arrays.retire(second);
        arrays.reclaim(); // first is free now; second waits for the reader
        assertThat(arrays.free()).isEqualTo(1);
        assertThat(arrays.take()).isSameAs(first);
        arrays.reclaim();
        arrays.reclaim();
        assertThat(arrays.free()).isZero();
        guard.exit(reader);
        arrays.reclaim();
        assertThat(arrays.take()).isSameAs(second);
    }

    @Test
    void theFreeListIsBoundedAndForeignArraysAreIgnored() {
        ReadGuard guard = new ReadGuard();
        BlockArrays arrays = new BlockArrays(BS, 2, guard);
        for (int i = 0; i < 5; i++) {
            arrays.retire(new byte[BS]);
        }
        arrays.retire(new byte[BS / 2]);
        arrays.reclaim();
        arrays.reclaim();
        assertThat(arrays.free()).isEqualTo(2);
        assertThat(arrays.take()).hasSize(BS);
        assertThat(arrays.take()).hasSize(BS);
        assertThat(arrays.take()).hasSize(BS); // allocated: the pool is empty
        assertThat(arrays.reuses()).isEqualTo(2);
    }
}
