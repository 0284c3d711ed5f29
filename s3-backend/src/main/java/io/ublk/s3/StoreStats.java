package io.ublk.s3;

import java.util.concurrent.atomic.LongAdder;

/**
 * What a store sent and how it went, for metrics. Counters only grow; LongAdders so that
 * completion threads never contend on them.
 */
public final class StoreStats {

    /** The request kinds an {@link S3ObjectStore} sends. */
    public enum Kind {
        GET, PUT, HEAD, DELETE, DELETE_BATCH, LIST, CREATE_MULTIPART, UPLOAD_PART, COMPLETE_MULTIPART, ABORT_MULTIPART
    }

    private final LongAdder[] requests = new LongAdder[Kind.values().length];
    private final LongAdder retries = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();

    public StoreStats() {
        for (int i = 0; i < requests.length; i++) {
            requests[i] = new LongAdder();
        }
    }

    /** Requests of a kind sent, every attempt counted. */
    public long requests(Kind kind) {
        return requests[kind.ordinal()].sum();
    }

    public long totalRequests() {
        long sum = 0;
        for (LongAdder a : requests) {
            sum += a.sum();
        }
        return sum;
    }

    /** Attempts after a first one failed with something retryable. */
    public long retries() {
        return retries.sum();
    }

    /**
     * Operations that failed for good, answers that are part of the contract excluded: a missing
     * object (404) and a lost conditional put (412) are not failures.
     */
    public long failures() {
        return failures.sum();
    }

    /** Object bytes received (GET bodies). */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Object bytes sent (PUT and part bodies, every attempt counted). */
    public long bytesOut() {
        return bytesOut.sum();
    }

    void request(Kind kind) {
        requests[kind.ordinal()].increment();
    }

    void retry() {
        retries.increment();
    }

    void failure() {
        failures.increment();
    }

    void in(long bytes) {
        bytesIn.add(bytes);
    }

    void out(long bytes) {
        bytesOut.add(bytes);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("requests{");
        for (Kind k : Kind.values()) {
            long n = requests(k);
            if (n > 0) {
                sb.append(k.name().toLowerCase()).append('=').append(n).append(' ');
            }
        }
        return sb.append("} retries=").append(retries()).append(" failures=").append(failures())
                .append(" in=").append(bytesIn()).append(" out=").append(bytesOut()).toString();
    }
}
