package io.ublk.server.buffer;

/**
 * A snapshot of one {@link BouncePool}'s counters. Read from another thread the fields are each
 * current at some recent moment, not all at the same one: good for metrics, not for invariants.
 *
 * @param slotCount slots in the pool (fixed)
 * @param slotSize bytes per slot (fixed)
 * @param acquires slots handed out since creation, at once or through a waiter hand-off
 * @param backpressureWaits requests that found the pool empty and queued; a steady rise means
 *     the pool is too small for the I/O that waits on the store while holding a slot
 * @param inUse slots held right now
 * @param peakInUse the most slots ever held at once
 * @param waiting requests queued for a slot right now
 */
public record BouncePoolStats(
        int slotCount, int slotSize, long acquires, long backpressureWaits, int inUse, int peakInUse, int waiting) {
    /** Total bounce memory of the pool: the hard bound on its RSS. */
    public long poolBytes() {
        return (long) slotCount * slotSize;
    }
}
