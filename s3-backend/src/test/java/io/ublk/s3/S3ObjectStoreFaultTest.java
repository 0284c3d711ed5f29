package io.ublk.s3;

import static io.ublk.s3.ObjectStoreContractTest.LARGE;
import static io.ublk.s3.ObjectStoreContractTest.await;
import static io.ublk.s3.ObjectStoreContractTest.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ublk.s3.FaultProxy.Fault;
import io.ublk.s3.StoreStats.Kind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retries against a real s3proxy that fails on purpose: behind a {@link FaultProxy} that answers
 * 5xx, hangs or swallows answers, and stopped outright. Three attempts with millisecond backoff.
 */
class S3ObjectStoreFaultTest {
    private static S3ProxyServer server;
    private FaultProxy proxy;
    private S3StoreConfig config;
    private S3ObjectStore store;

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyServer();
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @BeforeEach
    void openStore() throws Exception {
        proxy = new FaultProxy(server.port());
        config = S3ProxyServer.config(proxy.endpoint());
        store = new S3ObjectStore(config, S3ProxyServer.credentials());
    }

    @AfterEach
    void closeStore() throws Exception {
        store.close();
        proxy.close();
    }

    /** A store on the same prefix that talks to s3proxy directly, to set up and check. */
    private S3ObjectStore direct() {
        return new S3ObjectStore(config.withEndpoint(server.endpoint()), S3ProxyServer.credentials());
    }

    @Test
    void slowDownIsRetriedUntilItPasses() {
        proxy.plan(Fault.SLOW_DOWN, 2);
        await(store.put("k", bytes(100, 1)));
        assertThat(store.stats().requests(Kind.PUT)).isEqualTo(3);
        assertThat(store.stats().retries()).isEqualTo(2);
        assertThat(store.stats().failures()).isZero();
        assertThat(await(store.get("k")).data()).isEqualTo(bytes(100, 1));
    }

    @Test
    void serverErrorsFailForGoodAfterMaxAttempts() {
        proxy.plan(Fault.INTERNAL_ERROR, 3);
        assertThatThrownBy(() -> await(store.get("k")))
                .isInstanceOf(StoreException.class)
                .isNotInstanceOf(ObjectNotFoundException.class)
                .hasMessageContaining("after 3 attempts")
                .hasMessageContaining("HTTP 500");
        assertThat(store.stats().requests(Kind.GET)).isEqualTo(3);
        assertThat(store.stats().retries()).isEqualTo(2);
        assertThat(store.stats().failures()).isEqualTo(1);
        assertThat(proxy.connections()).isEqualTo(3);
    }

    @Test
    void partsOfAMultipartUploadAreRetried() {
        proxy.plan(Fault.PASS, 1).plan(Fault.SLOW_DOWN, 2);
        await(store.put("big", bytes(LARGE, 1)));
        assertThat(store.stats().retries()).isEqualTo(2);
        assertThat(await(store.get("big")).data()).isEqualTo(bytes(LARGE, 1));
    }

    @Test
    void aRetriedPutIfAbsentThatWasAppliedIsOurs() {
        proxy.plan(Fault.APPLY_THEN_FAIL, 1);
        String etag = await(store.putIfAbsent("gen/1", bytes(100, 1)));
        assertThat(etag).isEqualTo(Etags.md5Hex(bytes(100, 1)));
        assertThat(store.stats().requests(Kind.PUT)).isEqualTo(2); // the retry met our own object: 412
        assertThat(store.stats().requests(Kind.HEAD)).isEqualTo(1);
        assertThat(await(store.get("gen/1")).data()).isEqualTo(bytes(100, 1));
    }

    @Test
    void aRetriedPutIfAbsentThatLostToAnotherWriterStillLoses() {
        try (S3ObjectStore other = direct()) {
            await(other.put("gen/1", bytes(100, 2)));
        }
        proxy.plan(Fault.SLOW_DOWN, 1);
        assertThatThrownBy(() -> await(store.putIfAbsent("gen/1", bytes(100, 1))))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(store.stats().requests(Kind.HEAD)).isEqualTo(1);
        assertThat(await(store.get("gen/1")).data()).isEqualTo(bytes(100, 2));
    }

    @Test
    void aRetriedPutIfMatchThatWasAppliedIsOurs() {
        String etag;
        try (S3ObjectStore other = direct()) { // not through the proxy: its connection would be reused
            etag = await(other.put("m", bytes(100, 1)));
        }
        proxy.plan(Fault.APPLY_THEN_FAIL, 1);
        assertThat(await(store.putIfMatch("m", bytes(100, 2), etag))).isEqualTo(Etags.md5Hex(bytes(100, 2)));
        assertThat(store.stats().requests(Kind.PUT)).isEqualTo(2);
        assertThat(store.stats().requests(Kind.HEAD)).isEqualTo(1);
    }

    @Test
    void aHangingServerTimesOutAndIsRetried() {
        try (S3ObjectStore impatient = new S3ObjectStore(config.withApiCallTimeout(Duration.ofMillis(300)),
                S3ProxyServer.credentials())) {
            proxy.plan(Fault.HANG, 3);
            assertThatThrownBy(() -> await(impatient.get("k")))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("after 3 attempts");
            assertThat(impatient.stats().retries()).isEqualTo(2);
            assertThatThrownBy(() -> await(impatient.get("k"))).isInstanceOf(ObjectNotFoundException.class);
        }
    }

    @Test
    void closingFailsCallsInFlightRatherThanLeavingThemHanging() throws Exception {
        S3ObjectStore s = new S3ObjectStore(config, S3ProxyServer.credentials());
        proxy.plan(Fault.HANG, 1);
        CompletableFuture<StoredObject> hung = s.get("k");
        Thread.sleep(100);
        s.close();
        assertThatThrownBy(() -> hung.get(5, java.util.concurrent.TimeUnit.SECONDS))
                .hasCauseInstanceOf(StoreException.class);
    }

    @Test
    void callersBeyondMaxConcurrencyQueueAndAllGetThrough() {
        try (S3ObjectStore narrow = new S3ObjectStore(config.withMaxConcurrency(2), S3ProxyServer.credentials())) {
            List<CompletableFuture<String>> puts = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                puts.add(narrow.put("n/" + i, bytes(1000, i)));
            }
            puts.forEach(ObjectStoreContractTest::await);
            assertThat(narrow.stats().requests(Kind.PUT)).isEqualTo(50);
            assertThat(proxy.peakOpenConnections()).isLessThanOrEqualTo(2);
        }
    }

    @Test
    void anOutageFailsAfterMaxAttemptsAndRecoveryHeals() throws Exception {
        try (S3ObjectStore s = direct()) {
            await(s.put("k", bytes(10, 1)));
            server.stop();
            try {
                assertThatThrownBy(() -> await(s.get("k")))
                        .isInstanceOf(StoreException.class)
                        .hasMessageContaining("after 3 attempts");
                assertThat(s.stats().retries()).isEqualTo(2);
                assertThat(s.stats().failures()).isEqualTo(1);
            } finally {
                server.restart();
            }
            assertThat(await(s.get("k")).data()).isEqualTo(bytes(10, 1));
        }
    }
}
