package io.ublk.blockcache.cache;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The one timer thread of every cached volume in the process: it fails writes that waited for
 * room longer than {@code --io-timeout}. Not the uploader's thread: that one may itself be stuck
 * in a store call, which is exactly when writes wait.
 */
final class IoTimeouts {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(IoTimeouts.class);
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "cache-io-timeouts");
        t.setDaemon(true);
        return t;
    });

    private IoTimeouts() {
    }

    /** Checks {@code throttle} a few times per timeout (at least once a second) until cancelled. */
    static ScheduledFuture<?> watch(WriteThrottle throttle, long timeoutNanos) {
        long every = Math.clamp(timeoutNanos / 4, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
        return TIMER.scheduleWithFixedDelay(() -> {
            try {
                throttle.expire(System.nanoTime(), timeoutNanos);
            } catch (RuntimeException e) {
                // a periodic task that throws is never run again: say it, and keep watching
                LOG.error("io timeout check failed", e);
            }
        }, every, every, TimeUnit.NANOSECONDS);
    }
}
