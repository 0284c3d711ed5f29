package io.ublk.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class LongMpscQueueTest {
    @Test
    void fifoAndFullAndEmpty() {
        LongMpscQueue q = new LongMpscQueue(4);
        assertThat(q.isEmpty()).isTrue();
        for (long v = 1; v <= 4; v++) {
            assertThat(q.offer(v)).isTrue();
        }
        assertThat(q.offer(5)).isFalse();
        List<Long> out = new ArrayList<>();
        assertThat(q.drain((v, x) -> out.add(v), 3)).isEqualTo(3);
        assertThat(q.offer(5)).isTrue();
        q.drain((v, x) -> out.add(v), Integer.MAX_VALUE);
        assertThat(out).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(q.isEmpty()).isTrue();
    }

    @Test
    void capacityMustBeAPowerOfTwo() {
        assertThatThrownBy(() -> new LongMpscQueue(3)).hasMessageContaining("power of two > 0: 3");
    }

    @Test
    void manyProducersLoseNothingKeepEachProducersOrderAndEachValuesInt() throws Exception {
        int producers = 4;
        int perProducer = 50_000;
        LongMpscQueue q = new LongMpscQueue(1024);
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            long id = p;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (long i = 0; i < perProducer; i++) {
                    while (!q.offer(id << 32 | i, (int) (i * 31 + id))) {
                        Thread.onSpinWait();
                    }
                }
            });
            t.start();
            threads.add(t);
        }
        long[] next = new long[producers];
        long[] received = {0};
        go.countDown();
        while (received[0] < (long) producers * perProducer) {
            q.drain((v, extra) -> {
                int p = (int) (v >>> 32);
                assertThat(v & 0xFFFF_FFFFL).isEqualTo(next[p]);
                assertThat(extra).as("the int offered with the value").isEqualTo((int) (next[p] * 31 + p));
                next[p]++;
                received[0]++;
            }, 256);
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(next).containsOnly(perProducer);
        assertThat(q.isEmpty()).isTrue();
    }
}
