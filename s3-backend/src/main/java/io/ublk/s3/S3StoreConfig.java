package io.ublk.s3;

import java.net.URI;
import java.time.Duration;

/**
 * Where an {@link S3ObjectStore} keeps objects and how hard it tries.
 *
 * @param bucket             the bucket
 * @param prefix             prepended to every key as {@code prefix/key}; empty for none
 * @param endpoint           an S3-compatible endpoint (MinIO, s3proxy); {@code null} for AWS. No
 *                           user-info, query or fragment: the SDK signs with its credentials
 *                           provider, never the URL's, and refusing them keeps secrets out of
 *                           every message this store builds
 * @param pathStyle          {@code http://host/bucket/key} instead of {@code http://bucket.host/key}
 * @param region             {@code null}: the SDK's region chain, or {@code us-east-1} when an
 *                           endpoint is given (most S3-compatible servers ignore it)
 * @param maxConcurrency     requests in flight at most; callers beyond it queue, first come first served
 * @param maxAttempts        tries per request, the first included; retried on 5xx, 408, 429,
 *                           timeouts and connection errors only
 * @param baseBackoff        the backoff ceiling after the first failure; it doubles per attempt
 * @param maxBackoff         the backoff ceiling never grows past this
 * @param apiCallTimeout     one attempt's limit, end to end (the SDK retries nothing itself)
 * @param multipartThreshold objects larger than this go up as a multipart upload
 * @param partSize           bytes per part (the last is shorter); S3 wants at least 5 MiB
 */
