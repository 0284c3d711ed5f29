package io.ublk.server.worker;

import io.ublk.server.buffer.BouncePoolStats;

/**
 * A worker's counters at one moment. {@code pool} is null before the worker started.
 *
 * @param targetErrors target calls that threw (each request answered EIO)
 * @param lateAnswersDropped late answers no request could take (a bad or stale tag, a detached queue)
 */
public record WorkerStats(int index, int cpu, int queues, int tags, long requests, long inlineAnswers,
        long lateAnswers, long errors, long targetErrors, long lateAnswersDropped, BouncePoolStats pool) {}
