package io.ublk.server.e2e;

import java.time.Duration;

/**
 * What {@link FaultProxy} does to the requests one fault matches, until it is healed: a request
 * matches when its subject (the decoded request target; for a multi-object delete, also its
 * body, which names the keys) contains {@code fragment}, e.g. a volume's {@code "name/"}. Other
 * requests pass through untouched.
 *
 * @param kind     what happens to a matching request
 * @param fragment the part of the subject that selects the requests
 * @param count    how many matching requests get the fault before it passes them again; -1 for
 *                 every one until healed
 * @param delay    {@link Kind#DELAY}: how much later a matching request is forwarded
 * @param onHeal   {@link Kind#BLACKHOLE}: what happens to the requests held when it heals
 */
record Fault(Kind kind, String fragment, int count, Duration delay, OnHeal onHeal) {
    enum Kind {
        /** Answered 503 with an S3 {@code SlowDown} error body; never reaches the store. */
        UNAVAILABLE,
        /** The connection is reset (SO_LINGER 0 close) once the request is read; never reaches the store. */
        RESET,
        /** Forwarded {@link #delay} late. */
        DELAY,
        /** Held without an answer until healed. */
        BLACKHOLE
    }

    /** What a blackhole does with the requests it holds when it heals. */
    enum OnHeal {
        /** Sends them on to the store (late delivery: the client may have given up on them by then). */
        FORWARD,
        /** Resets their connections; they never reach the store. */
        RESET
    }

    Fault {
        if (fragment == null || fragment.isEmpty()) {
            throw new IllegalArgumentException("a fault needs a non-empty fragment to match");
        }
        if (count == 0 || count < -1) {
            throw new IllegalArgumentException("count must be positive or -1 (until healed): " + count);
        }
    }

    /** Every matching request answered 503 SlowDown until healed. */
    static Fault unavailable(String fragment) {
        return new Fault(Kind.UNAVAILABLE, fragment, -1, Duration.ZERO, OnHeal.FORWARD);
    }

    /** The next {@code n} matching requests answered 503 SlowDown (a burst), later ones passed. */
    static Fault unavailable(String fragment, int n) {
        return new Fault(Kind.UNAVAILABLE, fragment, n, Duration.ZERO, OnHeal.FORWARD);
    }

    /** Every matching request's connection reset until healed. */
    static Fault reset(String fragment) {
        return new Fault(Kind.RESET, fragment, -1, Duration.ZERO, OnHeal.FORWARD);
    }

    /** Every matching request forwarded {@code delay} late until healed. */
    static Fault delay(String fragment, Duration delay) {
        if (delay.isNegative() || delay.isZero()) {
            throw new IllegalArgumentException("delay must be positive: " + delay);
        }
        return new Fault(Kind.DELAY, fragment, -1, delay, OnHeal.FORWARD);
    }

    /** Every matching request held without an answer until healed, then handled as {@code onHeal} says. */
    static Fault blackhole(String fragment, OnHeal onHeal) {
        return new Fault(Kind.BLACKHOLE, fragment, -1, Duration.ZERO, onHeal);
    }

    boolean matches(String subject) {
        return subject.contains(fragment);
    }

    @Override
    public String toString() {
        return kind + " of '" + fragment + "'" + (count > 0 ? " x" + count : "")
                + (kind == Kind.DELAY ? " by " + delay.toMillis() + " ms" : "")
                + (kind == Kind.BLACKHOLE ? " (" + onHeal + " on heal)" : "");
    }
}
