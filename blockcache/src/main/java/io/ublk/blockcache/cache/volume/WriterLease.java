package io.ublk.blockcache.cache.volume;

import io.ublk.blockcache.cache.VolumeException;
import io.ublk.blockcache.cache.format.Keys;
import io.ublk.blockcache.cache.format.LeaseRecord;
import io.ublk.s3.ObjectNotFoundException;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.PreconditionFailedException;
import io.ublk.s3.StoredObject;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single-writer rule made explicit: one lease object per volume, written only with
 * conditional PUTs, naming the writer and when its lease ends. The holder renews it while it
 * serves; anyone else may take it only once it has ended, or by breaking it on purpose.
 *
 * <p><b>What it guarantees.</b> The holder acknowledges FLUSH and FUA only while
 * {@link #valid()}: until {@code ttl} after it <em>sent</em> its last renewal that landed, on its
 * own monotonic clock. A renewal that lands changes the object's etag, so a taker's conditional
 * PUT on an older etag fails; a taker that succeeded has therefore seen the holder's last
 * renewal, which was sent before the taker read it.
 * <ul>
 *   <li>A breaker ({@code --takeover}) waits one {@code ttl} after it read the lease it replaced
 *       before it serves, so by then the old holder's validity has ended even if it never heard
 *       of the break (a live one hears it at its next renewal, a 412, and stops at once).
 *   <li>Without breaking, another writer takes a lease only once its wall-clock expiry plus a
 *       quarter of its ttl has passed. <b>Clock assumption:</b> the wall clocks of any two hosts
 *       serving one store differ by less than a quarter of the lease ttl (NTP keeps them within
 *       milliseconds; the default ttl makes that 7.5 s), and monotonic clocks run at the same rate.
 *   <li>A restart with the same cache folder (same writer id) takes its own lease back at once:
 *       the folder lock proves the earlier process is gone.
 * </ul>
 *
 * <p>Renewals run on one shared daemon thread for every lease of the process, asynchronously, one
 * in flight per lease. A renewal whose answer was lost but which landed is recognised by its
 * nonce on the 412 that follows, never taken for another writer's.
 */
public final class WriterLease {
    private static final Logger LOG = LoggerFactory.getLogger(WriterLease.class);
    /** Others wait this fraction of the ttl past the expiry: the bound on clock skew between hosts. */
    private static final int SKEW_DIVISOR = 4;
    /** A failed renewal is retried this soon (but never later than the renewal interval). */
    private static final long RETRY_MILLIS = 1000;
    private static final ScheduledExecutorService KEEPER = keeper();

    /** How a lease is kept. */
    public record Terms(Duration ttl, Duration renewEvery) {
        public static final Duration DEFAULT_TTL = Duration.ofSeconds(30);

        public static Terms defaults() {
            return of(DEFAULT_TTL);
        }

        /** Renewed three times per ttl, so two renewals may fail before the lease lapses. */
        public static Terms of(Duration ttl) {
            return new Terms(ttl, ttl.dividedBy(3));
        }

        public Terms {
            if (ttl == null || ttl.toMillis() < 1000 || ttl.toMillis() > TimeUnit.HOURS.toMillis(1)) {
                throw new IllegalArgumentException("lease ttl must be in [1s, 1h]: " + ttl);
            }
            if (renewEvery == null || renewEvery.toMillis() < 100 || renewEvery.compareTo(ttl.dividedBy(2)) > 0) {
                throw new IllegalArgumentException("lease renewal interval must be in [100ms, ttl/2]: " + renewEvery);
            }
        }
    }

    /** Counters for metrics: renewals, their failures, leases lost. */
    public static final class Stats {
        public final LongAdder renewals = new LongAdder();
        public final LongAdder renewFailures = new LongAdder();
        public final LongAdder lost = new LongAdder();
    }

    private final ObjectStore store;
    private final String key;
    private final String volume;
    private final UUID uuid;
    private final UUID writer;
    private final String holder;
    private final Terms terms;
    private final Stats stats;
    private final LongSupplier nanoClock;
    private String etag;
    /** Monotonic time before which FLUSH may be acknowledged. */
    private volatile long validUntil;
    private volatile String lostReason;
    private volatile boolean closed;
    private boolean inFlight;
    private boolean warnedExpired;

    private WriterLease(ObjectStore store, String volume, UUID uuid, UUID writer, String holder, Terms terms,
            Stats stats) {
        this.store = store;
        this.key = Keys.lease(volume);
        this.volume = volume;
        this.uuid = uuid;
        this.writer = writer;
        this.holder = holder;
        this.terms = terms;
        this.stats = stats;
        this.nanoClock = System::nanoTime;
    }

    /** This process, as a lease names its holder. */
    public static String thisHolder() {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "unknown-host";
        }
        return host + " pid " + ProcessHandle.current().pid();
    }

    /**
     * Takes the volume's lease for {@code writer}, or refuses with a one-line reason naming the
     * holder and its expiry. With {@code takeover}, a live lease of another writer is broken (and
     * the break logged), then this call waits out the old holder's ttl. Renewal starts on success.
     */
    public static WriterLease acquire(ObjectStore store, String volume, UUID uuid, UUID writer, Terms terms,
            boolean takeover, Stats stats) {
        WriterLease l = new WriterLease(store, volume, uuid, writer, thisHolder(), terms, stats);
        l.take(takeover);
        l.schedule(terms.renewEvery().toMillis());
        return l;
    }

    private void take(boolean takeover) {
        for (int attempt = 0; ; attempt++) {
            if (attempt == 8) {
                throw new VolumeException("the lease of volume '" + volume + "' keeps changing: another writer is taking it too");
            }
            StoredObject cur;
            try {
                cur = Volume.await(store.get(key));
            } catch (ObjectNotFoundException e) {
                cur = null;
            }
            long readAt = nanoClock.getAsLong();
            LeaseRecord old = cur == null ? null : LeaseRecord.decode(key, cur.data());
            long waitNanos = 0;
            if (old != null && !old.writer().equals(writer) && !old.released()) {
                long now = System.currentTimeMillis();
                long endsAt = old.expiresMillis() + old.ttlMillis() / SKEW_DIVISOR;
                if (now < endsAt) {
                    if (!takeover) {
                        throw new VolumeException("volume '" + volume + "' is leased to writer " + old.writer() + " ("
                                + old.holder() + ") until " + Instant.ofEpochMilli(old.expiresMillis())
                                + ": another server serves it; stop that one, or start this one with --takeover to break its lease");
                    }
                    waitNanos = TimeUnit.MILLISECONDS.toNanos(old.ttlMillis());
                    LOG.warn("volume '{}': breaking the lease of writer {} ({}), held until {}; that writer's FLUSHes fail "
                            + "from its next renewal on, and this one waits {} ms before serving", volume, old.writer(),
                            old.holder(), Instant.ofEpochMilli(old.expiresMillis()), old.ttlMillis());
                } else {
                    LOG.info("volume '{}': the lease of writer {} ({}) ended at {}; taking it", volume, old.writer(),
                            old.holder(), Instant.ofEpochMilli(old.expiresMillis()));
                }
            }
            if (old != null && !old.uuid().equals(uuid)) {
                LOG.info("volume '{}': the lease names volume {}, not {}: a leftover of an earlier volume, replaced",
                        volume, old.uuid(), uuid);
            }
            long sent = nanoClock.getAsLong();
            long n = ThreadLocalRandom.current().nextLong();
            byte[] body = record(n).encode();
            try {
                etag = Volume.await(cur == null ? store.putIfAbsent(key, body) : store.putIfMatch(key, body, cur.etag()));
            } catch (PreconditionFailedException e) {
                if (!recognise(n)) {
                    continue; // changed under us: look again
                }
            } catch (RuntimeException e) {
                // the answer may be lost while the PUT landed: a look tells
                if (!recogniseQuietly(n)) {
                    throw e;
                }
            }
            held(sent);
            if (waitNanos > 0) {
                sleepUntil(readAt + waitNanos);
                // our own validity counts from our PUT: renew now so serving starts with a full ttl
                renewNow();
            }
            return;
        }
    }

    /** Our PUT sent at {@code sent} landed: the lease holds for one ttl from the send. */
    private void held(long sent) {
        validUntil = sent + terms.ttl().toNanos();
    }

    private LeaseRecord record(long n) {
        return new LeaseRecord(uuid, writer, holder, terms.ttl().toMillis(),
                System.currentTimeMillis() + terms.ttl().toMillis(), n);
    }

    /** After a 412 or a lost answer: is the object there the one we sent (nonce {@code n})? Adopts its etag if so. */
    private boolean recognise(long n) {
        StoredObject now;
        try {
            now = Volume.await(store.get(key));
        } catch (ObjectNotFoundException e) {
            return false;
        }
        LeaseRecord r = LeaseRecord.decode(key, now.data());
        if (r.writer().equals(writer) && r.nonce() == n) {
            etag = now.etag();
            return true;
        }
        return false;
    }

    private boolean recogniseQuietly(long n) {
        try {
            return recognise(n);
        } catch (RuntimeException e) {
            return false;
        }
    }

    private void sleepUntil(long deadline) {
        long left;
        while ((left = deadline - nanoClock.getAsLong()) > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VolumeException("interrupted while waiting out the lease of volume '" + volume + "'");
            }
        }
    }

    /** Whether a FLUSH or FUA may be acknowledged now: the lease is held and has not lapsed. */
    public boolean valid() {
        return lostReason == null && nanoClock.getAsLong() - validUntil < 0;
    }

    /** Why this writer lost the volume for good (another writer took the lease), or null. */
    public String lost() {
        return lostReason;
    }

    public UUID writer() {
        return writer;
    }

    private void schedule(long delayMillis) {
        if (!closed) {
            KEEPER.schedule(this::renewAsync, delayMillis, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * A synchronous renewal (the breaker's, before it serves). Transient failures are retried for
     * one ttl: the breaker waited a whole ttl already, one failed PUT must not waste that wait.
     */
    private void renewNow() {
        long giveUpAt = nanoClock.getAsLong() + terms.ttl().toNanos();
        for (;;) {
            long sent = nanoClock.getAsLong();
            long n = ThreadLocalRandom.current().nextLong();
            RuntimeException failure;
            try {
                etag = Volume.await(store.putIfMatch(key, record(n).encode(), etag));
                held(sent);
                return;
            } catch (PreconditionFailedException e) {
                if (!recognise(n)) {
                    throw new VolumeException("the lease of volume '" + volume + "' was taken by another writer while this one waited");
                }
                held(sent);
                return;
            } catch (RuntimeException e) {
                if (recogniseQuietly(n)) { // the answer was lost, the PUT landed
                    held(sent);
                    return;
                }
                failure = e;
            }
            stats.renewFailures.increment();
            if (nanoClock.getAsLong() - giveUpAt > 0) {
                throw new VolumeException("cannot renew the lease of volume '" + volume + "' after breaking it: " + failure,
                        failure);
            }
            LOG.warn("volume '{}': the renewal after the takeover failed (retrying): {}", volume, failure.toString());
            sleepUntil(nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(Math.min(RETRY_MILLIS, terms.renewEvery().toMillis())));
        }
    }

    private synchronized void renewAsync() {
        if (closed || lostReason != null || inFlight) {
            return;
        }
        inFlight = true;
        long sent = nanoClock.getAsLong();
        long n = ThreadLocalRandom.current().nextLong();
        CompletableFuture<String> put;
        try {
            put = store.putIfMatch(key, record(n).encode(), etag);
        } catch (Throwable e) {
            // a store client that throws instead of failing its future: a failed renewal all the same,
            // retried (an uncaught throw here would end renewals for good)
            put = CompletableFuture.failedFuture(e);
        }
        // handled on the keeper's thread: a 412 needs a GET, which must not block the store's own threads
        put.whenCompleteAsync((tag, ex) -> renewed(sent, n, tag, ex), KEEPER);
    }

    private synchronized void renewed(long sent, long n, String tag, Throwable ex) {
        inFlight = false;
        if (closed) {
            return;
        }
        Throwable cause = ex == null ? null : Volume.unwrap(ex);
        boolean ours = cause == null;
        if (!ours) {
            // 412: someone else's PUT, or ours whose earlier answer was lost; other failures: it may have landed
            ours = recogniseQuietly(n);
        } else {
            etag = tag;
        }
        if (ours) {
            held(sent);
            stats.renewals.increment();
            if (warnedExpired) {
                warnedExpired = false;
                LOG.info("volume '{}': lease renewed again; FLUSH is acknowledged again", volume);
            }
            schedule(terms.renewEvery().toMillis());
            return;
        }
        if (cause instanceof PreconditionFailedException) {
            lose("another writer took its lease");
            return;
        }
        stats.renewFailures.increment();
        if (!valid() && !warnedExpired) {
            warnedExpired = true;
            LOG.error("volume '{}': cannot renew the writer lease ({}); it has lapsed, so FLUSH and FUA answer EIO "
                    + "until a renewal lands", volume, cause.toString());
        } else {
            LOG.warn("volume '{}': lease renewal failed (retrying): {}", volume, cause.toString());
        }
        schedule(Math.min(RETRY_MILLIS, terms.renewEvery().toMillis()));
    }

    private void lose(String why) {
        String who = "";
        try {
            LeaseRecord r = LeaseRecord.decode(key, Volume.await(store.get(key)).data());
            who = " (writer " + r.writer() + ", " + r.holder() + ")";
        } catch (RuntimeException e) {
            // naming the new holder is best effort
        }
        lostReason = "volume '" + volume + "': " + why + who + "; this writer stopped acknowledging FLUSH and FUA";
        stats.lost.increment();
        LOG.error(lostReason);
    }

    /** Stops renewing and, if still held, releases the lease so the next writer need not wait it out. */
    public void release() {
        synchronized (this) {
            closed = true;
        }
        if (lostReason != null || etag == null) {
            return;
        }
        LeaseRecord released = new LeaseRecord(uuid, writer, holder, terms.ttl().toMillis(), 0, ThreadLocalRandom.current().nextLong());
        try {
            Volume.await(store.putIfMatch(key, released.encode(), etag));
        } catch (RuntimeException e) {
            LOG.warn("volume '{}': cannot release the writer lease (it ends on its own at its expiry): {}", volume,
                    e.toString());
        }
    }

    /** Stops renewing without releasing: what a crash leaves (tests). */
    public void abandon() {
        synchronized (this) {
            closed = true;
        }
    }

    private static ScheduledExecutorService keeper() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "lease-keeper");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        return e;
    }
}
