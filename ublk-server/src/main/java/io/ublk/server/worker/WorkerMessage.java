package io.ublk.server.worker;

/** What other threads send a worker (control path only; the I/O path carries ids, not messages). */
sealed interface WorkerMessage {
    /** Serve this queue: take request ids for its tags and FETCH them. */
    record Attach(ServedQueue queue) implements WorkerMessage {}
}
