package io.ublk.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import org.junit.jupiter.api.Test;

class PlacementTest {
    private static BitSet cpus(int... ids) {
        BitSet s = new BitSet();
        for (int id : ids) {
            s.set(id);
        }
        return s;
    }

    @Test
    void prefersAWorkerOnTheQueuesCpus() {
        int[] workerCpus = {0, 1, 2, 3};
        assertThat(Placement.choose(workerCpus, new int[] {0, 0, 0, 0}, cpus(2))).isEqualTo(2);
        // Even when that worker is busier than others.
        assertThat(Placement.choose(workerCpus, new int[] {0, 0, 500, 0}, cpus(2))).isEqualTo(2);
    }

    @Test
    void amongLocalWorkersTakesTheLeastLoaded() {
        int[] workerCpus = {0, 1, 2, 3};
        assertThat(Placement.choose(workerCpus, new int[] {10, 5, 7, 1}, cpus(0, 1, 2))).isEqualTo(1);
    }

    @Test
    void fallsBackToTheLeastLoadedWhenNoWorkerIsLocal() {
        int[] workerCpus = {0, 1};
        assertThat(Placement.choose(workerCpus, new int[] {64, 32}, cpus(7))).isEqualTo(1);
        assertThat(Placement.choose(new int[] {-1, -1}, new int[] {3, 3}, cpus(0))).isZero();
    }

    @Test
    void spreadsQueuesOverWorkersAsLoadGrows() {
        int[] workerCpus = {0, 1};
        int[] loads = {0, 0};
        for (int q = 0; q < 10; q++) {
            int w = Placement.choose(workerCpus, loads, cpus(0, 1));
            loads[w] += 64;
        }
        assertThat(loads).containsExactly(320, 320);
    }

    @Test
    void rejectsMismatchedInput() {
        assertThatThrownBy(() -> Placement.choose(new int[0], new int[0], cpus(0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one worker");
    }
}
