package io.ublk.server.cli;

import io.ublk.s3.LocalObjectStore;
import io.ublk.s3.ObjectStore;
import io.ublk.s3.S3ObjectStore;
import io.ublk.s3.S3StoreConfig;
import java.net.URI;
import java.nio.file.Path;

/** Builds the object stores of s3-backend from checked options (the one place that knows their constructors). */
final class Stores {
    private Stores() {}

    static ObjectStore local(Path root) {
        return new LocalObjectStore(root);
    }

    /**
     * An S3 bucket; credentials from the AWS SDK's default chain (environment, profile, instance
     * role). {@code pathStyle} is taken as given: S3-compatible servers usually need it.
     */
    static ObjectStore s3(String bucket, String prefix, URI endpoint, boolean pathStyle, String region) {
        S3StoreConfig c = S3StoreConfig.defaults(bucket).withPrefix(prefix);
        if (endpoint != null) {
            c = c.withEndpoint(endpoint);
        }
        c = new S3StoreConfig(c.bucket(), c.prefix(), c.endpoint(), pathStyle, region, c.maxConcurrency(),
                c.maxAttempts(), c.baseBackoff(), c.maxBackoff(), c.apiCallTimeout(), c.multipartThreshold(),
                c.partSize());
        return new S3ObjectStore(c);
    }
}
