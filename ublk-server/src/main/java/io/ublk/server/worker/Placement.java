package io.ublk.server.worker;

import java.util.BitSet;

/** Where a device queue goes: a pure function, so it is tested without threads. */
final class Placement {
    private Placement() {}

    /**
     * The least-loaded worker whose CPU is in {@code queueCpus}; when none is, the least-loaded of
     * all. Ties go to the lower index.
     *
     * @param cpus each worker's CPU (-1 when unpinned)
     * @param loads each worker's tags
     */
    static int choose(int[] cpus, int[] loads, BitSet queueCpus) {
        if (cpus.length == 0 || cpus.length != loads.length) {
            throw new IllegalArgumentException("need one load per worker and at least one worker: "
                    + cpus.length + " cpus, " + loads.length + " loads");
        }
        int best = -1;
        for (int i = 0; i < cpus.length; i++) {
            if (cpus[i] >= 0 && queueCpus.get(cpus[i]) && (best < 0 || loads[i] < loads[best])) {
                best = i;
            }
        }
        if (best >= 0) {
            return best;
        }
        best = 0;
        for (int i = 1; i < cpus.length; i++) {
            if (loads[i] < loads[best]) {
                best = i;
            }
        }
        return best;
    }
}
