package io.ublk.s3;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Full-jitter exponential backoff: after the n-th failed attempt, wait a uniform random time in
 * {@code [0, min(max, base * 2^(n-1))]}. Jitter spreads out clients that failed together (the
 * AWS architecture blog's measurements favour full jitter over equal or decorrelated jitter).
 */
final class Backoff {
    private final long baseNanos;
    private final long maxNanos;
    private final RandomGenerator random;

    Backoff(Duration base, Duration max, RandomGenerator random) {
        this.baseNanos = base.toNanos();
        this.maxNanos = max.toNanos();
        this.random = random;
    }

    /** The wait after {@code failedAttempts} attempts (at least 1) failed, in nanoseconds. */
    long delayNanos(int failedAttempts) {
        return random.nextLong(ceilingNanos(failedAttempts) + 1);
    }

    long ceilingNanos(int failedAttempts) {
        int shift = Math.min(failedAttempts - 1, 62);
        long ceiling = baseNanos << shift;
        return ceiling < 0 || (ceiling >> shift) != baseNanos ? maxNanos : Math.min(maxNanos, ceiling);
    }
}
