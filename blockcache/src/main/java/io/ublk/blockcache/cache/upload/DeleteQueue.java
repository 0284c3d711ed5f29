package io.ublk.blockcache.cache.upload;

import io.ublk.blockcache.cache.CacheStats;
import io.ublk.blockcache.cache.volume.Volume;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Objects no generation names anymore, deleted once a grace period has passed, so a read that
 * looked up an old location just before keeps working. A segment's in-process id is released
 * for reuse at the same moment, for the same reason. Uploader thread only.
 */
final class DeleteQueue {
    private static final Logger LOG = LoggerFactory.getLogger(DeleteQueue.class);
    /** Keys per delete call, at most: what one S3 DeleteObjects request takes. */
    private static final int MAX_KEYS = 1000;

    /** {@code segment}: the id to release when the grace period ends, 0 for none. */
    private record Doomed(String key, long since, int segment) {}

    private final ArrayDeque<Doomed> doomed = new ArrayDeque<>();
    private final Volume volume;
    private final long graceNanos;
    private final CacheStats stats;

    DeleteQueue(Volume volume, Duration grace, CacheStats stats) {
        this.volume = volume;
        this.graceNanos = grace.toNanos();
        this.stats = stats;
    }

    /** Deletes {@code key} once the grace period has passed. */
    void add(String key) {
        add(key, 0);
    }

    /** Deletes a retired segment's {@code key} and releases its {@code id} once the grace period has passed. */
    void add(String key, int id) {
        doomed.add(new Doomed(key, System.nanoTime(), id));
    }

    private boolean due() {
        return !doomed.isEmpty() && System.nanoTime() - doomed.peek().since() >= graceNanos;
    }

    /** Deletes objects whose grace period ended; failures are retried on a later turn. */
    void deleteDue() {
        if (!due()) {
            return; // the common turn: nothing to do, nothing allocated
        }
        List<String> keys = new ArrayList<>();
        while (due() && keys.size() < MAX_KEYS) {
            Doomed d = doomed.poll();
            keys.add(d.key());
            if (d.segment() != 0) {
                // the grace is over whether or not the delete works: no reader resolves the id any more
                volume.index.release(d.segment());
            }
        }
        try {
            Volume.await(volume.store().deleteAll(keys));
            stats.deletedObjects.add(keys.size());
        } catch (RuntimeException e) {
            LOG.warn("volume '{}': cannot delete {} dead objects yet: {}", volume.name, keys.size(), e.toString());
            long now = System.nanoTime();
            keys.forEach(k -> doomed.add(new Doomed(k, now, 0)));
        }
    }
}
