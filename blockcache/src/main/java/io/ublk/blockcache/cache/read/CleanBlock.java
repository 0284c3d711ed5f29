package io.ublk.blockcache.cache.read;

import io.ublk.blockcache.cache.dirty.BlockArrays;
import io.ublk.blockcache.cache.dirty.ReadGuard;

/**
 * A whole block as the store holds it at {@code location}; a reader uses it only while the index
 * still says so. A {@code reused} array came from {@link BlockArrays} (it was a dirty version's)
 * and goes back there when evicted: read it only inside a {@link ReadGuard}.
 */
public record CleanBlock(long location, byte[] data, boolean reused) {
    /** A copy that stays valid outside a read guard. */
    public CleanBlock detached() {
        return reused ? new CleanBlock(location, data.clone(), false) : this;
    }
}
