package io.ublk.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.headers.UblkIoCmd;
import io.ublk.headers.UblkIoOp;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Worker#leave} on the host (the driver replaced by {@link HostKernel}): a leaving worker
 * serves no new request, commits what its targets answer within the drain, then closes its ring and
 * exits; with a target that does not answer in time it exits anyway and says so.
 */
class WorkerLeaveTest {
    private static final int DEPTH = 4;
    private static final int LEN = 4096;
    private static final long WAIT_MS = 5_000;

    @TempDir
    Path dir;
    private Worker worker;
    private HostKernel kernel;
    private final WorkerTest.FaultyTarget target = new WorkerTest.FaultyTarget();

    @BeforeEach
    void attach() throws Exception {
        kernel = new HostKernel(DEPTH, dir);
        worker = new Worker(0, -1, new WorkerConfig(LEN, 4, 64, 64), kernel);
        worker.start().get(WAIT_MS, TimeUnit.MILLISECONDS);
        kernel.bind(worker);
        CompletableFuture<Void> fetched = new CompletableFuture<>();
        worker.attach(7, 0, DEPTH, kernel.cdevFd, kernel.descriptors(), target, fetched, new CompletableFuture<>());
        fetched.get(WAIT_MS, TimeUnit.MILLISECONDS);
        for (int tag = 0; tag < DEPTH; tag++) {
            assertThat(kernel.next(WAIT_MS)).isEqualTo(new HostKernel.Command(tag, UblkIoCmd.FETCH_REQ, 0));
        }
    }

    @AfterEach
    void stop() throws Exception {
        worker.requestStop(); // after a leave: harmless (the thread is gone, its eventfd closed)
        worker.join(WAIT_MS);
        assertThat(worker.isAlive()).isFalse();
        kernel.close();
    }

    @Test
    void aLeavingWorkerCommitsWhatItsTargetAnswersHoldsNewRequestsAndClosesItsRing() throws Exception {
        target.flushLater = true;
        kernel.request(0, UblkIoOp.OP_FLUSH, 0, 0);
        long pending = target.pendingTag.poll(WAIT_MS, TimeUnit.MILLISECONDS);

        CompletableFuture<Boolean> left = worker.leave(Duration.ofSeconds(30));
        long callsBefore = target.calls.get();
        kernel.request(1, UblkIoOp.OP_READ, 0, LEN >> 9); // arrives while leaving: held for the next server
        assertThat(kernel.next(300)).as("no command for the held request").isNull();
        assertThat(target.calls.get()).as("the held request never reaches the target").isEqualTo(callsBefore);
        assertThat(left).as("still draining the flush at the target").isNotDone();

        worker.complete(pending, 0);
        assertThat(kernel.next(WAIT_MS)).isEqualTo(new HostKernel.Command(0, UblkIoCmd.COMMIT_AND_FETCH_REQ, 0));
        assertThat(left.get(WAIT_MS, TimeUnit.MILLISECONDS)).as("drained: nothing left at a target").isTrue();
        worker.join(WAIT_MS);
        assertThat(worker.hasLeft()).isTrue();
        assertThat(worker.stats().requests()).as("only the flush was served").isEqualTo(1);
    }

    @Test
    void aTargetThatDoesNotAnswerWithinTheDrainDoesNotKeepTheWorker() throws Exception {
        target.flushLater = true;
        kernel.request(2, UblkIoOp.OP_FLUSH, 0, 0);
        long pending = target.pendingTag.poll(WAIT_MS, TimeUnit.MILLISECONDS);

        CompletableFuture<Boolean> left = worker.leave(Duration.ofMillis(200));
        assertThat(left.get(WAIT_MS, TimeUnit.MILLISECONDS)).as("the flush was still at the target").isFalse();
        worker.join(WAIT_MS);
        assertThat(worker.hasLeft()).isTrue();
        worker.complete(pending, 0); // a late answer after the worker is gone: dropped, nothing thrown
        assertThat(kernel.next(200)).isNull();
    }

    @Test
    void aQueueAttachedAfterTheLeaveIsRefusedAtOnce() throws Exception {
        worker.leave(Duration.ofSeconds(5)).get(WAIT_MS, TimeUnit.MILLISECONDS);
        int before = worker.load();
        worker.addLoad(DEPTH); // as WorkerPool.place does
        CompletableFuture<Void> fetched = new CompletableFuture<>();
        worker.attach(8, 0, DEPTH, kernel.cdevFd, kernel.descriptors(), target, fetched, new CompletableFuture<>());
        assertThat(fetched).isCompletedExceptionally();
        assertThat(worker.load()).as("the refused queue's tags are not counted").isEqualTo(before);
    }
}
