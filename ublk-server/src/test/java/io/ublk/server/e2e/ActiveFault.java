package io.ublk.server.e2e;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link Fault} in force: which requests it still takes, and the heal its held requests wait for. */
final class ActiveFault {
    private final Fault fault;
    private final AtomicInteger left;
    private final CountDownLatch healed = new CountDownLatch(1);

    ActiveFault(Fault fault) {
        this.fault = fault;
        this.left = new AtomicInteger(fault.count());
    }

    Fault fault() {
        return fault;
    }

    /** Whether the request with this subject gets the fault (a counted fault uses one up). */
    boolean takes(String subject) {
        if (healed.getCount() == 0 || !fault.matches(subject)) {
            return false;
        }
        if (fault.count() < 0) {
            return true;
        }
        return left.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
    }

    void heal() {
        healed.countDown();
    }

    /** Waits for {@link #heal}; false if {@code max} passed first. */
    boolean awaitHeal(Duration max) throws InterruptedException {
        return healed.await(max.toNanos(), TimeUnit.NANOSECONDS);
    }
}
