package io.ublk.server.cli;

import io.ublk.s3.ObjectStore;
import java.net.URI;
import java.nio.file.Path;

/** Builds the object stores of s3-backend from checked options (the one place that knows their constructors). */
final class Stores {
    private Stores() {}

    static ObjectStore local(Path root) {
        throw new UnsupportedOperationException("the local store is not built yet");
    }

    static ObjectStore s3(String bucket, String prefix, URI endpoint, boolean pathStyle, String region) {
        throw new UnsupportedOperationException("the S3 store is not built yet");
    }
}
