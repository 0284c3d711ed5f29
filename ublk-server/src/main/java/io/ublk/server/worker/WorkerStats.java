package io.ublk.server.worker;

import io.ublk.server.buffer.BouncePoolStats;

/** A worker's counters at one moment. {@code pool} is null before the worker started. */
public record WorkerStats(int index, int cpu, int queues, int tags, long requests, long inlineAnswers,
        long lateAnswers, long errors, BouncePoolStats pool) {}
