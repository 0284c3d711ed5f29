package io.ublk.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The contract against a real s3proxy, plus what only S3 has: parts, batches, prefixes, auth. */
class S3ObjectStoreTest extends ObjectStoreContractTest {
    private static S3ProxyServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyServer();
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @Override
    protected ObjectStore newStore() {
        return new S3ObjectStore(S3ProxyServer.config(server.endpoint()), S3ProxyServer.credentials());
    }

    private StoreStats stats() {
        return ((S3ObjectStore) store).stats();
    }

    @Test
    void largeObjectGoesUpInParts() {
        await(store.put("big", bytes(LARGE, 1)));
        assertThat(stats().requests(StoreStats.Kind.CREATE_MULTIPART)).isEqualTo(1);
        assertThat(stats().requests(StoreStats.Kind.UPLOAD_PART)).isEqualTo(3);
        assertThat(stats().requests(StoreStats.Kind.COMPLETE_MULTIPART)).isEqualTo(1);
        assertThat(stats().requests(StoreStats.Kind.PUT)).isZero();
        assertThat(stats().bytesOut()).isEqualTo(LARGE);
    }

    @Test
    void multipartEtagIsTheOneS3Computes() {
        String etag = await(store.put("big", bytes(LARGE, 1)));
        assertThat(etag).isEqualTo(Etags.multipart(bytes(LARGE, 1), 5L << 20)).endsWith("-3");
        assertThat(await(store.get("big")).etag()).isEqualTo(etag);
    }

    @Test
    void aLostConditionalMultipartPutAbortsItsUpload() {
        int before = server.openUploads();
        await(store.putIfAbsent("big", bytes(LARGE, 1)));
        assertThatThrownBy(() -> await(store.putIfAbsent("big", bytes(LARGE, 2))))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(stats().requests(StoreStats.Kind.ABORT_MULTIPART)).isEqualTo(1);
        assertThat(server.openUploads()).isEqualTo(before);
    }

    @Test
    void deleteAllGoesInBatches() {
        try (S3ObjectStore small = new S3ObjectStore(S3ProxyServer.config(server.endpoint()), S3ProxyServer.credentials(), 10)) {
            List<String> keys = putMany(small, 25);
            await(small.deleteAll(keys));
            assertThat(small.stats().requests(StoreStats.Kind.DELETE_BATCH)).isEqualTo(3);
            assertThat(await(small.listAll(""))).isEmpty();
        }
    }

    @Test
    void deleteAllOfMoreThanAThousandKeys() {
        List<String> keys = putMany((S3ObjectStore) store, 1001);
        await(store.deleteAll(keys));
        assertThat(stats().requests(StoreStats.Kind.DELETE_BATCH)).isEqualTo(2);
        assertThat(await(store.listAll(""))).isEmpty();
    }

    private static List<String> putMany(S3ObjectStore s, int n) {
        List<String> keys = new ArrayList<>();
        List<CompletableFuture<String>> puts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add("many/" + i);
            puts.add(s.put("many/" + i, new byte[] {(byte) i}));
        }
        puts.forEach(ObjectStoreContractTest::await);
        return keys;
    }

    @Test
    void storesWithOtherPrefixesDoNotSeeEachOther() {
        try (S3ObjectStore other = new S3ObjectStore(S3ProxyServer.config(server.endpoint()), S3ProxyServer.credentials())) {
            await(store.put("k", bytes(1, 1)));
            await(other.put("k", bytes(1, 2)));
            assertThat(await(store.get("k")).data()).isEqualTo(bytes(1, 1));
            assertThat(keys(await(other.listAll("")))).containsExactly("k");
        }
    }

    @Test
    void wrongSecretIsRefusedWithoutRetrying() {
        var wrong = StaticCredentialsProvider.create(AwsBasicCredentials.create(S3ProxyServer.IDENTITY, "not-the-secret"));
        // A GET: a PUT's body may still be on the wire when s3proxy answers 403 and closes the
        // connection, and a reset connection is rightly retried.
        try (S3ObjectStore denied = new S3ObjectStore(S3ProxyServer.config(server.endpoint()), wrong)) {
            assertThatThrownBy(() -> await(denied.get("k")))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("403")
                    .hasMessageContaining("1 attempt");
            assertThat(denied.stats().requests(StoreStats.Kind.GET)).isEqualTo(1);
            assertThat(denied.stats().retries()).isZero();
            assertThat(denied.stats().failures()).isEqualTo(1);
        }
    }

    @Test
    void missingBucketIsAStoreErrorNotAMissingObject() {
        S3StoreConfig config = S3ProxyServer.config(server.endpoint());
        S3StoreConfig noBucket = new S3StoreConfig("no-such-bucket", config.prefix(), config.endpoint(), true, null,
                4, 3, config.baseBackoff(), config.maxBackoff(), config.apiCallTimeout(),
                config.multipartThreshold(), config.partSize());
        try (S3ObjectStore s = new S3ObjectStore(noBucket, S3ProxyServer.credentials())) {
            assertThatThrownBy(() -> await(s.get("k")))
                    .isInstanceOf(StoreException.class)
                    .isNotInstanceOf(ObjectNotFoundException.class)
                    .hasMessageContaining("NoSuchBucket");
        }
    }

    /**
     * s3proxy 4.1.0 (transient blob store) lists in UTF-16 order, not S3's UTF-8 binary order:
     * the emoji comes before U+FF21. Pinned so that a fixed s3proxy shows up here; the store
     * passes S3's order through as it gets it.
     */
    @Test
    @Override
    void listIsInUtf8BinaryOrder() {
        for (String k : NON_ASCII_KEYS.reversed()) {
            await(store.put(k, bytes(1, 0)));
        }
        assertThat(keys(await(store.listAll("u/"))))
                .containsExactly("u/a", "u/b", "u/\u00e9", "u/\ud83d\ude00", "u/\uff21");
    }

    @Test
    void describeNamesBucketAndPrefix() {
        assertThat(store.describe()).startsWith("s3://volumes/t-").contains(server.endpoint().toString());
    }
}
