package io.ublk.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.blockcache.NullTarget;
import io.ublk.headers.UblkIoCmd;
import io.ublk.headers.UblkIoOp;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker whose ring is far smaller than its requests in flight: bursts of completions overflow
 * its CQ, and the commits they cause outnumber its SQ. Every request is still answered, and the
 * worker lives: a commit that finds no SQE waits for the next turn rather than killing the loop.
 */
class WorkerRingPressureTest {
    private static final int DEPTH = 128;
    /** SQ 8, CQ 16: a burst of DEPTH completions overflows the CQ eight times over. */
    private static final int RING = 8;
    private static final long WAIT_MS = 10_000;

    @TempDir
    Path dir;

    @Test
    void burstsOfRequestsBeyondTheRingsSizeAreEachAnsweredAndTheWorkerLives() throws Exception {
        try (HostKernel k = new HostKernel(DEPTH, dir)) {
            Worker worker = new Worker(0, -1, new WorkerConfig(4096, 4, RING, DEPTH), k);
            worker.start().get(WAIT_MS, TimeUnit.MILLISECONDS);
            try {
                k.bind(worker);
                CompletableFuture<Void> fetched = new CompletableFuture<>();
                worker.attach(1, 0, DEPTH, k.cdevFd, k.descriptors(), new NullTarget(1 << 20), fetched,
                        new CompletableFuture<>());
                fetched.get(WAIT_MS, TimeUnit.MILLISECONDS);
                for (int i = 0; i < DEPTH; i++) {
                    HostKernel.Command c = k.next(WAIT_MS);
                    assertThat(c).as("fetch %d", i).isNotNull();
                    assertThat(c.cmdOp()).isEqualTo(UblkIoCmd.FETCH_REQ);
                }
                for (int burst = 0; burst < 50; burst++) {
                    for (int tag = 0; tag < DEPTH; tag++) {
                        k.request(tag, UblkIoOp.OP_FLUSH, 0, 0);
                    }
                    for (int i = 0; i < DEPTH; i++) {
                        HostKernel.Command c = k.next(WAIT_MS);
                        assertThat(c).as("burst %d: answer %d of %d (worker alive: %s)", burst, i, DEPTH,
                                worker.isAlive()).isNotNull();
                        assertThat(c.cmdOp()).isEqualTo(UblkIoCmd.COMMIT_AND_FETCH_REQ);
                        assertThat(c.result()).isZero();
                    }
                }
                assertThat(worker.isAlive()).isTrue();
                System.err.printf("ring pressure: %s%n", worker.stats());
            } finally {
                k.abortAll();
                worker.requestStop();
                worker.join(WAIT_MS);
            }
        }
    }
}
