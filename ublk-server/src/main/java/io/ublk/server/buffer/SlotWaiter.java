package io.ublk.server.buffer;

/**
 * Told when a request that had to wait for a bounce slot got one. Called on the pool's owner
 * thread, from inside {@link BouncePool#release}; the slot now belongs to the waiter, which
 * releases it when its I/O is done (it may do so from inside this call).
 */
@FunctionalInterface
public interface SlotWaiter {
    /**
     * @param token the token the request queued with
     * @param slot the slot index it now owns
     */
    void slotReady(long token, int slot);
}