public record S3StoreConfig(String bucket, String prefix, URI endpoint, boolean pathStyle, String region,
        int maxConcurrency, int maxAttempts, Duration baseBackoff, Duration maxBackoff, Duration apiCallTimeout,
        long multipartThreshold, long partSize) {

    /** S3's smallest part (except the last). */
    public static final long MIN_PART_SIZE = 5L << 20;
    /** S3's most parts per upload. */
    static final int MAX_PARTS = 10_000;

    public S3StoreConfig {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("bucket cannot be empty: '" + bucket + "'");
        }
        prefix = prefix == null ? "" : stripSlashes(prefix);
        if (endpoint != null) {
            require(!hasUserInfo(endpoint), "endpoint must not carry credentials: " + redact(endpoint)
                    + " (the AWS SDK takes them from the environment or a profile)");
            require(endpoint.getRawQuery() == null && endpoint.getRawFragment() == null,
                    "endpoint must not have a query or fragment: " + redact(endpoint));
        }
        require(maxConcurrency >= 1, "maxConcurrency must be at least 1: " + maxConcurrency);
        require(maxAttempts >= 1, "maxAttempts must be at least 1: " + maxAttempts);
        require(positive(baseBackoff), "baseBackoff must be positive: " + baseBackoff);
        require(positive(maxBackoff) && maxBackoff.compareTo(baseBackoff) >= 0,
                "maxBackoff must be at least baseBackoff (" + baseBackoff + "): " + maxBackoff);
        require(positive(apiCallTimeout), "apiCallTimeout must be positive: " + apiCallTimeout);
        require(partSize >= MIN_PART_SIZE, "partSize must be at least 5 MiB (S3's smallest part): " + partSize);
        require(partSize <= Integer.MAX_VALUE, "partSize must fit a byte array: " + partSize);
        require(multipartThreshold >= partSize,
                "multipartThreshold must be at least partSize (" + partSize + "): " + multipartThreshold);
    }

    /**
     * AWS defaults for a bucket: 64 requests in flight (S3 takes thousands per prefix; the bound
     * is for our sockets and memory), 6 attempts with 50 ms..5 s backoff (rides out S3's 503 SlowDown bursts,
     * which last seconds), 30 s per attempt (a 16 MiB part at ~1 MB/s), and 16 MiB parts above
     * 64 MiB (fewer, larger requests are cheaper; most volume objects are single puts).
     */
    public static S3StoreConfig defaults(String bucket) {
        return new S3StoreConfig(bucket, "", null, false, null, 64, 6, Duration.ofMillis(50), Duration.ofSeconds(5),
                Duration.ofSeconds(30), 64L << 20, 16L << 20);
    }

    public S3StoreConfig withPrefix(String newPrefix) {
        return new S3StoreConfig(bucket, newPrefix, endpoint, pathStyle, region, maxConcurrency, maxAttempts,
                baseBackoff, maxBackoff, apiCallTimeout, multipartThreshold, partSize);
    }

    /** An S3-compatible server: path-style addressing, the given region or {@code us-east-1}. */
    public S3StoreConfig withEndpoint(URI newEndpoint) {
        return new S3StoreConfig(bucket, prefix, newEndpoint, true, region, maxConcurrency, maxAttempts,
                baseBackoff, maxBackoff, apiCallTimeout, multipartThreshold, partSize);
    }

    public S3StoreConfig withRetries(int newMaxAttempts, Duration newBaseBackoff, Duration newMaxBackoff) {
        return new S3StoreConfig(bucket, prefix, endpoint, pathStyle, region, maxConcurrency, newMaxAttempts,
                newBaseBackoff, newMaxBackoff, apiCallTimeout, multipartThreshold, partSize);
    }

    public S3StoreConfig withMaxConcurrency(int newMaxConcurrency) {
        return new S3StoreConfig(bucket, prefix, endpoint, pathStyle, region, newMaxConcurrency, maxAttempts,
                baseBackoff, maxBackoff, apiCallTimeout, multipartThreshold, partSize);
    }

    public S3StoreConfig withApiCallTimeout(Duration newApiCallTimeout) {
        return new S3StoreConfig(bucket, prefix, endpoint, pathStyle, region, maxConcurrency, maxAttempts,
                baseBackoff, maxBackoff, newApiCallTimeout, multipartThreshold, partSize);
    }

    public S3StoreConfig withMultipart(long newThreshold, long newPartSize) {
        return new S3StoreConfig(bucket, prefix, endpoint, pathStyle, region, maxConcurrency, maxAttempts,
                baseBackoff, maxBackoff, apiCallTimeout, newThreshold, newPartSize);
    }

    /** The object key of a store key. */
    String objectKey(String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
    }

    /** The store key of an object key listed under {@link #prefix}. */
    String storeKey(String objectKey) {
        return prefix.isEmpty() ? objectKey : objectKey.substring(prefix.length() + 1);
    }

    /** The region to sign with, or {@code null} to let the SDK find one. */
    String effectiveRegion() {
        return region != null ? region : endpoint != null ? "us-east-1" : null;
    }

    /** {@code s3://bucket/prefix}, for messages. */
    String describe() {
        // redact finds nothing to hide in an endpoint the constructor took; it guards later changes
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix)
                + (endpoint == null ? "" : " at " + redact(endpoint));
    }

    /**
     * {@code uri} for messages and logs: user-info, query and fragment become {@code ***} (any of
     * them may hold a secret), e.g. {@code http://***@host:9000}; an opaque URI is its scheme only.
     */
    public static String redact(URI uri) {
        if (uri == null) {
            return "null";
        }
        if (uri.isOpaque()) {
            return uri.getScheme() + ":***";
        }
        StringBuilder sb = new StringBuilder();
        if (uri.getScheme() != null) {
            sb.append(uri.getScheme()).append(':');
        }
        String authority = uri.getRawAuthority();
        if (authority != null) {
            int at = authority.lastIndexOf('@');
            sb.append("//").append(at < 0 ? authority : "***@" + authority.substring(at + 1));
        }
        if (uri.getRawPath() != null) {
            sb.append(uri.getRawPath());
        }
        if (uri.getRawQuery() != null) {
            sb.append("?***");
        }
        if (uri.getRawFragment() != null) {
            sb.append("#***");
        }
        return sb.toString();
    }

    /** Also for an authority URI could not parse into host and port (getUserInfo is null then). */
    private static boolean hasUserInfo(URI uri) {
        return uri.getRawAuthority() != null && uri.getRawAuthority().indexOf('@') >= 0;
    }

    private static String stripSlashes(String p) {
        int from = 0;
        int to = p.length();
        while (from < to && p.charAt(from) == '/') {
            from++;
        }
        while (to > from && p.charAt(to - 1) == '/') {
            to--;
        }
        return p.substring(from, to);
    }

    private static boolean positive(Duration d) {
        return d != null && !d.isNegative() && !d.isZero();
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
