package io.ublk.blockcache;

/** Receives the late answer of a {@link BlockTarget} operation that returned {@code PENDING}. */
@FunctionalInterface
public interface Completion {
    /**
     * @param tag the tag the operation was called with
     * @param result bytes done, 0, or {@code -errno}
     */
    void complete(long tag, int result);
}
