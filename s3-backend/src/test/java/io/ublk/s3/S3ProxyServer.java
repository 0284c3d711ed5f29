package io.ublk.s3;

import java.net.URI;
import java.util.UUID;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * An in-process s3proxy on 127.0.0.1 (ephemeral port) over an in-memory blob store, with AWS v4
 * signatures checked against a fixed identity. It can be stopped and started again on the same
 * port with the same objects, to play an outage.
 */
final class S3ProxyServer implements AutoCloseable {
    static final String IDENTITY = "test-access-key";
    static final String CREDENTIAL = "test-secret-key";
    static final String BUCKET = "volumes";

    private final BlobStore blobs = new TransientNio2BlobStore();
    private S3Proxy proxy;
    private int port;

    S3ProxyServer() throws Exception {
        blobs.createContainer(BUCKET);
        start(0);
    }

    private void start(int onPort) throws Exception {
        proxy = S3Proxy.builder()
                .blobStore(blobs)
                .endpoint(URI.create("http://127.0.0.1:" + onPort))
                .awsAuthentication(AuthenticationType.AWS_V4, IDENTITY, CREDENTIAL)
                .build();
        proxy.start();
        while (!proxy.getState().equals("STARTED")) {
            Thread.sleep(5);
        }
        port = proxy.getPort();
    }

    void stop() throws Exception {
        proxy.stop();
    }

    /** Starts again on the same port, with the objects it had. */
    void restart() throws Exception {
        start(port);
    }

    /** Multipart uploads begun and neither completed nor aborted, in the whole bucket. */
    int openUploads() {
        return blobs.listMultipartUploads(BUCKET).size();
    }

    int port() {
        return port;
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    static AwsCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(IDENTITY, CREDENTIAL));
    }

    /**
     * A config for a fresh prefix of the bucket at {@code endpoint}: short backoff so failure tests
     * stay fast, 5 MiB parts above 6 MiB so a 12 MiB object goes up in three parts.
     */
    static S3StoreConfig config(URI endpoint) {
        return S3StoreConfig.defaults(BUCKET)
                .withPrefix("t-" + UUID.randomUUID())
                .withEndpoint(endpoint)
                .withMaxConcurrency(16)
                .withRetries(3, java.time.Duration.ofMillis(5), java.time.Duration.ofMillis(20))
                .withApiCallTimeout(java.time.Duration.ofSeconds(10))
                .withMultipart(6L << 20, 5L << 20);
    }

    @Override
    public void close() throws Exception {
        proxy.stop();
    }
}
