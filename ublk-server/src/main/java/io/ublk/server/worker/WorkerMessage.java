package io.ublk.server.worker;

import java.util.concurrent.CompletableFuture;

/** What other threads send a worker (control path only; the I/O path carries ids, not messages). */
sealed interface WorkerMessage {
    /** Serve this queue: take request ids for its tags and FETCH them. */
    record Attach(ServedQueue queue) implements WorkerMessage {}

    /** Stop touching this queue's fd and descriptors; {@code done} completes once that holds. */
    record Detach(int devId, int qid, CompletableFuture<Void> done) implements WorkerMessage {}
}
