package io.ublk.server.ring;

/** Receives completions from {@link IoUring#drain}; called on the ring's owner thread. */
@FunctionalInterface
public interface CompletionHandler {
    /**
     * @param userData the submission's user_data
     * @param res the result: bytes, a value, or {@code -errno}
     * @param flags the CQE flags (e.g. {@code IoUringRing.CQE_F_MORE})
     */
    void onCompletion(long userData, int res, int flags);
}
